//! Passwords (OWASP ASVS 2.1, 2.4): argon2id with m = 19 MiB, t = 2, p = 1;
//! 12 to 128 characters, no composition rules, and not one that is common.
//!
//! "Common" is decided by zxcvbn's shipped dictionaries: a password that is,
//! as a whole, an entry of its common-password list (also reversed, in
//! capitals or with l33t substitutions), or that zxcvbn rates as guessable
//! within a million tries (a repeated character, a keyboard walk), is refused.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have (ASVS asks that at least 64 work).
pub const MAX_CHARS: usize = 128;

/// Why a password is refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable code.
    pub code: &'static str,
    /// What to do instead.
    pub message: &'static str,
}

fn hasher() -> Argon2<'static> {
    // 19 MiB, 2 passes, 1 lane: OWASP's password storage minimum for argon2id.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a proposed password against the policy; `context` holds words
/// the password must not simply be (the username, the display name).
pub fn check(password: &str, context: &[&str]) -> Result<(), Refusal> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Refusal {
            code: "password-too-short",
            message: "Use at least 12 characters; a few unrelated words make a good password",
        });
    }
    if chars > MAX_CHARS {
        return Err(Refusal {
            code: "password-too-long",
            message: "Use at most 128 characters",
        });
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    let whole_common_word = match estimate.sequence() {
        [only] => matches!(
            &only.pattern,
            zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
                if format!("{:?}", d.dictionary_name) == "Passwords"
                    || format!("{:?}", d.dictionary_name) == "UserInputs"
        ),
        _ => false,
    };
    if whole_common_word {
        return Err(Refusal {
            code: "password-common",
            message: "That password is on a list of commonly used passwords; choose another",
        });
    }
    if u8::from(estimate.score()) < 2 {
        return Err(Refusal {
            code: "password-guessable",
            message: "That password would be guessed quickly (repeats, sequences or keyboard patterns); choose another",
        });
    }
    Ok(())
}

/// Hashes a password for storage (slow on purpose: run off the async threads).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches a stored hash. A malformed hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of no one's password, checked when the username is unknown so that
/// an unknown name takes as long to refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that no account has").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_common_and_guessable_passwords_are_refused_and_long_ones_allowed() {
        assert_eq!(
            check("short", &[]).map_err(|r| r.code),
            Err("password-too-short")
        );
        assert_eq!(
            check("password1234", &[]).map_err(|r| r.code),
            Err("password-common")
        );
        assert_eq!(
            check("aaaaaaaaaaaaaaaa", &[]).map_err(|r| r.code),
            Err("password-guessable")
        );
        assert_eq!(
            check("qwertyuiopasdfgh", &[]).map_err(|r| r.code),
            Err("password-guessable")
        );
        assert_eq!(
            check("morgan.jones.parks", &["morgan.jones.parks"]).map_err(|r| r.code),
            Err("password-common")
        );
        assert!(check("heron lantern quarry violet", &[]).is_ok());
        let long = "correct horse battery staple ".repeat(4);
        assert!(long.chars().count() >= 64 && check(&long, &[]).is_ok());
        assert_eq!(
            check(&"x1".repeat(65), &[]).map_err(|r| r.code),
            Err("password-too-long")
        );
    }

    #[test]
    fn hashes_are_argon2id_at_the_owasp_minimum_and_verify() {
        let stored = hash("heron lantern quarry violet").expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("heron lantern quarry violet", &stored));
        assert!(!verify("heron lantern quarry violeT", &stored));
        assert!(!verify("anything", "not a hash"));
    }
}

//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps,
//! six digits), which every authenticator app speaks, and recovery codes.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding (what `otpauth://` URIs carry).
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case-insensitive, padding and spaces ignored).
pub fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let value = ALPHABET
            .iter()
            .position(|a| char::from(*a) == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// A new 160-bit secret, base32.
pub fn new_secret() -> String {
    let mut secret = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    base32(&secret)
}

/// The HOTP value (RFC 4226) of `key` at `counter`, to `digits` digits.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key) else {
        return u32::MAX; // HMAC takes keys of any length; never reached
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The step a Unix time falls in.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// Checks a six-digit code against a base32 secret at `unix_seconds`,
/// allowing one step of clock drift either way; returns the step it
/// belongs to (to refuse its reuse).
pub fn verify(secret: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = code.parse().ok()?;
    let key = unbase32(secret)?;
    let now = step_of(unix_seconds);
    (now - 1..=now + 1)
        .filter(|step| *step >= 0)
        .find(|step| hotp(&key, *step as u64, DIGITS) == value)
}

/// The code for a secret at a time (for tests and for the CLI's check).
pub fn code_at(secret: &str, unix_seconds: i64) -> Option<String> {
    let key = unbase32(secret)?;
    Some(format!(
        "{:06}",
        hotp(&key, step_of(unix_seconds) as u64, DIGITS)
    ))
}

/// The `otpauth://` URI an authenticator app reads (usually as a QR code).
pub fn uri(secret: &str, username: &str) -> String {
    let label: String =
        form_urlencoded::byte_serialize(format!("safetymap:{username}").as_bytes()).collect();
    format!(
        "otpauth://totp/{label}?secret={secret}&issuer=safetymap&algorithm=SHA1&digits=6&period=30"
    )
}

/// Ten one-time recovery codes of 80 random bits each, as `xxxx-xxxx-xxxx-xxxx`.
pub fn recovery_codes() -> Vec<String> {
    (0..10)
        .map(|_| {
            let mut bytes = [0u8; 10];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let text = base32(&bytes).to_lowercase();
            text.as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

/// A recovery code as typed, normalised to how it was issued.
pub fn normalise_recovery_code(typed: &str) -> String {
    let plain: String = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    plain
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, SHA1 key "12345678901234567890", eight digits.
        let key = b"12345678901234567890";
        for (time, expected) in [
            (59_u64, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(key, time / 30, 8), expected, "at {time}");
        }
    }

    #[test]
    fn a_code_verifies_within_one_step_of_drift_and_not_beyond() {
        let secret = base32(b"12345678901234567890");
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            unbase32(&secret).as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        let code = code_at(&secret, 1_000_000).expect("code");
        assert_eq!(verify(&secret, &code, 1_000_000), Some(step_of(1_000_000)));
        assert!(verify(&secret, &code, 1_000_000 + 30).is_some());
        assert!(verify(&secret, &code, 1_000_000 + 90).is_none());
        assert!(verify(&secret, "12345", 1_000_000).is_none());
    }

    #[test]
    fn recovery_codes_are_distinct_and_normalise_as_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert!(codes.iter().all(|c| c.len() == 19));
        assert_eq!(
            normalise_recovery_code(&codes[0].to_uppercase().replace('-', " ")),
            codes[0]
        );
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
    }
}

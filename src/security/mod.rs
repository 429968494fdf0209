//! Credentials: password hashing and policy, TOTP second factors, and the
//! random secrets sessions, CSRF and recovery codes are made of.

pub mod password;
pub mod totp;

use rand::RngCore;

/// `bytes` random bytes from the operating system, as lower-case hex.
pub fn random_hex(bytes: usize) -> String {
    let mut secret = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    hex::encode(secret)
}

/// Compares two secrets in time that depends neither on where they differ
/// nor on their lengths (their digests are compared, byte by byte, to the
/// end).
pub fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

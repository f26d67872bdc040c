//! Backup and emailed codes: how they are drawn, written and matched.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::identity::IdentityError;

/// Backup codes issued at once.
pub(super) const BACKUP_CODES: usize = 10;

/// 32 symbols (5 bits each), without the look-alikes 0/o and 1/l.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Symbols per backup code: 12 × 5 = 60 bits.
const BACKUP_CODE_SYMBOLS: usize = 12;

/// A new backup code, `xxxx-xxxx-xxxx`.
pub(super) fn new_backup_code() -> Result<String, IdentityError> {
    let mut bytes = Zeroizing::new([0u8; BACKUP_CODE_SYMBOLS]);
    fill(bytes.as_mut())?;
    let symbols: Vec<char> = bytes
        .iter()
        // 256 is a multiple of 32: every symbol equally likely.
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    Ok(symbols
        .chunks(4)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A backup code as typed, in the form it was hashed in: lower case, without the
/// separators and spaces people add or drop.
pub(super) fn normalize_backup_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Six random digits, uniformly drawn.
pub(super) fn new_email_code() -> Result<String, IdentityError> {
    // The largest multiple of 10^6 below 2^32: values above it would favour low codes.
    const LIMIT: u32 = u32::MAX - u32::MAX % 1_000_000;
    loop {
        let mut bytes = [0u8; 4];
        fill(&mut bytes)?;
        let value = u32::from_le_bytes(bytes);
        if value < LIMIT {
            return Ok(format!("{:06}", value % 1_000_000));
        }
    }
}

/// The one of `stored` equal to `candidate`, comparing every entry in constant time.
pub(super) fn find_hash<'s>(stored: &'s [String], candidate: &str) -> Option<&'s String> {
    let mut found = None;
    for hash in stored {
        if bool::from(hash.as_bytes().ct_eq(candidate.as_bytes())) {
            found = Some(hash);
        }
    }
    found
}

fn fill(bytes: &mut [u8]) -> Result<(), IdentityError> {
    getrandom::fill(bytes).map_err(|e| IdentityError::Internal(format!("randomness: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_codes_carry_sixty_bits_and_survive_retyping() {
        let code = new_backup_code().expect("code");
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(ALPHABET.len(), 32);
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(normalize_backup_code(&typed), code.replace('-', ""));
        assert_ne!(new_backup_code().expect("code"), code);
    }

    #[test]
    fn email_codes_are_six_digits() {
        for _ in 0..100 {
            let code = new_email_code().expect("code");
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
        }
    }

    #[test]
    fn find_hash_finds_only_equal_entries() {
        let stored = vec!["aa".to_owned(), "bb".to_owned()];
        assert_eq!(find_hash(&stored, "bb"), Some(&stored[1]));
        assert_eq!(find_hash(&stored, "cc"), None);
        assert_eq!(find_hash(&stored, "b"), None);
    }
}

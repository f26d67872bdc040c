//! New passwords, checked the way NIST SP 800-63B-4 asks: a minimum length counted in
//! characters, a generous maximum, a blocklist of common and breached passwords, and no
//! composition rules (no "one digit and one symbol"), which only push people to
//! predictable patterns.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

/// 19,640 common passwords, lowercase, one a line; where it comes from: `data/README.md`.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| COMMON_PASSWORDS.lines().collect());

/// How long a new password must and may be.
///
/// NIST SP 800-63B-4 asks for at least 15 characters when a password is the only factor
/// and allows 8 when it is used with a second factor. MFA is optional in tenantbase at
/// first, so 12 is our default: far stronger than 8 against guessing, while still short
/// enough that people type it rather than reusing a shorter one. A deployment that
/// enforces MFA may lower it and one without MFA may raise it to 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode code points after NFC) accepted. Default 12.
    pub min_chars: usize,
    /// Most characters accepted; NIST asks verifiers to allow at least 64. Default 128.
    pub max_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: 12,
            max_chars: 128,
        }
    }
}

/// Why a new password is refused; the messages read as 422 field errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("is too common")]
    TooCommon,
    /// NIST 800-63B-4 also names repetitive and sequential strings; the bundled list
    /// mostly holds short passwords, so this catches `aaaaaaaaaaaa`, `abcabcabcabc` and
    /// `abcdefghijkl`-style ones of any length.
    #[error("is too predictable (repeated or sequential characters)")]
    TooPredictable,
    #[error("must not be your email address")]
    SameAsEmail,
    #[error("must not be the part of your email address before the @")]
    SameAsEmailName,
}

/// A new password that passed the policy, in NFC. The text is zeroed when dropped and shown
/// by neither `Debug` nor `Display`; [`Password::expose`] is the one way to read it.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Applies `policy` to a password being set: NFC-normalises it, counts its length in
    /// code points (never truncating), and refuses common passwords and the account's own
    /// email address or its local part, compared case-insensitively.
    pub fn new(
        raw: &str,
        email: Option<&str>,
        policy: &PasswordPolicy,
    ) -> Result<Self, PasswordError> {
        // Composition joins at most four code points into one and a code point is at most
        // four bytes, so anything longer cannot pass: refuse it before normalising it.
        if raw.len() > policy.max_chars.saturating_mul(16) {
            return Err(PasswordError::TooLong {
                max: policy.max_chars,
            });
        }
        let password = normalize(raw);
        let chars = password.chars().count();
        if chars < policy.min_chars {
            return Err(PasswordError::TooShort {
                min: policy.min_chars,
            });
        }
        if chars > policy.max_chars {
            return Err(PasswordError::TooLong {
                max: policy.max_chars,
            });
        }
        let folded = fold(&password);
        if let Some(email) = email {
            check_not_email(&folded, &fold(&normalize(email.trim())))?;
        }
        if is_common(&folded) {
            return Err(PasswordError::TooCommon);
        }
        if is_predictable(&folded) {
            return Err(PasswordError::TooPredictable);
        }
        Ok(Self(SecretString::from(password)))
    }

    /// The password text, for the hasher and nothing else.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Fewer than four different characters, or one straight run up or down the code
/// points (`abcdef…`, `987654…`).
fn is_predictable(folded: &str) -> bool {
    let chars: Vec<char> = folded.chars().collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return true;
    }
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])))
        .collect();
    steps.iter().all(|&d| d == 1) || steps.iter().all(|&d| d == -1)
}

/// The one normal form passwords are stored and compared in: Unicode NFC, so the same
/// password typed on keyboards that compose differently (`é` as one code point or as `e`
/// plus an accent) is the same password. Use it wherever a password is hashed or verified.
pub fn normalize(raw: &str) -> String {
    raw.nfc().collect()
}

/// The case-insensitive form of NFC text, itself in NFC (lowercasing a few letters yields
/// sequences that compose), which is how the bundled list is spelled.
fn fold(normalized: &str) -> String {
    normalize(&normalized.to_lowercase())
}

/// Whether the bundled list holds `folded`, a [`fold`]ed password.
fn is_common(folded: &str) -> bool {
    COMMON.contains(folded)
}

/// Both arguments are [`fold`]ed.
fn check_not_email(folded: &str, email: &str) -> Result<(), PasswordError> {
    if email.is_empty() {
        return Ok(());
    }
    if folded == email {
        return Err(PasswordError::SameAsEmail);
    }
    match email.rsplit_once('@') {
        Some((local, _)) if !local.is_empty() && folded == local => {
            Err(PasswordError::SameAsEmailName)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod predictable_tests {
    use super::*;

    #[test]
    fn repeated_and_sequential_passwords_are_refused() {
        let policy = PasswordPolicy::default();
        for weak in [
            "aaaaaaaaaaaa",
            "abababababab",
            "abcabcabcabc",
            "abcdefghijklm",
            "zyxwvutsrqpo",
            "AAAAaaaaAAAA",
        ] {
            assert_eq!(
                Password::new(weak, None, &policy).err(),
                Some(PasswordError::TooPredictable),
                "{weak}"
            );
        }
        for fine in [
            "correct horse battery staple",
            "abcdefghijkm",
            "zzzz1111yyyx",
        ] {
            assert!(Password::new(fine, None, &policy).is_ok(), "{fine}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str) -> Result<Password, PasswordError> {
        Password::new(
            raw,
            Some("Jane.Doe.Example@Example.com"),
            &PasswordPolicy::default(),
        )
    }

    #[test]
    fn the_bundled_list_is_large_lowercase_normalised_and_unique() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 10_000, "{} entries", lines.len());
        assert_eq!(COMMON.len(), lines.len(), "duplicates in the list");
        for line in lines {
            assert!(!line.is_empty());
            assert_eq!(line, fold(line), "{line:?}");
        }
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        // Each is in the bundled list (lowercased) and long enough to reach the list check.
        for raw in [
            "password1234",
            "qwertyuiop12",
            "QwertyUiop123",
            "1q2w3e4r5t6y",
        ] {
            assert_eq!(
                check(raw).map(|_| ()),
                Err(PasswordError::TooCommon),
                "{raw}"
            );
        }
    }

    #[test]
    fn length_is_counted_in_code_points_after_nfc() {
        let policy = PasswordPolicy::default();
        let emoji = "🦀🔐🌍🎉🐙🚀🌈🍕🎲🧩🪐🦉";
        assert_eq!(emoji.chars().count(), 12);
        assert!(emoji.len() > 12 * 3);
        assert_eq!(
            Password::new(emoji, None, &policy).map(|p| p.expose().to_owned()),
            Ok(emoji.to_owned())
        );
        assert_eq!(
            Password::new(&emoji[..emoji.len() - 4], None, &policy).map(|_| ()),
            Err(PasswordError::TooShort { min: 12 })
        );
        // Eleven `é`s typed decomposed are 22 code points raw but 11 characters: too short.
        let decomposed = "e\u{301}".repeat(11);
        assert_eq!(
            Password::new(&decomposed, None, &policy).map(|_| ()),
            Err(PasswordError::TooShort { min: 12 })
        );
    }

    #[test]
    fn composed_and_decomposed_spellings_give_the_same_password() {
        let policy = PasswordPolicy::default();
        let composed = Password::new("caf\u{e9} au lait ok", None, &policy).expect("valid");
        let decomposed = Password::new("cafe\u{301} au lait ok", None, &policy).expect("valid");
        assert_eq!(composed.expose(), decomposed.expose());
        assert_eq!(composed.expose(), "caf\u{e9} au lait ok");
    }

    #[test]
    fn bounds_are_inclusive_and_nothing_is_truncated() {
        let policy = PasswordPolicy {
            min_chars: 12,
            max_chars: 20,
        };
        let at = |n: usize| Password::new(&"xk7!".repeat(5)[..n], None, &policy);
        assert_eq!(at(11).map(|_| ()), Err(PasswordError::TooShort { min: 12 }));
        assert_eq!(at(12).map(|p| p.expose().len()), Ok(12));
        assert_eq!(at(20).map(|p| p.expose().len()), Ok(20));
        let long = "xk7!".repeat(6);
        assert_eq!(
            Password::new(&long[..21], None, &policy).map(|_| ()),
            Err(PasswordError::TooLong { max: 20 })
        );
        assert_eq!(
            Password::new(&"a".repeat(10_000), None, &policy).map(|_| ()),
            Err(PasswordError::TooLong { max: 20 })
        );
    }

    #[test]
    fn the_email_and_its_local_part_are_refused_case_insensitively() {
        assert_eq!(
            check(" jane.doe.example@example.COM").map(|_| ()),
            Ok(()),
            "a leading space makes it a different password: nothing is trimmed"
        );
        assert_eq!(
            check("JANE.DOE.EXAMPLE@EXAMPLE.COM").map(|_| ()),
            Err(PasswordError::SameAsEmail)
        );
        assert_eq!(
            check("jane.DOE.example").map(|_| ()),
            Err(PasswordError::SameAsEmailName)
        );
        assert!(check("jane.doe.example!").is_ok());
        assert!(Password::new("jane.doe.example", Some(""), &PasswordPolicy::default()).is_ok());
    }

    #[test]
    fn debug_hides_the_text() {
        let password = check("correct horse battery staple").expect("valid");
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    /// Property: any password accepted is already normal (NFC), within the bounds, and
    /// accepted again unchanged.
    #[test]
    fn accepted_passwords_are_normal_bounded_and_stable() {
        let policy = PasswordPolicy::default();
        let mut rng = fastrand::Rng::with_seed(0x9a55_0d0d);
        let alphabet: Vec<char> = "aB3 !é\u{301}e\u{1100}\u{1161}🦀ß".chars().collect();
        let mut accepted = 0;
        for _ in 0..5_000 {
            let len = rng.usize(0..40);
            let raw: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let Ok(password) = Password::new(&raw, None, &policy) else {
                continue;
            };
            accepted += 1;
            let text = password.expose();
            assert_eq!(text, normalize(&raw));
            let chars = text.chars().count();
            assert!((policy.min_chars..=policy.max_chars).contains(&chars));
            let again = Password::new(text, None, &policy).expect("accepted again");
            assert_eq!(again.expose(), text);
        }
        assert!(accepted > 1_000, "only {accepted} accepted");
    }
}

//! Email addresses as accounts use them: parsed once at the edge into one canonical
//! spelling, so that uniqueness and look-ups compare like with like.

use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;

/// The longest address SMTP can carry (RFC 5321's 256-octet path minus the angle brackets).
pub const MAX_LEN: usize = 254;

/// Why a string is not an acceptable email address; the messages read as 422 field errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_LEN} characters")]
    TooLong,
    #[error("must not contain spaces or control characters")]
    InvalidCharacter,
    #[error("must contain exactly one @")]
    NotOneAt,
    #[error("must have a name before the @")]
    EmptyLocalPart,
    #[error("must have a domain like example.com after the @")]
    InvalidDomain,
}

/// A syntactically sane email address in canonical form: trimmed, NFC-normalised and
/// lowercased as a whole.
///
/// Lowercasing the local part too is a deliberate choice: RFC 5321 lets a server treat
/// `Jane@` and `jane@` as different mailboxes, but virtually none do, and one person
/// signing up twice under two capitalisations (or being impersonated that way) is the real
/// risk. So two addresses that differ only in case are the same account, and the unique
/// index can compare the stored text directly. Mail is still delivered fine, since servers
/// treat the local part case-insensitively in practice.
///
/// Only the shape is checked — whether the mailbox exists is for a verification email.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Parses user input into the canonical form, or says what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        // NFC before lowercasing, so composed and decomposed spellings of a non-ASCII
        // address end up as one string, and again after, since lowercasing a few letters
        // yields sequences that compose.
        let lowered = raw.trim().nfc().collect::<String>().to_lowercase();
        let address: String = lowered.nfc().collect();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        // SMTP limits are in octets; for the usual ASCII address that is characters.
        if address.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::InvalidCharacter);
        }
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::NotOneAt);
        };
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        // A dot and no empty labels: rules out `a@localhost`, `a@.com`, `a@b..c`, `a@b.`.
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(EmailError::InvalidDomain);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, domain)| domain)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl FromStr for Email {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_is_trimmed_and_lowercased() {
        let email = Email::parse("  Jane.Doe+Tag@Example.COM\n").expect("valid");
        assert_eq!(email.as_str(), "jane.doe+tag@example.com");
        assert_eq!(email.to_string(), "jane.doe+tag@example.com");
        assert_eq!(email.local_part(), "jane.doe+tag");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn composed_and_decomposed_spellings_are_one_address() {
        let composed = Email::parse("Ren\u{e9}@example.fr").expect("valid");
        let decomposed = Email::parse("RENE\u{301}@example.fr").expect("valid");
        assert_eq!(composed, decomposed);
        assert_eq!(composed.as_str(), "ren\u{e9}@example.fr");
    }

    #[test]
    fn rejects_each_broken_shape_with_its_reason() {
        let long_local = "a".repeat(MAX_LEN - "@example.com".len() + 1);
        for (raw, expected) in [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("jane doe@example.com", EmailError::InvalidCharacter),
            ("jane@exa\tmple.com", EmailError::InvalidCharacter),
            ("jane\u{0}@example.com", EmailError::InvalidCharacter),
            ("jane\u{a0}x@example.com", EmailError::InvalidCharacter),
            ("jane.example.com", EmailError::NotOneAt),
            ("jane@doe@example.com", EmailError::NotOneAt),
            ("@example.com", EmailError::EmptyLocalPart),
            ("jane@", EmailError::InvalidDomain),
            ("jane@localhost", EmailError::InvalidDomain),
            ("jane@.example.com", EmailError::InvalidDomain),
            ("jane@example..com", EmailError::InvalidDomain),
            ("jane@example.com.", EmailError::InvalidDomain),
            (&format!("{long_local}@example.com"), EmailError::TooLong),
        ] {
            assert_eq!(Email::parse(raw), Err(expected), "{raw:?}");
        }
    }

    #[test]
    fn the_longest_allowed_address_is_accepted() {
        let local = "a".repeat(MAX_LEN - "@example.com".len());
        let raw = format!("{local}@example.com");
        assert_eq!(raw.len(), MAX_LEN);
        assert_eq!(Email::parse(&raw).map(|e| e.as_str().len()), Ok(MAX_LEN));
    }

    /// Property: whatever the input, a parsed address is already canonical (parsing it
    /// again changes nothing) and has the shape the type promises.
    #[test]
    fn parsing_is_idempotent_and_keeps_its_promises() {
        let mut rng = fastrand::Rng::with_seed(0x5eed_e4a1);
        let alphabet: Vec<char> = "aZ9.+-_@ \tÉé\u{301}ß\u{0}".chars().collect();
        let mut accepted = 0;
        let mut piece = |max: usize| -> String {
            let len = rng.usize(0..max);
            (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect()
        };
        for _ in 0..20_000 {
            // Shaped like `x@y.z` with noise in every piece, so both sides of each rule
            // are exercised.
            let raw = format!("{}@{}.{}", piece(12), piece(8), piece(5));
            let Ok(email) = Email::parse(&raw) else {
                continue;
            };
            accepted += 1;
            let text = email.as_str();
            assert_eq!(Email::parse(text).as_ref(), Ok(&email), "{raw:?}");
            assert_eq!(text, text.to_lowercase());
            assert_eq!(text.matches('@').count(), 1);
            assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
            assert!(!email.local_part().is_empty() && email.domain().contains('.'));
        }
        assert!(accepted > 100, "the generator hardly ever made an address");
    }

    #[test]
    fn serde_uses_the_canonical_string_and_parses_on_the_way_in() {
        let email = Email::parse("Jane@Example.com").expect("valid");
        assert_eq!(
            serde_json::to_string(&email).expect("serializes"),
            "\"jane@example.com\""
        );
        let back: Email = serde_json::from_str("\" JANE@example.com \"").expect("parses");
        assert_eq!(back, email);
        let error = serde_json::from_str::<Email>("\"not-an-email\"").expect_err("rejected");
        assert!(error.to_string().contains("exactly one @"), "{error}");
    }
}

//! Typed ids: a UUIDv7 inside, a prefixed string (`org_…`) outside, so an id of one kind
//! cannot be passed where another belongs, neither in Rust nor through the API.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseIdError {
    #[error("expected an id starting with `{expected}_`")]
    WrongPrefix { expected: &'static str },
    #[error("the part after `{prefix}_` is not a valid id")]
    Malformed { prefix: &'static str },
}

/// Defines a typed id: a newtype over a UUID whose text form is `{prefix}_{32 hex digits}`.
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// The text before the underscore in this id's string form.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id of an existing row, as stored in the database.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", Self::PREFIX, self.0.simple())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_prefixed(s, Self::PREFIX).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

fn parse_prefixed(s: &str, prefix: &'static str) -> Result<Uuid, ParseIdError> {
    let body = s
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .ok_or(ParseIdError::WrongPrefix { expected: prefix })?;
    // Only the canonical 32-hex-digit form: one id has exactly one spelling.
    if body.len() != 32
        || !body
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(ParseIdError::Malformed { prefix });
    }
    Uuid::try_parse(body).map_err(|_| ParseIdError::Malformed { prefix })
}

typed_id!(
    /// An organization: the tenant that owns data.
    OrgId,
    "org"
);

typed_id!(
    /// An entry of the event log (the audit chain).
    EventId,
    "evt"
);

typed_id!(
    /// A background job.
    JobId,
    "job"
);

typed_id!(
    /// A user: a global identity, member of any number of orgs.
    UserId,
    "usr"
);

typed_id!(
    /// A sign-in session of a user on one device.
    SessionId,
    "ses"
);

typed_id!(
    /// A project: the first org-owned resource.
    ProjectId,
    "prj"
);

typed_id!(
    /// A stored file of one org; also names a presigned upload that becomes the file.
    FileId,
    "fil"
);

typed_id!(
    /// A role of one org, built-in or custom.
    RoleId,
    "rol"
);

typed_id!(
    /// A team: a group of an org's members that roles can be granted to.
    TeamId,
    "team"
);

typed_id!(
    /// An invitation to join an org.
    InvitationId,
    "inv"
);

typed_id!(
    /// An API key of an org.
    ApiKeyId,
    "key"
);

typed_id!(
    /// A passkey (WebAuthn credential) of a user.
    PasskeyId,
    "pk"
);

typed_id!(
    /// A device a user trusted to skip the second factor at sign-in.
    TrustedDeviceId,
    "tdv"
);

typed_id!(
    /// An identity at an OpenID provider, linked to a user.
    IdentityId,
    "idn"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let id = OrgId::new();
        let text = id.to_string();
        assert!(text.starts_with("org_"));
        assert_eq!(text.len(), 4 + 32);
        assert_eq!(text.parse::<OrgId>(), Ok(id));
    }

    #[test]
    fn rejects_other_prefixes_and_malformed_bodies() {
        let body = Uuid::now_v7().simple().to_string();
        assert_eq!(
            format!("usr_{body}").parse::<OrgId>(),
            Err(ParseIdError::WrongPrefix { expected: "org" })
        );
        assert_eq!(
            format!("org{body}").parse::<OrgId>(),
            Err(ParseIdError::WrongPrefix { expected: "org" })
        );
        for bad in [
            "org_".to_string(),
            format!("org_{}", &body[..31]),
            format!("org_{body}0"),
            format!("org_{}", body.to_uppercase()),
            format!("org_{}", Uuid::now_v7().hyphenated()),
            "org_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".to_string(),
        ] {
            assert_eq!(
                bad.parse::<OrgId>(),
                Err(ParseIdError::Malformed { prefix: "org" }),
                "{bad}"
            );
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let id = OrgId::new();
        let json = serde_json::to_string(&id).expect("serializes");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<OrgId>(&json).expect("parses"), id);
        assert!(serde_json::from_str::<OrgId>("\"prj_0\"").is_err());
    }

    #[test]
    fn ids_are_time_ordered() {
        let first = OrgId::new();
        let second = OrgId::new();
        assert!(first < second);
    }
}

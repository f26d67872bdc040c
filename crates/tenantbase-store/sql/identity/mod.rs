//! The identity statements: accounts, sessions, single-use tokens, second factors, signing
//! keys, profiles and OpenID Connect identities. Their unit-of-work parts are implemented
//! for the platform unit.

pub(crate) mod mfa;
pub(crate) mod oidc;
pub(crate) mod passkeys;
pub(crate) mod profiles;
pub(crate) mod retention;
pub(crate) mod sessions;
pub(crate) mod signing_keys;
pub(crate) mod user_tokens;
pub(crate) mod users;

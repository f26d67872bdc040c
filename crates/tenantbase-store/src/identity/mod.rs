//! Who people are and how they prove it: accounts, sessions and their refresh tokens,
//! single-use tokens, second factors, token signing keys, profiles, and identities at
//! OpenID providers. None of it belongs to one org.

pub mod mfa;
pub mod oidc;
pub mod passkeys;
pub mod profiles;
pub mod retention;
pub mod sessions;
pub mod signing_keys;
pub mod user_tokens;
pub mod users;

pub use mfa::{MfaStore, MfaUnit};
pub use oidc::{OidcStore, OidcUnit};
pub use passkeys::{PasskeyStore, PasskeysUnit};
pub use profiles::ProfileStore;
pub use retention::AuthRetentionStore;
pub use sessions::{SessionStore, SessionsUnit};
pub use signing_keys::{SigningKeyStore, SigningKeysUnit};
pub use user_tokens::{UserTokenStore, UserTokensUnit};
pub use users::{UserStore, UsersUnit};

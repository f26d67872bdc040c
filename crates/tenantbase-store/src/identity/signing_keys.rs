//! Token signing keys: added and retired inside a unit of work (`SigningKeysUnit`), all
//! of them read outside one (`SigningKeyStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::model::SigningKeyRow;

use crate::StoreResult;

/// Signing keys' part of a unit of work.
#[async_trait]
pub trait SigningKeysUnit: Send {
    async fn insert_signing_key(&mut self, key: SigningKeyRow) -> StoreResult<()>;

    async fn retire_signing_key(&mut self, kid: &str, now: DateTime<Utc>) -> StoreResult<()>;
}

#[async_trait]
pub trait SigningKeyStore: Send + Sync {
    /// Every key, oldest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>>;
}

/// The columns of `signing_keys`, in `SigningKeySqlRow`'s order.
pub const SIGNING_KEY_COLUMNS: &str =
    "kid, public_key, encrypted_private_key, created_at, retired_at";

/// A row of `signing_keys`.
#[derive(Debug, sqlx::FromRow)]
pub struct SigningKeySqlRow {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub encrypted_private_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

impl From<SigningKeySqlRow> for SigningKeyRow {
    fn from(row: SigningKeySqlRow) -> Self {
        Self {
            kid: row.kid,
            public_key: row.public_key,
            encrypted_private_key: row.encrypted_private_key,
            created_at: row.created_at,
            retired_at: row.retired_at,
        }
    }
}

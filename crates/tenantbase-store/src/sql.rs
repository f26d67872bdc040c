//! SQL that both dialects accept as written, so each statement exists once.

pub mod settings {
    pub const GET: &str = "SELECT key, value, updated_at FROM settings WHERE key = $1";
    pub const PUT: &str = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    /// `RETURNING` tells whether a row went; callers read it to completion (`fetch_all`),
    /// since SQLite only checkpoints its WAL after a statement finishes.
    pub const DELETE: &str = "DELETE FROM settings WHERE key = $1 RETURNING key";
}

/// A row of the settings table, decoded the same way on both backends.
#[derive(Debug, sqlx::FromRow)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl TryFrom<SettingRow> for crate::Setting {
    type Error = crate::StoreError;

    fn try_from(row: SettingRow) -> Result<Self, Self::Error> {
        let value = serde_json::from_str(&row.value)
            .map_err(|e| crate::StoreError::Corrupt(format!("setting {}: {e}", row.key)))?;
        Ok(crate::Setting {
            key: row.key,
            value,
            updated_at: row.updated_at,
        })
    }
}

/// The settings statements over any backend whose types encode the same way.
pub mod run {
    use chrono::{DateTime, Utc};
    use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

    use super::{SettingRow, settings};
    use crate::{Setting, StoreError, StoreResult};

    pub async fn get_setting<'e, DB, E>(db: E, key: &str) -> StoreResult<Option<Setting>>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'r> SettingRow: FromRow<'r, DB::Row>,
    {
        let row: Option<SettingRow> = sqlx::query_as(settings::GET)
            .bind(key)
            .fetch_optional(db)
            .await?;
        row.map(Setting::try_from).transpose()
    }

    pub async fn put_setting<'e, DB, E>(
        db: E,
        key: &str,
        value: &serde_json::Value,
    ) -> StoreResult<Setting>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    {
        let updated_at = Utc::now();
        sqlx::query(settings::PUT)
            .bind(key)
            .bind(value.to_string())
            .bind(updated_at)
            .execute(db)
            .await?;
        Ok(Setting {
            key: key.to_owned(),
            value: value.clone(),
            updated_at,
        })
    }

    pub async fn delete_setting<'e, DB, E>(db: E, key: &str) -> StoreResult<()>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        let deleted: Vec<(String,)> = sqlx::query_as(settings::DELETE)
            .bind(key)
            .fetch_all(db)
            .await?;
        if deleted.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

/// A row of `events`.
#[derive(Debug, sqlx::FromRow)]
pub struct EventRow {
    pub id: uuid::Uuid,
    pub chain: String,
    pub seq: i64,
    pub org_id: Option<uuid::Uuid>,
    pub event_type: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub payload: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl From<EventRow> for crate::events::Event {
    fn from(row: EventRow) -> Self {
        Self {
            id: tenantbase_domain::EventId::from_uuid(row.id),
            chain: row.chain,
            seq: row.seq,
            org_id: row.org_id.map(tenantbase_domain::OrgId::from_uuid),
            event_type: row.event_type,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            target_kind: row.target_kind,
            target_id: row.target_id,
            ip: row.ip,
            user_agent: row.user_agent,
            request_id: row.request_id,
            payload: row.payload,
            occurred_at: row.occurred_at,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// A row of `audit_chains`.
#[derive(Debug, sqlx::FromRow)]
pub struct ChainHeadRow {
    pub chain: String,
    pub head_seq: i64,
    pub head_hash: String,
    pub anchor_seq: i64,
    pub anchor_hash: String,
}

impl From<ChainHeadRow> for crate::events::ChainHead {
    fn from(row: ChainHeadRow) -> Self {
        Self {
            chain: row.chain,
            head_seq: row.head_seq,
            head_hash: row.head_hash,
            anchor_seq: row.anchor_seq,
            anchor_hash: row.anchor_hash,
        }
    }
}

/// A row of `jobs`.
#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: chrono::DateTime<chrono::Utc>,
    pub unique_key: Option<String>,
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TryFrom<JobRow> for crate::jobs::Job {
    type Error = crate::StoreError;

    fn try_from(row: JobRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: tenantbase_domain::JobId::from_uuid(row.id),
            payload: parse_payload(&row.payload)?,
            state: row.state.parse().map_err(crate::StoreError::Corrupt)?,
            kind: row.kind,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            unique_key: row.unique_key,
            last_error: row.last_error,
            locked_by: row.locked_by,
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }
}

/// A row returned by a claim.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: chrono::DateTime<chrono::Utc>,
}

impl TryFrom<ClaimedRow> for crate::jobs::ClaimedJob {
    type Error = crate::StoreError;

    fn try_from(row: ClaimedRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: tenantbase_domain::JobId::from_uuid(row.id),
            payload: parse_payload(&row.payload)?,
            kind: row.kind,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
        })
    }
}

fn parse_payload(text: &str) -> Result<serde_json::Value, crate::StoreError> {
    serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("job payload: {e}")))
}

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: uuid::Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub is_guest: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<UserRow> for crate::identity::User {
    fn from(row: UserRow) -> Self {
        Self {
            id: tenantbase_domain::id::UserId::from_uuid(row.id),
            email: row.email,
            display_name: row.display_name,
            password_hash: row.password_hash,
            email_verified: row.email_verified,
            is_guest: row.is_guest,
            created_at: row.created_at,
        }
    }
}

/// A row of `sessions`.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub device_id: Option<String>,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
    pub idle_expires_at: chrono::DateTime<chrono::Utc>,
    pub absolute_expires_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl TryFrom<SessionRow> for crate::identity::Session {
    type Error = crate::StoreError;

    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: tenantbase_domain::id::SessionId::from_uuid(row.id),
            user_id: tenantbase_domain::id::UserId::from_uuid(row.user_id),
            amr: serde_json::from_str(&row.amr)
                .map_err(|e| crate::StoreError::Corrupt(format!("session amr: {e}")))?,
            device_id: row.device_id,
            device_label: row.device_label,
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            idle_expires_at: row.idle_expires_at,
            absolute_expires_at: row.absolute_expires_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// A row of `signing_keys`.
#[derive(Debug, sqlx::FromRow)]
pub struct SigningKeySqlRow {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub encrypted_private_key: Vec<u8>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<SigningKeySqlRow> for crate::identity::SigningKeyRow {
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

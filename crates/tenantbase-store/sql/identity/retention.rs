//! Deleting what ended sign-ins leave behind, a bounded batch at a time: each statement
//! finds its rows by an expiry index and holds the writer for one batch only.

use chrono::{DateTime, Utc};
use tenantbase_store::identity::retention::PrunedAuth;
use tenantbase_store::{StoreResult, transactions};

use crate::dialect::Db;
use crate::sql::platform::events::enter_platform_scope;

pub(crate) async fn prune_ended_auth(
    db: &sqlx::Pool<Db>,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<PrunedAuth> {
    // Each table with the column its rows are found by and the column that expires.
    let prune = |table, key, expiry| delete_expired(db, table, key, expiry, before, limit);
    Ok(PrunedAuth {
        sessions: prune("sessions", "id", "absolute_expires_at").await?,
        user_tokens: prune("user_tokens", "token_hash", "expires_at").await?,
        trusted_devices: prune("trusted_devices", "id", "expires_at").await?,
        mfa_challenges: prune("mfa_challenges", "token_hash", "expires_at").await?,
        mfa_email_codes: prune("mfa_email_codes", "user_id", "expires_at").await?,
        mfa_step_up_email_codes: prune("mfa_step_up_email_codes", "user_id", "expires_at").await?,
        webauthn_ceremonies: prune("webauthn_ceremonies", "challenge_hash", "expires_at").await?,
        oidc_flows: prune("oidc_flows", "state_hash", "expires_at").await?,
        oidc_link_codes: prune("oidc_link_codes", "code_hash", "expires_at").await?,
        invitations: prune_expired_invitations(db, before, limit).await?,
    })
}

/// Invitations of every org: row-level security admits that only in the platform scope,
/// which is transaction-local (migration 0025), hence the transaction — opened in a task
/// of its own, as every unit's (ADR 0008).
async fn prune_expired_invitations(
    db: &sqlx::Pool<Db>,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64> {
    let mut tx = transactions::begin_detached(db, None).await?;
    enter_platform_scope(&mut tx).await?;
    let deleted =
        delete_expired(&mut *tx, "invitations", "id", "expires_at", before, limit).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// How many expired rows of its kind starting an OpenID flow, a link or a passkey
/// ceremony deletes: more than it adds, so such a table stays near its live rows, and
/// bounded, so that no sign-in waits on a backlog (`auth.cleanup` clears what is left).
pub(crate) const SWEEP_ON_INSERT: u32 = 100;

/// Deletes up to `limit` rows of `table` whose `expiry` is before `before`.
pub(crate) async fn delete_expired<'e, E>(
    db: E,
    table: &str,
    key: &str,
    expiry: &str,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let deleted = sqlx::query(&format!(
        "DELETE FROM {table} WHERE {key} IN \
         (SELECT {key} FROM {table} WHERE {expiry} < $1 LIMIT $2)"
    ))
    .bind(before)
    .bind(i64::from(limit))
    .execute(db)
    .await?;
    Ok(deleted.rows_affected())
}

//! What a user is charged for the orgs they created: a count of orgs (capped at creation,
//! given back when an org is purged) and the bytes stored across them (kept in step with
//! `org_file_usage` by the file statements). Both live on `users`, outside row-level
//! security, since a unit confined to one org cannot read its creator's other orgs. The
//! org units call these; the creator is always the unit's own org's `created_by`.

use chrono::{DateTime, Utc};
use tenantbase_store::StoreResult;
use uuid::Uuid;

use super::Conn;

/// The creator of org `$1`.
const CREATOR: &str = "(SELECT created_by FROM organizations WHERE id = $1)";

/// Counts one more org for `creator` unless they have `cap` already. The conditional
/// update is the check, so concurrent creations cannot pass it together.
pub(super) async fn take_org_slot(conn: &mut Conn, creator: Uuid, cap: u32) -> StoreResult<bool> {
    let taken = sqlx::query(
        "UPDATE users SET orgs_created = orgs_created + 1 WHERE id = $1 AND orgs_created < $2",
    )
    .bind(creator)
    .bind(i64::from(cap))
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Locks the row of `org`'s creator until commit (PostgreSQL; SQLite units hold the write
/// lock already): quota checks in two orgs of one creator take turns.
pub(super) async fn lock_creator(conn: &mut Conn, org: Uuid) -> StoreResult<()> {
    // No row is fine: a creator whose account is gone has nothing to charge.
    sqlx::query(&format!(
        "SELECT id FROM users WHERE id = {CREATOR} {}",
        crate::dialect::USER_ROW_LOCK
    ))
    .bind(org)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(())
}

/// Bytes stored in every org of `org`'s creator, plus `org`'s uploads open at `now` (open
/// uploads of the creator's other orgs are out of sight here).
pub(super) async fn creator_bytes_used(
    conn: &mut Conn,
    org: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let (used,): (i64,) = sqlx::query_as(&format!(
        "SELECT CAST(COALESCE((SELECT creator_file_bytes FROM users WHERE id = {CREATOR}), 0) \
         + COALESCE((SELECT SUM(size) FROM file_uploads WHERE org_id = $1 \
         AND (expires_at > $2 OR claimed_until > $2)), 0) AS BIGINT)"
    ))
    .bind(org)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// Adds `bytes` (negative: takes them off) to what `org`'s creator stores.
pub(super) async fn charge_bytes(conn: &mut Conn, org: Uuid, bytes: i64) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE users SET creator_file_bytes = creator_file_bytes + $2 WHERE id = {CREATOR}"
    ))
    .bind(org)
    .bind(bytes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives `org`'s slot and stored bytes back to its creator; run just before the org's rows
/// go.
pub(super) async fn release_org(conn: &mut Conn, org: Uuid) -> StoreResult<()> {
    sqlx::query(&format!(
        "UPDATE users SET orgs_created = orgs_created - 1, creator_file_bytes = creator_file_bytes \
         - COALESCE((SELECT bytes FROM org_file_usage WHERE org_id = $1), 0) WHERE id = {CREATOR}"
    ))
    .bind(org)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

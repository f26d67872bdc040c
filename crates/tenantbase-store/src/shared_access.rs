//! The statements on an org's invitations and API keys, both dialects, instantiated per
//! backend by `access_statements!` as free functions that `tenant_statements!`'s unit
//! calls with its org.

/// Instantiates the invitation and API key statements for `$db` as `access_sql`.
#[macro_export]
macro_rules! access_statements {
    ($db:ty) => {
        /// Invitations and API keys, for this backend.
        pub(crate) mod access_sql {
            use chrono::{DateTime, SubsecRound, Utc};
            use tenantbase_domain::id::{ApiKeyId, InvitationId, UserId};
            use tenantbase_store::tenant::{ApiKey, Invitation};
            use tenantbase_store::tenant_rows::{columns, to_json_text, ApiKeyRow, InvitationRow};
            use tenantbase_store::StoreResult;
            use uuid::Uuid;

            type Db = $db;
            type Conn = <Db as sqlx::Database>::Connection;

            pub async fn insert_invitation(conn: &mut Conn, org: Uuid, invitation: &Invitation, token_hash: &str) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO invitations (org_id, token_hash, id, email, role_ids, any_email, invited_by, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(org)
                .bind(token_hash)
                .bind(invitation.id.as_uuid())
                .bind(&invitation.email)
                .bind(to_json_text(&invitation.role_ids))
                .bind(invitation.any_email)
                .bind(invitation.invited_by.as_uuid())
                .bind(invitation.created_at)
                .bind(invitation.expires_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            pub async fn pending_invitations(conn: &mut Conn, org: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
                let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM invitations WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
                     AND expires_at > $2 ORDER BY created_at DESC, id DESC",
                    columns::INVITATION
                ))
                .bind(org)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?;
                rows.into_iter().map(Invitation::try_from).collect()
            }

            pub async fn invitation_by_token(conn: &mut Conn, org: Uuid, token_hash: &str) -> StoreResult<Option<Invitation>> {
                let row: Option<InvitationRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM invitations WHERE org_id = $1 AND token_hash = $2",
                    columns::INVITATION
                ))
                .bind(org)
                .bind(token_hash)
                .fetch_optional(&mut *conn)
                .await?;
                row.map(Invitation::try_from).transpose()
            }

            pub async fn revoke_invitation(conn: &mut Conn, org: Uuid, id: InvitationId, now: DateTime<Utc>) -> StoreResult<bool> {
                let changed = sqlx::query(
                    "UPDATE invitations SET revoked_at = $3 \
                     WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
                )
                .bind(org)
                .bind(id.as_uuid())
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(changed.rows_affected() > 0)
            }

            pub async fn accept_invitation(conn: &mut Conn, org: Uuid, id: InvitationId, user: UserId, now: DateTime<Utc>) -> StoreResult<bool> {
                let changed = sqlx::query(
                    "UPDATE invitations SET accepted_at = $3, accepted_by = $4 \
                     WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
                )
                .bind(org)
                .bind(id.as_uuid())
                .bind(now)
                .bind(user.as_uuid())
                .execute(&mut *conn)
                .await?;
                Ok(changed.rows_affected() > 0)
            }

            pub async fn insert_api_key(conn: &mut Conn, org: Uuid, key: &ApiKey, secret_hash: &str) -> StoreResult<()> {
                sqlx::query(&format!(
                    "INSERT INTO api_keys (org_id, secret_hash, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    columns::API_KEY
                ))
                .bind(org)
                .bind(secret_hash)
                .bind(key.id.as_uuid())
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(to_json_text(&key.permissions))
                .bind(key.created_by.as_uuid())
                .bind(key.created_at)
                .bind(key.expires_at)
                .bind(key.last_used_at)
                .bind(key.revoked_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            pub async fn api_keys(conn: &mut Conn, org: Uuid) -> StoreResult<Vec<ApiKey>> {
                let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC",
                    columns::API_KEY
                ))
                .bind(org)
                .fetch_all(&mut *conn)
                .await?;
                rows.into_iter().map(ApiKey::try_from).collect()
            }

            pub async fn api_key_by_secret(conn: &mut Conn, org: Uuid, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
                let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM api_keys WHERE org_id = $1 AND secret_hash = $2",
                    columns::API_KEY
                ))
                .bind(org)
                .bind(secret_hash)
                .fetch_optional(&mut *conn)
                .await?;
                row.map(ApiKey::try_from).transpose()
            }

            pub async fn revoke_api_key(conn: &mut Conn, org: Uuid, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<bool> {
                let changed = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
                )
                .bind(org)
                .bind(id.as_uuid())
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(changed.rows_affected() > 0)
            }

            pub async fn touch_api_key(conn: &mut Conn, org: Uuid, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE org_id = $1 AND id = $2")
                    .bind(org)
                    .bind(id.as_uuid())
                    .bind(now.trunc_subsecs(6))
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }
        }
    };
}

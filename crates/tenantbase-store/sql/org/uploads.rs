//! The statements on an org's presigned uploads and the claims that keep two completions
//! of one upload apart.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::FileId;
use tenantbase_domain::model::FileUpload;
use tenantbase_store::org::files::size_value;
use tenantbase_store::org::uploads::{self, UploadRow, UploadsUnit};
use tenantbase_store::{StoreError, StoreResult};

use super::OrgTx;

#[async_trait]
impl UploadsUnit for OrgTx {
    async fn insert_upload(&mut self, upload: &FileUpload) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO file_uploads (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            uploads::COLUMNS
        ))
        .bind(self.org_id())
        .bind(upload.id.as_uuid())
        .bind(&upload.name)
        .bind(size_value(upload.size)?)
        .bind(&upload.content_type)
        .bind(&upload.sha256)
        .bind(upload.created_by.as_uuid())
        .bind(upload.created_at)
        .bind(upload.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn upload(&mut self, id: FileId) -> StoreResult<FileUpload> {
        let row: Option<UploadRow> = sqlx::query_as(&format!(
            "SELECT {} FROM file_uploads WHERE org_id = $1 AND id = $2",
            uploads::COLUMNS
        ))
        .bind(self.org_id())
        .bind(id.as_uuid())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.ok_or(StoreError::NotFound)
            .and_then(FileUpload::try_from)
    }

    async fn delete_upload(&mut self, id: FileId) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM file_uploads WHERE org_id = $1 AND id = $2")
            .bind(self.org_id())
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(gone.rows_affected() > 0)
    }

    async fn cancel_upload(&mut self, id: FileId, now: DateTime<Utc>) -> StoreResult<bool> {
        let gone = sqlx::query(
            "DELETE FROM file_uploads WHERE org_id = $1 AND id = $2 \
             AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(gone.rows_affected() > 0)
    }

    async fn prune_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
        let gone = sqlx::query(
            "DELETE FROM file_uploads WHERE org_id = $1 AND expires_at <= $2 \
             AND (claimed_until IS NULL OR claimed_until <= $2)",
        )
        .bind(self.org_id())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(gone.rows_affected())
    }

    async fn open_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
        let (open,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM file_uploads WHERE org_id = $1 \
             AND (expires_at > $2 OR claimed_until > $2)",
        )
        .bind(self.org_id())
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(u64::try_from(open).unwrap_or(0))
    }

    async fn claim_upload(
        &mut self,
        id: FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let claimed = sqlx::query(
            "UPDATE file_uploads SET claimed_until = $4 WHERE org_id = $1 AND id = $2 \
             AND (claimed_until IS NULL OR claimed_until <= $3)",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(now)
        .bind(until)
        .execute(&mut *self.tx)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn release_upload(&mut self, id: FileId, claim: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE file_uploads SET claimed_until = NULL \
             WHERE org_id = $1 AND id = $2 AND claimed_until = $3",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(claim)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn hold_upload(
        &mut self,
        id: FileId,
        claim: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // An UPDATE, not a SELECT: it takes the row's lock (the database's on SQLite).
        let held = sqlx::query(
            "UPDATE file_uploads SET claimed_until = claimed_until \
             WHERE org_id = $1 AND id = $2 AND claimed_until = $3 AND claimed_until > $4",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(claim)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(held.rows_affected() == 1)
    }
}

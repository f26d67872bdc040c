//! The statements on an org's file rows and the byte counters they keep in step: the
//! org's (`org_file_usage`) and its creator's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use tenantbase_domain::id::FileId;
use tenantbase_domain::model::StoredFile;
use tenantbase_store::org::files::{self, FileQuery, FileRow, FilesUnit, size_value};
use tenantbase_store::{StoreError, StoreResult};
use uuid::Uuid;

use super::{OrgTx, creators};
use crate::dialect::Db;

/// Narrows `b` to `query`'s name prefix and content type.
fn push_filters(b: &mut QueryBuilder<'_, Db>, query: &FileQuery) {
    // substr counts characters on both backends, as chars() does; its length is an int4
    // on PostgreSQL.
    if let Some(prefix) = &query.name_prefix {
        b.push(" AND substr(name, 1, ")
            .push_bind(i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX))
            .push(") = ")
            .push_bind(prefix.clone());
    }
    match query.content_type.as_deref() {
        Some(family) if family.ends_with('/') => {
            b.push(" AND substr(content_type, 1, ")
                .push_bind(i32::try_from(family.chars().count()).unwrap_or(i32::MAX))
                .push(") = ")
                .push_bind(family.to_owned());
        }
        Some(exact) => {
            b.push(" AND content_type = ").push_bind(exact.to_owned());
        }
        None => {}
    }
}

#[async_trait]
impl FilesUnit for OrgTx {
    async fn insert_file(&mut self, file: &StoredFile) -> StoreResult<()> {
        let org = self.org_id();
        sqlx::query(&format!(
            "INSERT INTO files (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            files::COLUMNS
        ))
        .bind(org)
        .bind(file.id.as_uuid())
        .bind(&file.name)
        .bind(size_value(file.size)?)
        .bind(&file.content_type)
        .bind(&file.sha256)
        .bind(file.created_by.as_uuid())
        .bind(file.created_at)
        .bind(file.upload_claim)
        .execute(&mut *self.tx)
        .await?;
        // The creator's row before the org's usage row, in every statement that changes
        // both: concurrent writers wait instead of deadlocking.
        creators::charge_bytes(&mut self.tx, org, size_value(file.size)?).await?;
        sqlx::query(
            "INSERT INTO org_file_usage (org_id, bytes) VALUES ($1, $2) \
             ON CONFLICT (org_id) DO UPDATE SET bytes = org_file_usage.bytes + excluded.bytes",
        )
        .bind(org)
        .bind(size_value(file.size)?)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn file(&mut self, id: FileId) -> StoreResult<StoredFile> {
        let row: Option<FileRow> = sqlx::query_as(&format!(
            "SELECT {} FROM files WHERE org_id = $1 AND id = $2",
            files::COLUMNS
        ))
        .bind(self.org_id())
        .bind(id.as_uuid())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.ok_or(StoreError::NotFound)
            .and_then(StoredFile::try_from)
    }

    async fn files(&mut self, query: &FileQuery) -> StoreResult<Vec<StoredFile>> {
        let mut b = QueryBuilder::<Db>::new(format!(
            "SELECT {} FROM files WHERE org_id = ",
            files::COLUMNS
        ));
        b.push_bind(self.org_id());
        push_filters(&mut b, query);
        if let Some((at, id)) = query.after {
            b.push(" AND (created_at, id) > (")
                .push_bind(at)
                .push(", ")
                .push_bind(id.as_uuid())
                .push(")");
        }
        b.push(" ORDER BY created_at, id LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows: Vec<FileRow> = b.build_query_as().fetch_all(&mut *self.tx).await?;
        rows.into_iter().map(StoredFile::try_from).collect()
    }

    async fn delete_file(&mut self, id: FileId) -> StoreResult<bool> {
        let org = self.org_id();
        let gone: Option<(i64,)> =
            sqlx::query_as("DELETE FROM files WHERE org_id = $1 AND id = $2 RETURNING size")
                .bind(org)
                .bind(id.as_uuid())
                .fetch_optional(&mut *self.tx)
                .await?;
        let Some((size,)) = gone else {
            return Ok(false);
        };
        creators::charge_bytes(&mut self.tx, org, -size).await?;
        sqlx::query("UPDATE org_file_usage SET bytes = bytes - $2 WHERE org_id = $1")
            .bind(org)
            .bind(size)
            .execute(&mut *self.tx)
            .await?;
        Ok(true)
    }

    async fn existing_files(
        &mut self,
        ids: &[FileId],
    ) -> StoreResult<Vec<(FileId, Option<DateTime<Utc>>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut b = QueryBuilder::<Db>::new("SELECT id, upload_claim FROM files WHERE org_id = ");
        b.push_bind(self.org_id()).push(" AND id IN (");
        let mut list = b.separated(", ");
        for id in ids {
            list.push_bind(id.as_uuid());
        }
        b.push(")");
        let rows: Vec<(Uuid, Option<DateTime<Utc>>)> =
            b.build_query_as().fetch_all(&mut *self.tx).await?;
        Ok(rows
            .into_iter()
            .map(|(id, claim)| (FileId::from_uuid(id), claim))
            .collect())
    }

    async fn bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
        let (used,): (i64,) = sqlx::query_as(
            "SELECT CAST(COALESCE((SELECT bytes FROM org_file_usage WHERE org_id = $1), 0) \
             + COALESCE((SELECT SUM(size) FROM file_uploads WHERE org_id = $1 \
             AND (expires_at > $2 OR claimed_until > $2)), 0) AS BIGINT)",
        )
        .bind(self.org_id())
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(u64::try_from(used).unwrap_or(0))
    }

    async fn creator_bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
        let org = self.org_id();
        creators::creator_bytes_used(&mut self.tx, org, now).await
    }

    async fn lock_creator(&mut self) -> StoreResult<()> {
        let org = self.org_id();
        creators::lock_creator(&mut self.tx, org).await
    }
}

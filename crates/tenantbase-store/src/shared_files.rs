//! The statements on files and presigned uploads, both dialects, instantiated per backend
//! by `file_statements!`: `file_sql` implements `FileUnit` for the backend's org unit.

use chrono::{DateTime, Utc};
use tenantbase_domain::id::{FileId, UserId};
use uuid::Uuid;

use crate::StoreError;
use crate::files::{FileUpload, StoredFile};

pub mod columns {
    pub const FILE: &str = "id, name, size, content_type, sha256, created_by, created_at";
    pub const UPLOAD: &str =
        "id, name, size, content_type, sha256, created_by, created_at, expires_at";
}

fn size_column(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("negative file size {size}")))
}

/// A size as the databases keep it (signed 64-bit).
pub fn size_value(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Invalid(format!("file size {size} too large")))
}

#[derive(Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: Uuid,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<FileRow> for StoredFile {
    type Error = StoreError;

    fn try_from(row: FileRow) -> Result<Self, Self::Error> {
        Ok(StoredFile {
            id: FileId::from_uuid(row.id),
            name: row.name,
            size: size_column(row.size)?,
            content_type: row.content_type,
            sha256: row.sha256,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl TryFrom<UploadRow> for FileUpload {
    type Error = StoreError;

    fn try_from(row: UploadRow) -> Result<Self, Self::Error> {
        Ok(FileUpload {
            id: FileId::from_uuid(row.id),
            name: row.name,
            size: size_column(row.size)?,
            content_type: row.content_type,
            sha256: row.sha256,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}

/// Instantiates the file statements for `$db` as `file_sql`.
/// Expects the backend's `tenant_sql` module (from `tenant_statements!`) beside it.
#[macro_export]
macro_rules! file_statements {
    ($db:ty) => {
        /// Files and presigned uploads of one org, for this backend.
        pub(crate) mod file_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use sqlx::QueryBuilder;
            use tenantbase_domain::id::FileId;
            use tenantbase_store::files::{FileQuery, FileUnit, FileUpload, StoredFile};
            use tenantbase_store::shared_files::{columns, size_value, FileRow, UploadRow};
            use tenantbase_store::{StoreError, StoreResult};

            type Db = $db;

            #[async_trait]
            impl FileUnit for super::tenant_sql::OrgTx {
                async fn insert_file(&mut self, file: &StoredFile) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query(&format!(
                        "INSERT INTO files (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        columns::FILE
                    ))
                    .bind(org)
                    .bind(file.id.as_uuid())
                    .bind(&file.name)
                    .bind(size_value(file.size)?)
                    .bind(&file.content_type)
                    .bind(&file.sha256)
                    .bind(file.created_by.as_uuid())
                    .bind(file.created_at)
                    .execute(&mut *self.tx)
                    .await?;
                    // The creator's row before the org's usage row, in every statement
                    // that changes both: concurrent writers wait instead of deadlocking.
                    super::creator_sql::charge_bytes(&mut self.tx, org, size_value(file.size)?).await?;
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
                    let org = self.org_id();
                    let row: Option<FileRow> = sqlx::query_as(&format!(
                        "SELECT {} FROM files WHERE org_id = $1 AND id = $2",
                        columns::FILE
                    ))
                    .bind(org)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    row.ok_or(StoreError::NotFound).and_then(StoredFile::try_from)
                }

                async fn files(&mut self, query: &FileQuery) -> StoreResult<Vec<StoredFile>> {
                    let mut b = QueryBuilder::<Db>::new(format!(
                        "SELECT {} FROM files WHERE org_id = ",
                        columns::FILE
                    ));
                    b.push_bind(self.org_id());
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
                    super::creator_sql::charge_bytes(&mut self.tx, org, -size).await?;
                    sqlx::query("UPDATE org_file_usage SET bytes = bytes - $2 WHERE org_id = $1")
                        .bind(org)
                        .bind(size)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(true)
                }

                async fn existing_files(&mut self, ids: &[FileId]) -> StoreResult<Vec<FileId>> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut b = QueryBuilder::<Db>::new("SELECT id FROM files WHERE org_id = ");
                    b.push_bind(self.org_id()).push(" AND id IN (");
                    let mut list = b.separated(", ");
                    for id in ids {
                        list.push_bind(id.as_uuid());
                    }
                    b.push(")");
                    let rows: Vec<(uuid::Uuid,)> =
                        b.build_query_as().fetch_all(&mut *self.tx).await?;
                    Ok(rows.into_iter().map(|(id,)| FileId::from_uuid(id)).collect())
                }

                async fn bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let org = self.org_id();
                    let (used,): (i64,) = sqlx::query_as(
                        "SELECT CAST(COALESCE((SELECT bytes FROM org_file_usage WHERE org_id = $1), 0) \
                         + COALESCE((SELECT SUM(size) FROM file_uploads WHERE org_id = $1 \
                         AND (expires_at > $2 OR claimed_until > $2)), 0) AS BIGINT)",
                    )
                    .bind(org)
                    .bind(now)
                    .fetch_one(&mut *self.tx)
                    .await?;
                    Ok(u64::try_from(used).unwrap_or(0))
                }

                async fn creator_bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let org = self.org_id();
                    super::creator_sql::creator_bytes_used(&mut self.tx, org, now).await
                }

                async fn lock_creator(&mut self) -> StoreResult<()> {
                    let org = self.org_id();
                    super::creator_sql::lock_creator(&mut self.tx, org).await
                }

                async fn insert_upload(&mut self, upload: &FileUpload) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query(&format!(
                        "INSERT INTO file_uploads (org_id, {}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        columns::UPLOAD
                    ))
                    .bind(org)
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
                    let org = self.org_id();
                    let row: Option<UploadRow> = sqlx::query_as(&format!(
                        "SELECT {} FROM file_uploads WHERE org_id = $1 AND id = $2",
                        columns::UPLOAD
                    ))
                    .bind(org)
                    .bind(id.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await?;
                    row.ok_or(StoreError::NotFound).and_then(FileUpload::try_from)
                }

                async fn delete_upload(&mut self, id: FileId) -> StoreResult<bool> {
                    let org = self.org_id();
                    let gone =
                        sqlx::query("DELETE FROM file_uploads WHERE org_id = $1 AND id = $2")
                            .bind(org)
                            .bind(id.as_uuid())
                            .execute(&mut *self.tx)
                            .await?;
                    Ok(gone.rows_affected() > 0)
                }

                async fn prune_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let org = self.org_id();
                    let gone = sqlx::query("DELETE FROM file_uploads WHERE org_id = $1 AND expires_at <= $2 \
                         AND (claimed_until IS NULL OR claimed_until <= $2)")
                        .bind(org)
                        .bind(now)
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(gone.rows_affected())
                }

                async fn open_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64> {
                    let org = self.org_id();
                    let (open,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM file_uploads WHERE org_id = $1 \
                         AND (expires_at > $2 OR claimed_until > $2)",
                    )
                    .bind(org)
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
                    let org = self.org_id();
                    let claimed = sqlx::query(
                        "UPDATE file_uploads SET claimed_until = $4 WHERE org_id = $1 AND id = $2 \
                         AND (claimed_until IS NULL OR claimed_until <= $3)",
                    )
                    .bind(org)
                    .bind(id.as_uuid())
                    .bind(now)
                    .bind(until)
                    .execute(&mut *self.tx)
                    .await?;
                    Ok(claimed.rows_affected() == 1)
                }

                async fn release_upload(&mut self, id: FileId) -> StoreResult<()> {
                    let org = self.org_id();
                    sqlx::query("UPDATE file_uploads SET claimed_until = NULL WHERE org_id = $1 AND id = $2")
                        .bind(org)
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await?;
                    Ok(())
                }
            }
        }
    };
}

//! What can go wrong in the store, in terms the layers above can act on.

/// A store failure. `Unavailable` means the database could not be reached in time (a
/// 503 upstream); `Database` is anything else unexpected (a 500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; `constraint` names it so callers can say which field.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The input breaks a store rule (e.g. a payload over its size limit).
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("stored value is corrupt: {0}")]
    Corrupt(String),
    /// The unit committed into a batch shared with others (SQLite group commit), and that
    /// batch's COMMIT failed: none of its units is durable.
    #[error("the group commit this unit joined failed: {0}")]
    BatchFailed(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(error)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
                constraint: db.constraint().unwrap_or("unique").to_owned(),
            },
            _ => StoreError::Database(error),
        }
    }
}

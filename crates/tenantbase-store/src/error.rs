//! What can go wrong in the store, in terms the layers above can act on.

/// A store failure. `Unavailable` means the database could not be reached in time and
/// `Contended` that it gave a transaction up to a concurrent one (503s upstream);
/// `Database` is anything else unexpected (a 500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique constraint was violated; `constraint` names it so callers can say which field.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// PostgreSQL rolled the transaction back to break a deadlock or a serialization
    /// conflict with a concurrent one: nothing of it was kept, and a retry may pass (a 503
    /// upstream).
    #[error("transaction rolled back by a conflict: {0}")]
    Contended(#[source] sqlx::Error),
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
            // deadlock_detected, serialization_failure
            sqlx::Error::Database(db)
                if matches!(db.code().as_deref(), Some("40P01" | "40001")) =>
            {
                StoreError::Contended(error)
            }
            _ => StoreError::Database(error),
        }
    }
}

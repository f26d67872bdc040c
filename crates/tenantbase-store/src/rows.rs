//! What every row type and statement of both backends uses to decode columns and to check
//! what a write changed.

use crate::StoreError;

/// Decodes a JSON text column; `what` names it in the `Corrupt` error.
pub fn json_column<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// `NotFound` when a statement that had to change a row changed none.
pub fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A JSON text column as written.
pub fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

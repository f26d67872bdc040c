//! Signing keys in the store: the first start creates one, `keys rotate` retires the
//! active key and adds a new one; both are audited in the same transaction.

use chrono::Utc;
use tenantbase_domain::model::SigningKeyRow;
use tenantbase_domain::model::{Actor, RequestMeta, Target};
use tenantbase_store::Store;
use tenantbase_store::platform::events::NewEvent;

use super::IdentityError;
use super::tokens::{Keyring, MasterKey, StoredKey, TokenConfig};
use crate::write::{Change, NoCache, Write};

/// The keyring from the stored keys, creating the first key if none is active.
pub async fn load_keyring(
    store: &dyn Store,
    master: &MasterKey,
    config: TokenConfig,
) -> Result<Keyring, IdentityError> {
    let mut keys: Vec<StoredKey> = store
        .signing_keys()
        .await?
        .into_iter()
        .map(stored)
        .collect();
    if keys.iter().all(|k| k.retired_at.is_some()) {
        let fresh = StoredKey::generate(master, Utc::now())?;
        let mut unit = Write::new(store.begin().await?, NoCache);
        unit.insert_signing_key(row(&fresh)).await?;
        let event = key_event("auth.key.created", &fresh.kid);
        unit.commit(Change::new((), event)).await?;
        keys.push(fresh);
    }
    Ok(Keyring::load(master, &keys, config)?)
}

/// Opens every stored key with `master` and creates none: whether a database (a restored
/// one, say) and the master key at hand belong together. Returns how many keys it holds.
pub async fn check_keys(
    store: &dyn Store,
    master: &MasterKey,
    config: TokenConfig,
) -> Result<usize, IdentityError> {
    let keys: Vec<StoredKey> = store
        .signing_keys()
        .await?
        .into_iter()
        .map(stored)
        .collect();
    // A database that never served has no key yet: the first start makes one.
    if !keys.is_empty() {
        Keyring::load(master, &keys, config)?;
    }
    Ok(keys.len())
}

/// Retires the active key(s) and adds a new signing key; returns its kid. Tokens signed
/// by the old key keep verifying until they expire.
pub async fn rotate_keys(store: &dyn Store, master: &MasterKey) -> Result<String, IdentityError> {
    let now = Utc::now();
    let mut keys: Vec<StoredKey> = store
        .signing_keys()
        .await?
        .into_iter()
        .map(stored)
        .collect();
    let active: Vec<String> = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.kid.clone())
        .collect();
    let fresh = super::tokens::rotate(master, &mut keys, now)?;
    // Tokens are verified against the keyring, which the caller replaces.
    let mut unit = Write::new(store.begin().await?, NoCache);
    for kid in &active {
        unit.retire_signing_key(kid, now).await?;
    }
    unit.insert_signing_key(row(&fresh)).await?;
    let event = key_event("auth.key.rotated", &fresh.kid);
    unit.commit(Change::new((), event)).await?;
    Ok(fresh.kid)
}

fn key_event(event_type: &str, kid: &str) -> NewEvent {
    NewEvent {
        org_id: None,
        event_type: event_type.to_owned(),
        actor: Actor::System,
        target: Some(Target {
            kind: "signing_key".to_owned(),
            id: kid.to_owned(),
        }),
        request: RequestMeta::default(),
        payload: serde_json::json!({}),
    }
}

fn stored(row: SigningKeyRow) -> StoredKey {
    StoredKey {
        kid: row.kid,
        public_key: row.public_key,
        encrypted_private_key: row.encrypted_private_key,
        created_at: row.created_at,
        retired_at: row.retired_at,
    }
}

fn row(key: &StoredKey) -> SigningKeyRow {
    SigningKeyRow {
        kid: key.kid.clone(),
        public_key: key.public_key.clone(),
        encrypted_private_key: key.encrypted_private_key.clone(),
        created_at: key.created_at,
        retired_at: key.retired_at,
    }
}

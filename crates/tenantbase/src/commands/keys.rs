//! `tenantbase keys rotate`.

use tenantbase_core::audit::seal::seal_all;
use tenantbase_core::identity::signing_keys::rotate_keys;

use crate::cli::KeysCommand;
use crate::config::Config;
use crate::{connect, identity};

pub(crate) async fn run(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let store = connect::open_store(config).await?;
    match command {
        KeysCommand::Rotate => {
            let master = identity::master_key(config)?;
            let kid = rotate_keys(store.as_ref(), &master).await?;
            // A one-shot command runs no sealer: it seals what it recorded itself.
            seal_all(store.as_ref()).await?;
            println!(
                "new signing key {kid}; the previous key verifies its tokens until they expire"
            );
        }
    }
    store.close().await;
    Ok(())
}

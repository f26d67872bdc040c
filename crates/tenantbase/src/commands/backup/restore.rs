//! `tenantbase restore --from FILE [--force]`. The archive is read through once and every
//! checksum verified before anything is written; then each entry is extracted beside the
//! path it replaces (`….restore-ID`, same folder, so renames stay on one file system),
//! checked again, the database's integrity and its signing keys against the master key
//! checked, and only then swapped in by renames. A failure before the swap leaves the
//! live data untouched; one during the swap puts the previous data back.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use tenantbase_core::identity::signing_keys;
use tenantbase_core::identity::tokens::MasterKey;
use tenantbase_store::SigningKeyStore;

use super::archive;
use super::{Item, Layout, Manifest, RUNBOOK, beside, item};
use crate::config::Config;
use crate::{connect, identity, in_use};

pub(crate) async fn run(config: &Config, from: &Path, force: bool) -> anyhow::Result<()> {
    let layout = Layout::of(config, "restore")?;
    let unchanged = || format!("{} was not restored; nothing was changed", from.display());
    let manifest = archive::verify(from)
        .with_context(|| format!("{} is damaged or not a tenantbase backup", from.display()))
        .with_context(unchanged)?;
    check_fits(&manifest, &layout).with_context(unchanged)?;
    let in_the_way = occupied(&layout)?;
    if !in_the_way.is_empty() && !force {
        bail!(
            "the target is not empty ({}); restore replaces it only with --force, after every \
             server and worker using it has stopped",
            in_the_way.join(", ")
        );
    }

    let id = uuid::Uuid::now_v7().simple().to_string();
    let targets = Targets::new(&layout, &manifest, &id);
    let staged = StagedGuard(&targets);
    for dir in [
        &layout.data_dir,
        targets.database.live.parent().unwrap_or(Path::new(".")),
    ] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let extracted = archive::extract(from, |entry| {
        Ok(match item(&entry.path) {
            Some(Item::Database) => targets.database.staged.clone(),
            Some(Item::MasterKey) => targets.master_key.staged.clone(),
            Some(Item::File(relative)) => match &targets.files {
                Some(files) => files.staged.join(relative),
                None => bail!("the archive holds files but the configuration has no local store"),
            },
            None => bail!("`{}` is not a place a backup writes", entry.path),
        })
    });
    extracted
        .with_context(|| format!("extracting {}", from.display()))
        .with_context(unchanged)?;
    if let Some(files) = &targets.files {
        // Restored even when the backup had no object: the files folder is then empty.
        std::fs::create_dir_all(&files.staged)
            .with_context(|| format!("creating {}", files.staged.display()))?;
    }
    let master_key_source = check_staged(config, &manifest, &targets)
        .await
        .with_context(unchanged)?;

    // Only now, so a restore refused above leaves the folder as it found it.
    let _taken = in_use::take_for_restore(&layout.database).with_context(unchanged)?;
    targets.swap()?;
    drop(staged);
    print_summary(
        from,
        &manifest,
        &targets,
        master_key_source,
        !in_the_way.is_empty(),
    );
    Ok(())
}

/// Refuses a backup this build or this configuration cannot take.
fn check_fits(manifest: &Manifest, layout: &Layout) -> anyhow::Result<()> {
    if manifest.backend != "sqlite" {
        bail!(
            "the backup is of a `{}` database; see {RUNBOOK}",
            manifest.backend
        );
    }
    let latest = tenantbase_store_sqlite::latest_migration();
    if manifest.schema_migration > latest {
        bail!(
            "the backup's schema is at migration {}, newer than this build's {latest}: restore \
             it with tenantbase {} or later",
            manifest.schema_migration,
            manifest.tenantbase_version
        );
    }
    if manifest.files_included && layout.files.is_none() {
        bail!(
            "the backup holds local files, but files.backend is not `local`: restore with the \
             local store, then copy the objects over (see {RUNBOOK})"
        );
    }
    Ok(())
}

/// What is in the way of a restore: the data folder's entries, and the database when it
/// lives elsewhere.
fn occupied(layout: &Layout) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    match std::fs::read_dir(&layout.data_dir) {
        Ok(entries) => {
            for entry in entries {
                let entry =
                    entry.with_context(|| format!("listing {}", layout.data_dir.display()))?;
                if entry.path() != in_use::lock_path(&layout.database) {
                    found.push(entry.path().display().to_string());
                }
            }
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("listing {}", layout.data_dir.display()));
        }
    }
    if exists(&layout.database) && layout.database.parent() != Some(layout.data_dir.as_path()) {
        found.push(layout.database.display().to_string());
    }
    found.sort();
    Ok(found)
}

/// Checks the staged database (every page, its migration level as the manifest says) and
/// that the master key in effect after the restore opens its signing keys. Returns where
/// that key comes from (`None`: the database has no signing key yet).
async fn check_staged(
    config: &Config,
    manifest: &Manifest,
    targets: &Targets,
) -> anyhow::Result<Option<&'static str>> {
    let database = &targets.database.staged;
    let info = tenantbase_store_sqlite::inspect_snapshot(database)
        .await
        .context("checking the restored database")?;
    if info.migration != manifest.schema_migration {
        bail!(
            "the database is at migration {}, the manifest says {}",
            info.migration,
            manifest.schema_migration
        );
    }
    let master = match identity::configured_master_key(config)? {
        Some(key) => Some((key, "auth.master_key from the configuration")),
        None if manifest.master_key_included => Some((
            identity::read_master_key_file(&targets.master_key.staged)?,
            "master.key from the backup",
        )),
        None => None,
    };
    let url = format!("sqlite://{}", database.display());
    let store = connect::open_sqlite(config, &url).await?;
    let checked = check_keys(&store, master, config).await;
    tenantbase_store::OpsStore::close(&store).await;
    checked
}

/// Opens the staged database's signing keys with `master`; without a master key, only a
/// database that has no signing key yet (never served) passes.
async fn check_keys(
    store: &tenantbase_store_sqlite::SqliteStore,
    master: Option<(MasterKey, &'static str)>,
    config: &Config,
) -> anyhow::Result<Option<&'static str>> {
    let Some((master, source)) = master else {
        if store.signing_keys().await?.is_empty() {
            return Ok(None);
        }
        bail!(
            "the backup holds no master key (it was configured when the backup was made): set \
             auth.master_key to that key and run restore again"
        );
    };
    signing_keys::check_keys(store, &master, identity::token_config(config))
        .await
        .with_context(|| {
            format!(
                "the backup's signing keys do not open with {source}: is it the key they were made with?"
            )
        })?;
    Ok(Some(source))
}

fn print_summary(
    from: &Path,
    manifest: &Manifest,
    targets: &Targets,
    master_key_source: Option<&str>,
    replaced: bool,
) {
    println!(
        "verified {} entries of {} (made {} by tenantbase {}, migration {})",
        manifest.entries.len() + 1,
        from.display(),
        manifest.created_at.to_rfc3339(),
        manifest.tenantbase_version,
        manifest.schema_migration
    );
    println!(
        "restored the database to {}",
        targets.database.live.display()
    );
    if let Some(files) = &targets.files {
        let objects: Vec<_> = manifest
            .entries
            .iter()
            .filter(|e| matches!(item(&e.path), Some(Item::File(_))))
            .collect();
        let bytes: u64 = objects.iter().map(|e| e.size).sum();
        println!(
            "restored {} files ({bytes} bytes) to {}",
            objects.len(),
            files.live.display()
        );
    }
    if manifest.master_key_included {
        println!(
            "restored the master key to {}",
            targets.master_key.live.display()
        );
    }
    match master_key_source {
        Some(source) => println!("signing keys open with {source}"),
        None => println!("no signing key yet: the first `serve` makes one"),
    }
    if replaced {
        println!("the previous data was replaced");
    }
    println!("start the server: `tenantbase serve` applies newer migrations, if any");
}

/// A path restore replaces: the live one, where the archive's copy waits, and where the
/// live one goes during the swap.
struct Target {
    live: PathBuf,
    staged: PathBuf,
    aside: PathBuf,
}

impl Target {
    fn new(live: PathBuf, id: &str) -> Self {
        Self {
            staged: beside(&live, &format!(".restore-{id}")),
            aside: beside(&live, &format!(".replaced-{id}")),
            live,
        }
    }

    /// SQLite's companion file (`-wal`, `-shm`) of a database target: a stale one beside a
    /// restored database would be replayed into it, so it is replaced too.
    fn companion(&self, suffix: &str) -> Self {
        Self {
            live: beside(&self.live, suffix),
            staged: beside(&self.staged, suffix),
            aside: beside(&self.aside, suffix),
        }
    }
}

struct Targets {
    database: Target,
    companions: [Target; 2],
    master_key: Target,
    /// The local object store, when the backup holds it.
    files: Option<Target>,
}

impl Targets {
    fn new(layout: &Layout, manifest: &Manifest, id: &str) -> Self {
        let database = Target::new(layout.database.clone(), id);
        Self {
            companions: [database.companion("-wal"), database.companion("-shm")],
            database,
            master_key: Target::new(layout.master_key.clone(), id),
            files: layout
                .files
                .clone()
                .filter(|_| manifest.files_included)
                .map(|live| Target::new(live, id)),
        }
    }

    fn all(&self) -> impl Iterator<Item = &Target> {
        [&self.database, &self.master_key]
            .into_iter()
            .chain(&self.companions)
            .chain(&self.files)
    }

    /// Moves every live path aside, then every staged one into place; on failure, puts
    /// things back as they were. The replaced data is deleted once all is in place.
    fn swap(&self) -> anyhow::Result<()> {
        let mut aside = Vec::new();
        let mut placed = Vec::new();
        let mut run = || -> anyhow::Result<()> {
            for target in self.all().filter(|t| exists(&t.live)) {
                rename(&target.live, &target.aside)?;
                aside.push(target);
            }
            for target in self.all().filter(|t| exists(&t.staged)) {
                rename(&target.staged, &target.live)?;
                placed.push(target);
            }
            Ok(())
        };
        if let Err(error) = run() {
            for target in placed {
                let _ = std::fs::rename(&target.live, &target.staged);
            }
            for target in aside {
                let _ = std::fs::rename(&target.aside, &target.live);
            }
            return Err(
                error.context("putting the restored data in place; the previous data was put back")
            );
        }
        for target in aside {
            remove(&target.aside);
        }
        Ok(())
    }
}

/// Removes whatever is left at the staged paths when restore stops early.
struct StagedGuard<'a>(&'a Targets);

impl Drop for StagedGuard<'_> {
    fn drop(&mut self) {
        for target in self.0.all() {
            remove(&target.staged);
        }
    }
}

fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

fn rename(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::rename(from, to)
        .with_context(|| format!("renaming {} to {}", from.display(), to.display()))
}

/// Removes a file or folder if present; a failure is reported, not fatal (the restore
/// itself is done or undone by then).
fn remove(path: &Path) {
    let Ok(meta) = path.symlink_metadata() else {
        return;
    };
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    if let Err(error) = removed {
        eprintln!("warning: could not remove {}: {error}", path.display());
    }
}

//! `tenantbase backup --out FILE`: an online backup of a SQLite deployment. The local
//! objects are hard-linked into a staging folder before and again after the database
//! snapshot, so every object a snapshot row names is in (an upload writes its object
//! before its row; a deletion removes the row first); objects without a row are swept by
//! `files.sweep` after a restore.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use tenantbase_store::OpsStore;
use walkdir::WalkDir;

use super::archive::{self, Source};
use super::{
    DATABASE_ENTRY, Entry, FILES_PREFIX, FORMAT, FORMAT_VERSION, Hashing, Layout, MASTER_KEY_ENTRY,
    Manifest, RUNBOOK, beside,
};
use crate::config::Config;
use crate::connect;

pub(crate) async fn run(config: &Config, out: &Path) -> anyhow::Result<()> {
    let layout = Layout::of(config, "backup")?;
    if !layout.database.is_file() {
        bail!(
            "there is no database at {}: nothing to back up",
            layout.database.display()
        );
    }
    if out.exists() {
        bail!("{} exists; give a new file to --out", out.display());
    }
    let stage = Stage::create(&layout.data_dir)?;
    let staged_files = stage.path.join("files");
    if let Some(files) = &layout.files {
        link_objects(files, &staged_files)?;
    }
    let snapshot = stage.path.join("tenantbase.db");
    let url = config.database_url();
    let store = connect::open_sqlite(config, secrecy::ExposeSecret::expose_secret(&url)).await?;
    let taken = store.snapshot_into(&snapshot).await;
    store.close().await;
    taken.context("taking the database snapshot (VACUUM INTO)")?;
    if let Some(files) = &layout.files {
        link_objects(files, &staged_files)?;
    }
    let info = tenantbase_store_sqlite::inspect_snapshot(&snapshot)
        .await
        .context("checking the database snapshot")?;

    let mut sources = vec![source(DATABASE_ENTRY.to_owned(), snapshot)?];
    let master_key_included = layout.master_key.is_file();
    if master_key_included {
        sources.push(source(
            MASTER_KEY_ENTRY.to_owned(),
            layout.master_key.clone(),
        )?);
    }
    let objects = staged_objects(&staged_files)?;
    for (relative, path) in objects {
        sources.push(source(format!("{FILES_PREFIX}{relative}"), path)?);
    }
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        tenantbase_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: Utc::now(),
        backend: "sqlite".to_owned(),
        schema_migration: info.migration,
        master_key_included,
        files_included: layout.files.is_some(),
        entries: sources.iter().map(|s| s.entry.clone()).collect(),
    };

    // Written under a draft name and renamed when whole: a file at `out` is a full backup.
    let draft = beside(out, &format!(".partial-{}", uuid::Uuid::now_v7().simple()));
    let written = archive::write(&draft, &manifest, &sources).and_then(|size| {
        std::fs::rename(&draft, out)
            .with_context(|| format!("renaming {} to {}", draft.display(), out.display()))?;
        Ok(size)
    });
    let size = match written {
        Ok(size) => size,
        Err(error) => {
            let _ = std::fs::remove_file(&draft);
            return Err(error);
        }
    };
    drop(stage);
    let configured_key = config.auth.master_key.is_some();
    print_summary(out, size, &manifest, &layout, configured_key);
    Ok(())
}

fn print_summary(
    out: &Path,
    size: u64,
    manifest: &Manifest,
    layout: &Layout,
    configured_key: bool,
) {
    let entry_size = |path: &str| {
        manifest
            .entries
            .iter()
            .find(|e| e.path == path)
            .map_or(0, |e| e.size)
    };
    let files: Vec<&Entry> = manifest
        .entries
        .iter()
        .filter(|e| e.path.starts_with(FILES_PREFIX))
        .collect();
    println!("wrote {} ({size} bytes)", out.display());
    println!(
        "  database  {} bytes, migration {}",
        entry_size(DATABASE_ENTRY),
        manifest.schema_migration
    );
    if manifest.files_included {
        let bytes: u64 = files.iter().map(|e| e.size).sum();
        println!("  files     {} objects, {bytes} bytes", files.len());
    } else {
        println!("  files     not included: they live in S3 or Azure Blob (see {RUNBOOK})");
    }
    if manifest.master_key_included {
        println!(
            "  keys      {} — the archive can open every signing key and sealed secret: store it encrypted, access-controlled",
            layout.master_key.display()
        );
    } else if configured_key {
        println!(
            "  keys      not included: auth.master_key is configured; keep it, restore needs it"
        );
    } else {
        println!("  keys      none yet: the first `serve` generates <data_dir>/master.key");
    }
}

/// A source with its manifest entry: size and SHA-256 read from disk now.
fn source(path: String, source: PathBuf) -> anyhow::Result<Source> {
    let file =
        std::fs::File::open(&source).with_context(|| format!("reading {}", source.display()))?;
    let (sha256, size) = Hashing::new(file)
        .finish()
        .with_context(|| format!("reading {}", source.display()))?;
    Ok(Source {
        entry: Entry { path, size, sha256 },
        source,
    })
}

/// Hard-links every object under `root` not yet in `stage` into it (copying where links
/// are refused, e.g. across file systems), so the set stays as it was whatever the server
/// deletes meanwhile. Objects the store is still writing (`…#N` drafts) are left out.
fn link_objects(root: &Path, stage: &Path) -> anyhow::Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    for found in WalkDir::new(root).follow_links(false) {
        let found = match found {
            Ok(found) => found,
            // Removed while we walked: a deletion, which the snapshot decides about.
            Err(error)
                if error.io_error().map(|e| e.kind()) == Some(std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(error) => return Err(error).with_context(|| format!("listing {}", root.display())),
        };
        if !found.file_type().is_file() || found.file_name().to_string_lossy().contains('#') {
            continue;
        }
        let relative = found.path().strip_prefix(root)?;
        let target = stage.join(relative);
        if target.exists() {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let linked = std::fs::hard_link(found.path(), &target)
            .or_else(|_| std::fs::copy(found.path(), &target).map(|_| ()));
        match linked {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("staging {}", found.path().display()));
            }
        }
    }
    Ok(())
}

/// The staged objects as (path under `files/` with `/` separators, staged path), sorted.
fn staged_objects(stage: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut objects = Vec::new();
    if !stage.is_dir() {
        return Ok(objects);
    }
    for found in WalkDir::new(stage).sort_by_file_name() {
        let found = found.with_context(|| format!("listing {}", stage.display()))?;
        if !found.file_type().is_file() {
            continue;
        }
        let relative = found.path().strip_prefix(stage)?;
        let Some(name) = relative.to_str() else {
            bail!(
                "object {} has a name that is not UTF-8",
                found.path().display()
            );
        };
        objects.push((
            name.replace(std::path::MAIN_SEPARATOR, "/"),
            found.path().to_owned(),
        ));
    }
    Ok(objects)
}

/// A staging folder inside the data folder (so links to objects stay on one file
/// system), removed with everything in it when dropped.
struct Stage {
    path: PathBuf,
}

impl Stage {
    fn create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(format!(".backup-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {error}", self.path.display());
        }
    }
}

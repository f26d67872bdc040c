//! The archive on disk: writing the manifest and then every entry, and reading an archive
//! back while holding each entry to the manifest — first to verify it without writing
//! anything, then to extract it into a staging place.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::{Entry, FORMAT, FORMAT_VERSION, Hashing, MANIFEST, Manifest, item};

/// The largest manifest read: one line per file, and a damaged header must not make
/// `restore` read without bound.
const MANIFEST_LIMIT: u64 = 256 << 20;

/// A file to archive as `entry`, read from `source`.
pub(super) struct Source {
    pub entry: Entry,
    pub source: PathBuf,
}

/// Writes `manifest` and then every source to `out`, created readable by its owner only
/// (the archive may hold the master key), and flushes it to disk. Each source is hashed
/// again as it is written and must still match its entry. Returns the archive's size.
pub(super) fn write(out: &Path, manifest: &Manifest, sources: &[Source]) -> anyhow::Result<u64> {
    let file = create_private(out)?;
    let mut tar = tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::default()));
    let json = serde_json::to_vec_pretty(manifest)?;
    append(&mut tar, MANIFEST, json.len() as u64, &json[..])?;
    for source in sources {
        let file = File::open(&source.source)
            .with_context(|| format!("reading {}", source.source.display()))?;
        let mut reader = Hashing::new(file);
        append(&mut tar, &source.entry.path, source.entry.size, &mut reader)?;
        let (sha256, size) = reader.finish()?;
        if sha256 != source.entry.sha256 || size != source.entry.size {
            bail!(
                "{} changed while it was being backed up",
                source.source.display()
            );
        }
    }
    let file = tar
        .into_inner()?
        .finish()?
        .into_inner()
        .map_err(|error| error.into_error())?;
    file.sync_all()
        .with_context(|| format!("flushing {}", out.display()))?;
    Ok(file.metadata()?.len())
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    tar.append_data(&mut header, path, data)
        .with_context(|| format!("writing {path} to the archive"))
}

/// Creates `path` for writing, readable by its owner only; fails if it exists.
pub(super) fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Reads the whole archive and checks it against its manifest, writing nothing.
pub(super) fn verify(path: &Path) -> anyhow::Result<Manifest> {
    read(path, |_, _| Ok(()))
}

/// Writes every entry to the path `place` gives it (which must not exist), checking each
/// against the manifest as it goes; the caller discards what was written on error.
pub(super) fn extract(
    path: &Path,
    place: impl Fn(&Entry) -> anyhow::Result<PathBuf>,
) -> anyhow::Result<Manifest> {
    read(path, |entry, data| {
        let target = place(entry)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut out = BufWriter::new(create_private(&target)?);
        std::io::copy(data, &mut out).with_context(|| format!("writing {}", target.display()))?;
        out.into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()
            .with_context(|| format!("flushing {}", target.display()))
    })
}

/// Reads the archive at `path`: the manifest first (its format and version checked, its
/// entries plain and unique), then every entry, which must be a regular file listed in
/// the manifest, seen once, of the listed size and SHA-256; `each` sees its bytes on the
/// way. Every listed entry must be present, and the compressed stream intact to its end.
fn read(
    path: &Path,
    mut each: impl FnMut(&Entry, &mut dyn Read) -> anyhow::Result<()>,
) -> anyhow::Result<Manifest> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    let mut entries = archive.entries()?;
    let first = entries
        .next()
        .ok_or_else(|| anyhow!("the archive is empty"))??;
    if first.path()?.to_str() != Some(MANIFEST) {
        bail!("the first entry is not {MANIFEST}");
    }
    let manifest: Manifest = serde_json::from_reader(first.take(MANIFEST_LIMIT))
        .with_context(|| format!("{MANIFEST} is not a backup manifest"))?;
    if manifest.format != FORMAT {
        bail!("{MANIFEST} is not a {FORMAT} manifest");
    }
    if manifest.format_version != FORMAT_VERSION {
        bail!(
            "backup format version {} is not {FORMAT_VERSION}, the one this build reads",
            manifest.format_version
        );
    }
    let mut seen: HashMap<&str, (&Entry, bool)> = HashMap::new();
    for entry in &manifest.entries {
        if item(&entry.path).is_none() {
            bail!(
                "{MANIFEST} lists `{}`, not a place a backup writes",
                entry.path
            );
        }
        if seen.insert(&entry.path, (entry, false)).is_some() {
            bail!("{MANIFEST} lists `{}` twice", entry.path);
        }
    }
    for tar_entry in entries {
        let mut tar_entry = tar_entry?;
        let name = tar_entry
            .path()?
            .to_str()
            .ok_or_else(|| anyhow!("an entry's name is not UTF-8"))?
            .to_owned();
        if tar_entry.header().entry_type() != tar::EntryType::Regular {
            bail!("entry `{name}` is not a regular file");
        }
        let Some((entry, visited)) = seen.get_mut(name.as_str()) else {
            bail!("entry `{name}` is not in {MANIFEST}");
        };
        if std::mem::replace(visited, true) {
            bail!("entry `{name}` appears twice");
        }
        let mut data = Hashing::new(&mut tar_entry);
        each(entry, &mut data)?;
        let (sha256, size) = data.finish()?;
        if size != entry.size || sha256 != entry.sha256 {
            bail!("entry `{name}` does not match its size and SHA-256 in {MANIFEST}");
        }
    }
    if let Some(missing) = manifest
        .entries
        .iter()
        .find(|entry| !seen.get(entry.path.as_str()).is_some_and(|(_, v)| *v))
    {
        bail!("entry `{}` listed in {MANIFEST} is missing", missing.path);
    }
    // Reading on to the end of the gzip stream checks its CRC and length.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).context("the archive's end is damaged")?;
    Ok(manifest)
}

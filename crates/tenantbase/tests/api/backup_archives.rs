//! Helpers for the backup tests: rewriting an archive entry by entry (to damage it the
//! ways the tests need) and fingerprinting a folder.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// Changes one entry (name, bytes): renamed, altered, or dropped (`None`).
pub type Edit<'a> = &'a dyn Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>;

/// Writes `to`: `from`'s entries in order, each passed through `edit` (name, bytes), which
/// may rename, change or drop it (`None`). Names are written as given, `..` included, as
/// a hostile archive would carry them.
pub fn rewrite(from: &Path, to: &Path, edit: Edit<'_>) {
    let mut source = tar::Archive::new(GzDecoder::new(std::fs::File::open(from).expect("open")));
    let out = GzEncoder::new(
        std::fs::File::create(to).expect("create"),
        Compression::fast(),
    );
    let mut target = tar::Builder::new(out);
    for entry in source.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read");
        let Some((name, bytes)) = edit(&name, bytes) else {
            continue;
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        let raw = &mut header.as_gnu_mut().expect("gnu").name;
        assert!(name.len() < raw.len(), "short names only: {name}");
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        target.append(&header, &bytes[..]).expect("append");
    }
    target.into_inner().expect("tar").finish().expect("gzip");
}

/// Every file under `dir` (path relative to it, `/`-separated) with its SHA-256.
pub fn data_digest(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| {
            let relative = entry.path().strip_prefix(dir).expect("inside");
            let bytes = std::fs::read(entry.path()).expect("read");
            (
                relative.to_string_lossy().replace('\\', "/"),
                hex::encode(Sha256::digest(&bytes)),
            )
        })
        .collect()
}

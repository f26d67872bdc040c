//! Streamed writes to the local folder, past the page cache. A write is synced before it
//! is published anyway, so copying its bytes into the cache only to flush them at once is
//! pure cost (the kernel's copy into fresh cache pages was the largest item of an upload's
//! profile): whole aligned blocks go to the staged file with `O_DIRECT`, the tail through
//! the cache. Finishing syncs the file, renames it into place and syncs its folder, so a
//! finished write survives a power cut — as `object_store`'s local store does with
//! `with_fsync`, whose staged-file naming (`key#n`, invisible to listing) this keeps.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

/// Bytes per block written: large writes, and memory per upload of two blocks at most
/// (one filling while the other is written).
const BLOCK: usize = 1024 * 1024;
/// Alignment of a direct write's memory, offset and length: what any common disk needs.
const ALIGN: usize = 4096;

/// A block's bytes, starting at an `ALIGN`ed address.
struct Block {
    buf: Vec<u8>,
    /// Where the aligned bytes start in `buf`.
    start: usize,
}

impl Block {
    fn new() -> Self {
        let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + ALIGN);
        // `buf` never grows past its capacity, so its address and this offset stay put.
        let start = (ALIGN - buf.as_ptr().addr() % ALIGN) % ALIGN;
        buf.resize(start, 0);
        Self { buf, start }
    }

    /// A block with nothing to hold, for a writer done with its own.
    fn unallocated() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn is_full(&self) -> bool {
        self.bytes().len() == BLOCK
    }

    /// Copies what fits of `bytes`; how much that was.
    fn fill(&mut self, bytes: &[u8]) -> usize {
        let taken = bytes.len().min(BLOCK - self.bytes().len());
        self.buf.extend_from_slice(&bytes[..taken]);
        taken
    }

    fn emptied(mut self) -> Self {
        self.buf.truncate(self.start);
        self
    }
}

/// The staged file beside the destination, open for direct writes where the folder's file
/// system allows them.
struct Staged {
    path: PathBuf,
    file: File,
    direct: bool,
}

impl Staged {
    /// Creates `dest#n` for the first free `n`, and the folders leading to it (synced, so
    /// the file's entry cannot vanish with a new folder).
    fn create(dest: &Path) -> io::Result<Self> {
        let mut n = 1u64;
        let mut folders_made = false;
        loop {
            let mut path = dest.as_os_str().to_owned();
            path.push(format!("#{n}"));
            let path = PathBuf::from(path);
            match open_new(&path) {
                Ok((file, direct)) => return Ok(Self { path, file, direct }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => n += 1,
                Err(e) if e.kind() == ErrorKind::NotFound && !folders_made => {
                    create_folders(dest)?;
                    folders_made = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes `bytes` at `offset`: directly when they are whole aligned blocks, through the
    /// page cache otherwise (the tail of the file, or a disk that wants more alignment).
    fn write_at(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        if self.direct && bytes.len().is_multiple_of(ALIGN) {
            match self.file.write_all_at(bytes, offset) {
                Err(e) if e.kind() == ErrorKind::InvalidInput => {}
                written => return written,
            }
        }
        OpenOptions::new()
            .write(true)
            .open(&self.path)?
            .write_all_at(bytes, offset)
    }

    /// The last bytes: the aligned part directly, the rest through the cache.
    fn write_last(&self, bytes: &[u8], offset: u64) -> io::Result<()> {
        let aligned = bytes.len() / ALIGN * ALIGN;
        let (whole, tail) = bytes.split_at(aligned);
        for (part, at) in [(whole, offset), (tail, offset + aligned as u64)] {
            if !part.is_empty() {
                self.write_at(part, at)?;
            }
        }
        Ok(())
    }

    /// Makes the bytes durable, then publishes them under `dest` and makes that durable.
    fn publish(self, dest: &Path) -> io::Result<()> {
        // `fsync` covers the inode's bytes whichever descriptor wrote them, and flushes the
        // disk's write cache.
        self.file.sync_all()?;
        drop(self.file);
        std::fs::rename(&self.path, dest)?;
        sync_parent(dest)
    }
}

/// Opens `path`, which must not exist, with `O_DIRECT` if the file system takes it.
fn open_new(path: &Path) -> io::Result<(File, bool)> {
    let direct = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    match direct {
        // Linux refuses `O_DIRECT` after creating the file: open what it created.
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            Ok((file, false))
        }
        opened => Ok((opened?, true)),
    }
}

/// Creates the missing folders above `dest` and syncs the folder holding each new one.
fn create_folders(dest: &Path) -> io::Result<()> {
    let parent = dest.parent().ok_or(ErrorKind::NotFound)?;
    let mut missing = Vec::new();
    let mut folder = parent;
    while !folder.exists() {
        missing.push(folder);
        folder = folder.parent().ok_or(ErrorKind::NotFound)?;
    }
    std::fs::create_dir_all(parent)?;
    missing.iter().try_for_each(|created| sync_parent(created))
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// A blocking task's result, a panic in it as an error.
async fn joined<T>(task: JoinHandle<io::Result<T>>) -> io::Result<T> {
    task.await.map_err(io::Error::other)?
}

/// A streamed write in progress under the local folder. Dropping it without `finish`
/// removes the staged file.
pub(crate) struct LocalWriter {
    dest: PathBuf,
    /// `None` once published or removed.
    staged: Option<Arc<Staged>>,
    block: Block,
    /// Bytes handed to blocking writes so far: the offset of `block`.
    written: u64,
    /// The previous block being written; it comes back emptied, to be filled again.
    in_flight: Option<JoinHandle<io::Result<Block>>>,
}

impl LocalWriter {
    pub(crate) async fn create(dest: PathBuf) -> io::Result<Self> {
        let at = dest.clone();
        let staged = joined(tokio::task::spawn_blocking(move || Staged::create(&at))).await?;
        Ok(Self {
            dest,
            staged: Some(Arc::new(staged)),
            block: Block::new(),
            written: 0,
            in_flight: None,
        })
    }

    fn staged(&self) -> io::Result<Arc<Staged>> {
        self.staged
            .clone()
            .ok_or_else(|| ErrorKind::NotFound.into())
    }

    /// Appends `bytes`. A full block is written once more bytes come (the last one is
    /// `finish`'s), after the block before it is done.
    pub(crate) async fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.block.is_full() {
                self.write_block().await?;
            }
            bytes = &bytes[self.block.fill(bytes)..];
        }
        Ok(())
    }

    async fn write_block(&mut self) -> io::Result<()> {
        let next = match self.in_flight.take() {
            Some(task) => joined(task).await?,
            None => Block::new(),
        };
        let full = std::mem::replace(&mut self.block, next);
        let (staged, offset) = (self.staged()?, self.written);
        self.written += BLOCK as u64;
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            staged.write_at(full.bytes(), offset)?;
            Ok(full.emptied())
        }));
        Ok(())
    }

    /// Writes what is left, syncs, and publishes the file under its key; on failure the
    /// staged file is removed.
    pub(crate) async fn finish(mut self) -> io::Result<()> {
        if let Some(task) = self.in_flight.take() {
            joined(task).await?;
        }
        let last = std::mem::replace(&mut self.block, Block::unallocated());
        let (offset, dest) = (self.written, self.dest.clone());
        let staged = self.staged.take().ok_or(ErrorKind::NotFound)?;
        joined(tokio::task::spawn_blocking(move || {
            let path = staged.path.clone();
            let published = staged.write_last(last.bytes(), offset).and_then(|()| {
                // The block writes are done, and held the only other references.
                Arc::into_inner(staged)
                    .ok_or_else(|| io::Error::other("the staged file is still shared"))?
                    .publish(&dest)
            });
            if published.is_err() {
                remove_staged(&path);
            }
            published
        }))
        .await
    }

    /// Removes the staged file.
    pub(crate) async fn abort(mut self) -> io::Result<()> {
        let path = self.staged()?.path.clone();
        self.staged = None;
        joined(tokio::task::spawn_blocking(move || {
            std::fs::remove_file(path)
        }))
        .await
    }
}

/// Best effort: the staged file is invisible to listing either way, and an error here
/// has no one to go to.
fn remove_staged(path: &Path) {
    let _ = std::fs::remove_file(path);
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        let Some(staged) = self.staged.take() else {
            return;
        };
        let path = staged.path.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || remove_staged(&path))),
            Err(_) => remove_staged(&path),
        }
    }
}

/// Whether `name` is a staged file's (`key#n`).
fn is_staged(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(key, n)| {
        !key.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Removes the staged files (`key#n`) under `folder` last written before `cutoff`: the
/// writes a crash or a shutdown's deadline left behind, which listing never shows and so
/// no sweep of objects finds. A write under way touches its file with every block. A
/// missing folder holds none. Returns how many went.
pub(crate) fn remove_stale_staged(folder: &Path, cutoff: std::time::SystemTime) -> io::Result<u64> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            removed += remove_stale_staged(&entry.path(), cutoff)?;
        } else if kind.is_file()
            && is_staged(&entry.file_name().to_string_lossy())
            && entry.metadata()?.modified()? < cutoff
        {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Finished or removed by its writer meanwhile.
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_staged_files_older_than_the_cutoff_are_removed() {
        let root = tempfile::tempdir().expect("temp dir");
        let folder = root.path().join("org/a");
        std::fs::create_dir_all(&folder).expect("folders");
        let now = std::time::SystemTime::now();
        let hour_ago = now - std::time::Duration::from_secs(3600);
        for (name, written) in [
            ("f1#1", hour_ago),
            ("f1#2", now),
            ("f1", hour_ago),
            ("odd#x", hour_ago),
            ("#3", hour_ago),
        ] {
            let file = File::create(folder.join(name)).expect("create");
            file.set_modified(written).expect("mtime");
        }
        let cutoff = now - std::time::Duration::from_secs(60);
        assert_eq!(remove_stale_staged(root.path(), cutoff).expect("sweep"), 1);
        assert_eq!(names(&folder), ["#3", "f1", "f1#2", "odd#x"]);
        let missing = root.path().join("nothing here");
        assert_eq!(remove_stale_staged(&missing, cutoff).expect("none"), 0);
    }

    fn names(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .expect("read folder")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into())
            .collect();
        names.sort();
        names
    }

    /// Bytes that differ along the file, so a block written at the wrong offset shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn blocks_and_tail_land_in_order_in_new_folders() {
        let root = tempfile::tempdir().expect("temp dir");
        let dest = root.path().join("org/a/f1");
        // Three whole blocks and a tail that is not a multiple of the alignment, in
        // chunks that straddle the blocks.
        let bytes = pattern(3 * BLOCK + 12_345);
        let mut writer = LocalWriter::create(dest.clone()).await.expect("create");
        for chunk in bytes.chunks(100_003) {
            writer.write(chunk).await.expect("write");
        }
        assert!(!dest.exists(), "nothing is published before finish");
        writer.finish().await.expect("finish");
        assert_eq!(std::fs::read(&dest).expect("read"), bytes);
        assert_eq!(names(&root.path().join("org/a")), ["f1"]);
    }

    #[tokio::test]
    async fn an_unfinished_write_leaves_nothing() {
        let root = tempfile::tempdir().expect("temp dir");
        let mut dropped = LocalWriter::create(root.path().join("f1"))
            .await
            .expect("create");
        dropped.write(&pattern(BLOCK + 1)).await.expect("write");
        let mut aborted = LocalWriter::create(root.path().join("f2"))
            .await
            .expect("create");
        aborted.write(b"abc").await.expect("write");
        assert_eq!(
            names(root.path()),
            ["f1#1", "f2#1"],
            "staged beside their keys"
        );
        drop(dropped);
        aborted.abort().await.expect("abort");
        // The drop removes its file on a blocking thread.
        for _ in 0..100 {
            if names(root.path()).is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("left behind: {:?}", names(root.path()));
    }

    #[tokio::test]
    async fn empty_and_tiny_files_are_written() {
        let root = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in [("empty", Vec::new()), ("tiny", b"abc".to_vec())] {
            let dest = root.path().join(name);
            let mut writer = LocalWriter::create(dest.clone()).await.expect("create");
            writer.write(&bytes).await.expect("write");
            writer.finish().await.expect("finish");
            assert_eq!(std::fs::read(&dest).expect("read"), bytes);
        }
    }
}

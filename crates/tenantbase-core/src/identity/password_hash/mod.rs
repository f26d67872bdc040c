//! Password hashing with argon2id: PHC strings with a random salt, verification that also
//! says when a stored hash is due for the current parameters, and a dummy verification so
//! that a login to an unknown account costs as long as one to a real account.
//!
//! Every hash runs on a few threads of its own behind a semaphore: a hash is ~19 MiB and
//! tens of milliseconds of CPU, so a burst of logins must neither starve the async runtime
//! nor allocate without bound. Hashes waiting for a turn are bounded too: past
//! `max_queued`, a call fails at once with `Overloaded` (503 with `Retry-After`) instead of
//! waiting out the request timeout behind a queue it cannot get through.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{self, Output, ParamsString, SaltString};
use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, PasswordVerifier as _, Version,
};
use secrecy::{ExposeSecret, SecretString};
use tenantbase_domain::password::{Password, normalize};
use tokio::sync::Semaphore;

/// The salt of the dummy hash. It is never compared with anything: it only has to be a
/// valid salt of the usual length.
const DUMMY_SALT: &[u8; 16] = b"tenantbase-dummy";

/// Argon2id costs and how many hashes may run at once.
///
/// The defaults are OWASP's recommended argon2id setting (19 MiB, 2 passes, 1 lane),
/// which costs about 30 ms of one core per hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashConfig {
    /// Memory per hash in KiB. Default 19456 (19 MiB).
    pub memory_kib: u32,
    /// Passes over that memory. Default 2.
    pub iterations: u32,
    /// Lanes per hash. Default 1: a server's parallelism comes from concurrent logins.
    pub parallelism: u32,
    /// Most hashes computed at once; each holds `memory_kib` while it runs. Default 2.
    pub max_concurrent: usize,
    /// Most hashes waiting for one of those slots; more are refused at once. Default 32:
    /// at the default cost two slots clear it in about half a second.
    pub max_queued: usize,
}

impl Default for HashConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 2,
            max_queued: 32,
        }
    }
}

/// What a refused caller is told to wait (`Retry-After`): a full queue at the default
/// cost drains in about half a second, so one second sees it moving again.
pub const OVERLOADED_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// Whether the password is the one the hash was made from.
    pub matches: bool,
    /// Whether the hash was made with other parameters than the configured ones; when the
    /// password matches, store a fresh hash of it.
    pub needs_rehash: bool,
}

/// Why a password could not be hashed or checked. A wrong password is not an error.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(#[source] argon2::Error),
    #[error(
        "max_concurrent must be at least 1, and it plus max_queued at most {}",
        Semaphore::MAX_PERMITS
    )]
    InvalidConcurrency,
    /// Every slot is busy and `max_queued` hashes already wait: retry later.
    #[error("too many password hashes are waiting; retry later")]
    Overloaded,
    #[error("the stored password hash is not a usable argon2 PHC string: {0}")]
    MalformedHash(#[source] password_hash::Error),
    #[error("the stored password hash has no salt or no hash value")]
    IncompleteHash,
    #[error("computing the password hash failed: {0}")]
    Hash(#[source] password_hash::Error),
    #[error("the password hasher is shut down")]
    Closed,
}

/// Hashes and verifies passwords with argon2id on threads of its own, at most
/// `max_concurrent` at a time with at most `max_queued` waiting. Cheap to clone; clones
/// share the limits.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: Params,
    /// One per hash running now.
    permits: Arc<Semaphore>,
    /// One per hash running or waiting (`max_concurrent + max_queued`), taken without
    /// waiting: when none is left, the caller is refused rather than queued.
    admissions: Arc<Semaphore>,
    /// Where hashes run: a few threads of their own rather than the blocking pool. Each
    /// hash needs `memory_kib` at once; glibc keeps such blocks in the arena of the thread
    /// that freed them, so spread over the blocking pool's many threads they add up to
    /// hundreds of MiB, while on `max_concurrent` threads they stay that many blocks.
    threads: Arc<HashThreads>,
    /// A PHC string with the current parameters that no password matches.
    dummy_phc: Arc<str>,
}

impl PasswordHasher {
    /// A hasher with `config`'s costs, refusing costs argon2 cannot run with.
    pub fn new(config: HashConfig) -> Result<Self, HashError> {
        let admitted = config
            .max_concurrent
            .checked_add(config.max_queued)
            .filter(|&n| config.max_concurrent > 0 && n <= Semaphore::MAX_PERMITS)
            .ok_or(HashError::InvalidConcurrency)?;
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .map_err(HashError::InvalidParams)?;
        let dummy_phc = dummy_phc(&params).map_err(HashError::Hash)?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
            params,
            permits: Arc::new(Semaphore::new(config.max_concurrent)),
            admissions: Arc::new(Semaphore::new(admitted)),
            threads: Arc::new(HashThreads::start(config.max_concurrent)?),
            dummy_phc: dummy_phc.into(),
        })
    }

    /// The PHC string of `password` (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) with a fresh
    /// random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.clone();
        let argon2 = self.argon2.clone();
        let params = self.params.clone();
        self.run(move || hash_blocking(&argon2, &params, password.expose().as_bytes()))
            .await
    }

    /// Whether `candidate` is the password `phc` was made from. The candidate is
    /// normalised like a new password, so a decomposed spelling of it still matches.
    pub async fn verify(&self, candidate: &str, phc: &str) -> Result<Verification, HashError> {
        let candidate = SecretString::from(normalize(candidate));
        let phc = phc.to_owned();
        let current = self.params.clone();
        self.run(move || verify_blocking(candidate.expose_secret(), &phc, &current))
            .await
    }

    /// Spends the time of a real verification on nothing, for a login to an account that
    /// does not exist, so that response times do not tell which accounts do. It fails as
    /// a real one would (`Overloaded` above all), for the same reason.
    pub async fn verify_dummy(&self, candidate: &str) -> Result<(), HashError> {
        let dummy_phc = Arc::clone(&self.dummy_phc);
        self.verify(candidate, &dummy_phc).await.map(|_| ())
    }

    /// Runs `work` on the hashing threads once a permit is free; refuses at once when
    /// `max_queued` callers already wait for one.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let admission = Arc::clone(&self.admissions)
            .try_acquire_owned()
            .map_err(|error| match error {
                tokio::sync::TryAcquireError::NoPermits => HashError::Overloaded,
                tokio::sync::TryAcquireError::Closed => HashError::Closed,
            })?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Closed)?;
        // Both permits move into the job: when a caller gives up (a request timeout drops
        // this future), the hash keeps running and keeps its memory counted until it ends.
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads.execute(Box::new(move || {
            let result = work();
            // Released before the caller hears back, so a finished hash never holds a slot.
            drop((permit, admission));
            let _ = done.send(result);
        }))?;
        result.await.map_err(|_| HashError::Closed)?
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running hashing jobs in arrival order. They end when the last
/// clone of the hasher is dropped (the channel closes).
struct HashThreads {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

impl HashThreads {
    fn start(count: usize) -> Result<Self, HashError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..count {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not while running it.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|_| HashError::Closed)?;
        }
        Ok(Self {
            jobs: std::sync::Mutex::new(jobs),
        })
    }

    fn execute(&self, job: Job) -> Result<(), HashError> {
        let jobs = self.jobs.lock().map_err(|_| HashError::Closed)?;
        jobs.send(job).map_err(|_| HashError::Closed)
    }
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

fn verify_blocking(
    candidate: &str,
    phc: &str,
    current: &Params,
) -> Result<Verification, HashError> {
    let hash = PasswordHash::new(phc).map_err(HashError::MalformedHash)?;
    // Without these, argon2 reports a mere mismatch; a broken row deserves an error.
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(HashError::IncompleteHash);
    }
    let matches = if hash.algorithm == ARGON2ID_IDENT {
        argon2id_matches(candidate.as_bytes(), &hash, current)?
    } else {
        // argon2i/argon2d from elsewhere: rare, so the allocating path is fine.
        match Argon2::default().verify_password(candidate.as_bytes(), &hash) {
            Ok(()) => true,
            Err(password_hash::Error::Password) => false,
            Err(error) => return Err(HashError::MalformedHash(error)),
        }
    };
    Ok(Verification {
        matches,
        needs_rehash: needs_rehash(&hash, current),
    })
}

thread_local! {
    /// Argon2's working memory on this hashing thread, reused by every hash it runs:
    /// allocating `memory_kib` per hash would leave freed blocks of that size in glibc's
    /// per-thread arenas, and the process would keep hundreds of MiB after a burst.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` over `count` memory blocks: this thread's reusable buffer when `count` is
/// within the configured cost, a one-off allocation for the odd larger stored hash.
fn with_blocks<T>(count: usize, current: &Params, f: impl FnOnce(&mut [Block]) -> T) -> T {
    if count > current.block_count() {
        return f(&mut vec![Block::default(); count]);
    }
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        f(&mut blocks[..count])
    })
}

/// A PHC string for `password` under `params`, with a fresh random salt.
fn hash_blocking(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &[u8],
) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buffer).map_err(HashError::Hash)?;
    let mut output = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    with_blocks(params.block_count(), params, |blocks| {
        argon2.hash_password_into_with_memory(password, salt_bytes, &mut output, blocks)
    })
    .map_err(|e| HashError::Hash(e.into()))?;
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(HashError::Hash)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).map_err(HashError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Recomputes an argon2id PHC hash for `candidate` with the stored parameters and
/// compares in constant time (`Output`'s equality).
fn argon2id_matches(
    candidate: &[u8],
    hash: &PasswordHash<'_>,
    current: &Params,
) -> Result<bool, HashError> {
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return Err(HashError::IncompleteHash);
    };
    let params = Params::try_from(hash).map_err(HashError::MalformedHash)?;
    let version = match hash.version {
        Some(v) => Version::try_from(v).map_err(|e| HashError::MalformedHash(e.into()))?,
        None => Version::default(),
    };
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_buffer)
        .map_err(HashError::MalformedHash)?;
    let mut output = vec![0u8; expected.len()];
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    with_blocks(params.block_count(), current, |blocks| {
        argon2.hash_password_into_with_memory(candidate, salt_bytes, &mut output, blocks)
    })
    .map_err(|e| HashError::MalformedHash(e.into()))?;
    Ok(Output::new(&output).map_err(HashError::MalformedHash)? == expected)
}

fn needs_rehash(hash: &PasswordHash<'_>, current: &Params) -> bool {
    if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(stored) => costs(&stored) != costs(current),
        Err(_) => true,
    }
}

/// What a rehash would change: memory, passes, lanes and output length.
fn costs(params: &Params) -> (u32, u32, u32, usize) {
    (
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN),
    )
}

/// A PHC string with the current parameters and an all-zero hash value: verifying against
/// it costs exactly a real verification, and building it costs no hashing at start-up.
fn dummy_phc(params: &Params) -> Result<String, password_hash::Error> {
    let salt = SaltString::encode_b64(DUMMY_SALT)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let hash = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&vec![0; output_len])?),
    };
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests;

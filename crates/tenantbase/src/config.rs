//! Configuration: built-in defaults, then an optional TOML file, then `TENANTBASE_*`
//! environment variables (and `DATABASE_URL`), then command-line flags. Every setting has
//! a safe default; a bad value stops the start with a message naming its key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

mod auth;
mod database;
mod mfa;
mod oidc;
mod telemetry;
mod webauthn;

pub use auth::AuthConfig;
pub use database::DatabaseConfig;
pub use telemetry::{OtlpProtocol, TelemetryConfig};

/// The whole configuration. See the README for every key and its default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder for the embedded database, the local object store and generated keys.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; unset means SQLite at `<data_dir>/tenantbase.db`.
    pub database_url: Option<SecretString>,
    /// After SIGTERM/SIGINT, in-flight requests and jobs get this long to finish; then the
    /// process logs what it abandons and exits non-zero.
    pub shutdown_timeout_secs: u64,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub jobs: JobsConfig,
    pub audit: AuditConfig,
    pub mail: MailConfig,
    pub auth: AuthConfig,
    pub orgs: OrgsConfig,
    pub files: crate::files_config::FilesConfig,
    pub metrics: MetricsConfig,
    pub telemetry: TelemetryConfig,
}

/// Where `/metrics` is served and who may read it. Defaults: the API listener, anyone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A management listener of its own; when set, only it serves `/metrics`.
    pub listen: Option<SocketAddr>,
    /// A bearer token scrapers must send (a secret: never logged).
    pub token: Option<SecretString>,
}

impl MetricsConfig {
    /// The HTTP layer's rule for `/metrics`.
    pub fn access(&self) -> tenantbase_http::MetricsAccess {
        tenantbase_http::MetricsAccess::new(
            self.token.as_ref().map(|t| t.expose_secret()),
            self.listen.is_some(),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrgsConfig {
    /// A deleted org can be restored for this many days; then its data is purged.
    pub restore_days: u32,
    /// How long an invitation link works.
    pub invitation_ttl_hours: u32,
    /// Invitation emails one user may send per hour, across all orgs.
    pub invitations_per_hour_per_inviter: u32,
    /// Invitation emails sent from one org per hour.
    pub invitations_per_hour_per_org: u32,
    /// Orgs a guest may have created (until purged).
    pub max_created_per_guest: u32,
    /// Orgs an account with credentials may have created (until purged).
    pub max_created_per_user: u32,
}

impl Default for OrgsConfig {
    fn default() -> Self {
        Self {
            restore_days: 30,
            invitation_ttl_hours: 168,
            invitations_per_hour_per_inviter: 50,
            invitations_per_hour_per_org: 100,
            max_created_per_guest: 5,
            max_created_per_user: 100,
        }
    }
}

impl OrgsConfig {
    pub fn tenancy_policy(&self) -> tenantbase_core::tenancy::TenancyPolicy {
        tenantbase_core::tenancy::TenancyPolicy {
            restore_period: std::time::Duration::from_secs(u64::from(self.restore_days) * 86_400),
            invitation_ttl: std::time::Duration::from_secs(
                u64::from(self.invitation_ttl_hours) * 3600,
            ),
            invitations_per_hour_per_inviter: self.invitations_per_hour_per_inviter,
            invitations_per_hour_per_org: self.invitations_per_hour_per_org,
            max_orgs_created_per_guest: self.max_created_per_guest,
            max_orgs_created_per_user: self.max_created_per_user,
            ..tenantbase_core::tenancy::TenancyPolicy::default()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest request body accepted (bytes); larger ones get 413.
    pub body_limit_bytes: usize,
    /// Requests running longer are answered with 503.
    pub request_timeout_secs: u64,
    /// A connection whose next request's headers have not all arrived this long after it
    /// opened or after its last answer is closed: slow senders and idle keep-alive alike.
    pub header_read_timeout_secs: u64,
    /// A connection whose answer the client has not taken any of for this long (its
    /// socket's buffers full) is closed: a client that stops reading a download, or never
    /// reads at all, cannot hold a connection and a file open for good.
    pub write_timeout_secs: u64,
    /// Sends `Strict-Transport-Security` with this max-age when set (only behind HTTPS).
    pub hsts_max_age_secs: Option<u64>,
    /// Per-dependency limit of the `/ready` checks.
    pub ready_timeout_ms: u64,
    /// Writes running at once (each runs to its end even if its client hangs up); more
    /// wait for a slot. Uploads are not counted. Unset: half of `database.max_connections`
    /// (at least 2), so abandoned writes can never hold every connection.
    pub max_concurrent_writes: Option<usize>,
    /// Reverse proxies (addresses or CIDRs) whose `X-Forwarded-For` names the client.
    #[serde(deserialize_with = "tenantbase_http::forwarded::deserialize_trusted_proxies")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `tenantbase_http=debug,info`, …
    pub level: String,
    /// Whether successful probe requests (`/health`, `/ready`, `/metrics`) get their
    /// request line; orchestrators poll them, and their lines would drown the rest.
    pub probes: bool,
    /// Lines waiting for the writer thread; when it falls behind, further lines are
    /// dropped (and counted) rather than stalling requests or growing memory.
    pub queue_lines: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Jobs `serve` runs at once in process; 0 leaves them to `tenantbase worker`.
    pub workers: usize,
    /// Pause between polls of an empty queue.
    pub poll_interval_ms: u64,
    /// How long a claimed job is hidden from other workers; a run is cut off before it
    /// ends, and a crashed worker's jobs run again after it.
    pub lease_secs: u64,
    /// Retry delay after the first failure; it doubles per attempt, with jitter.
    pub backoff_base_ms: u64,
    /// Longest retry delay.
    pub backoff_max_secs: u64,
    /// Succeeded jobs are deleted (hourly) once older than this.
    pub keep_succeeded_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Events older than this many days are archived (daily, 03:30 UTC) to the object
    /// store; unset keeps every event in the database.
    pub retention_days: Option<u32>,
    /// How often `serve` and `worker` seal recorded events into their chains: about the
    /// longest an event stays recorded but unsealed.
    pub seal_interval_ms: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: None,
            seal_interval_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `file` writes each message as an `.eml` under `<data_dir>/mail/` (no mail server
    /// needed); `smtp` delivers through `[mail.smtp]`.
    pub transport: MailTransportKind,
    /// The sender of every message.
    pub from: String,
    pub smtp: Option<tenantbase_mail::SmtpConfig>,
    /// Product name, logo URL and colour used by every email template.
    pub branding: tenantbase_mail::Branding,
    /// A folder of template files replacing the built-in ones of the same name
    /// (`verify_email.html`, `layout.txt`, …); read again on every config reload.
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTransportKind {
    File,
    Smtp,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::File,
            from: tenantbase_mail::DEFAULT_FROM.to_owned(),
            smtp: None,
            branding: tenantbase_mail::Branding::default(),
            templates_dir: None,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            poll_interval_ms: 250,
            lease_secs: 300,
            backoff_base_ms: 2000,
            backoff_max_secs: 3600,
            keep_succeeded_hours: 24,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            shutdown_timeout_secs: 30,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            log: LogConfig::default(),
            jobs: JobsConfig::default(),
            audit: AuditConfig::default(),
            mail: MailConfig::default(),
            auth: AuthConfig::default(),
            orgs: OrgsConfig::default(),
            files: crate::files_config::FilesConfig::default(),
            metrics: MetricsConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_secs: 30,
            write_timeout_secs: 60,
            hsts_max_age_secs: None,
            ready_timeout_ms: 1500,
            max_concurrent_writes: None,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            probes: false,
            queue_lines: 8192,
        }
    }
}

/// Settings given on the command line; they win over every other source.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl Config {
    /// Reads every source, in order, and checks the result.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(path) = &overrides.config_file {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let config: Config = figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Env::prefixed("TENANTBASE_").split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(describe)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let positive = [
            ("http.body_limit_bytes", self.http.body_limit_bytes as u64),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            ("http.write_timeout_secs", self.http.write_timeout_secs),
            ("shutdown_timeout_secs", self.shutdown_timeout_secs),
            (
                "http.max_concurrent_writes",
                self.max_concurrent_writes() as u64,
            ),
            ("http.ready_timeout_ms", self.http.ready_timeout_ms),
            (
                "database.max_connections",
                u64::from(self.max_connections()),
            ),
            (
                "database.acquire_timeout_ms",
                self.database.acquire_timeout_ms,
            ),
            ("auth.key_reload_secs", self.auth.key_reload_secs),
            ("auth.step_up_minutes", self.auth.step_up_minutes),
            (
                "auth.rate_limit_per_minute",
                u64::from(self.auth.rate_limit_per_minute),
            ),
            (
                "orgs.invitation_ttl_hours",
                u64::from(self.orgs.invitation_ttl_hours),
            ),
            ("log.queue_lines", self.log.queue_lines as u64),
            ("files.quota_bytes", self.files.quota_bytes),
            (
                "files.quota_bytes_per_creator",
                self.files.quota_bytes_per_creator,
            ),
            ("files.max_file_bytes", self.files.max_file_bytes),
        ];
        for (key, value) in positive {
            if value == 0 {
                bail!("invalid configuration: {key} must be greater than 0");
            }
        }
        if self.auth.step_up_minutes > 24 * 60 {
            bail!(
                "invalid configuration: auth.step_up_minutes must be at most 1440: a day-old sign-in is no proof of who is at the keyboard"
            );
        }
        for (key, secs) in [
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            ("http.write_timeout_secs", self.http.write_timeout_secs),
        ] {
            if secs > 3600 {
                bail!("invalid configuration: {key} must be at most 3600");
            }
        }
        if self.orgs.invitation_ttl_hours > 24 * 365 {
            bail!("invalid configuration: orgs.invitation_ttl_hours must be at most 8760 (a year)");
        }
        if self.auth.keep_ended_days > 3650 {
            bail!("invalid configuration: auth.keep_ended_days must be at most 3650 (ten years)");
        }
        if self.orgs.restore_days > 3650 {
            bail!("invalid configuration: orgs.restore_days must be at most 3650 (ten years)");
        }
        if !(8..=128).contains(&self.auth.password_min_chars) {
            bail!(
                "invalid configuration: auth.password_min_chars must be from 8 to 128 (NIST 800-63B-4's floor, and the longest password accepted)"
            );
        }
        if self.http.ready_timeout_ms >= 2000 {
            bail!(
                "invalid configuration: http.ready_timeout_ms must be below 2000 so /ready answers within 2 s"
            );
        }
        self.files.blob_config(&self.data_dir)?;
        // A staged object keeps its PUT's time when it moves to the file's key, so one
        // being recorded can be a presigned upload's life (60 min) plus a completion's
        // lease (30 min) old; the rest is margin for clocks and a slow commit.
        if self.files.orphan_grace_minutes < 120 {
            bail!(
                "invalid configuration: files.orphan_grace_minutes must be at least 120, well past a presigned upload's life (60 min) plus its completion's lease (30 min)"
            );
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .with_context(|| format!("invalid configuration: log.level `{}`", self.log.level))?;
        self.database_kind()?;
        if self
            .metrics
            .token
            .as_ref()
            .is_some_and(|t| t.expose_secret().trim().is_empty())
        {
            bail!("invalid configuration: metrics.token must not be empty");
        }
        if self.metrics.listen == Some(self.listen) && self.listen.port() != 0 {
            bail!("invalid configuration: metrics.listen must differ from listen");
        }
        self.auth.mfa.validate()?;
        self.auth.webauthn.relying_party()?;
        if self.auth.leeway_secs > 30 {
            bail!("invalid configuration: auth.leeway_secs must be at most 30");
        }
        self.auth.oidc.validate()?;
        self.telemetry.validate()?;
        if self.mail.transport == MailTransportKind::Smtp && self.mail.smtp.is_none() {
            bail!(
                "invalid configuration: mail.smtp.host is required when mail.transport = \"smtp\""
            );
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or SQLite in the data folder.
    pub fn database_url(&self) -> SecretString {
        match &self.database_url {
            Some(url) => url.clone(),
            None => SecretString::from(sqlite_url(&self.data_dir.join("tenantbase.db"))),
        }
    }

    pub fn database_kind(&self) -> anyhow::Result<DatabaseKind> {
        let url = self.database_url();
        let scheme = url
            .expose_secret()
            .split_once(':')
            .map(|(scheme, _)| scheme);
        match scheme {
            Some("sqlite") => Ok(DatabaseKind::Sqlite),
            Some("postgres" | "postgresql") => Ok(DatabaseKind::Postgres),
            _ => bail!(
                "invalid configuration: database_url must start with postgres:// or sqlite://"
            ),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }

    /// How long a connection may stall, reading a request's headers or writing an answer.
    pub(crate) fn connection_deadlines(&self) -> crate::http_server::Deadlines {
        crate::http_server::Deadlines {
            header_read: Duration::from_secs(self.http.header_read_timeout_secs),
            write: Duration::from_secs(self.http.write_timeout_secs),
        }
    }
}

/// Figment's errors, with keys spelled as in the README (`http.body_limit_bytes`) whatever
/// case the environment variable used.
fn describe(errors: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|error| {
            let key = error.path.join(".").to_lowercase();
            let source = error
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{source}", error.kind)
            } else {
                format!("key `{key}`: {}{source}", error.kind)
            }
        })
        .collect();
    anyhow::anyhow!("invalid configuration: {}", lines.join("; "))
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures must return figment::Error.
mod tests;

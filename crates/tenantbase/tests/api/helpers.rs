//! `TestApp`: the production router over a fresh database, driven in process.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tenantbase_blob::{BlobConfig, BlobStore};
use tenantbase_core::identity::mfa::{MfaKeys, MfaPolicy};
use tenantbase_core::identity::oidc::{Oidc, OidcPolicy};
use tenantbase_core::identity::password_hash::{HashConfig, PasswordHasher};
use tenantbase_core::identity::signing_keys::load_keyring;
use tenantbase_core::identity::throttle::ThrottlePolicy;
use tenantbase_core::identity::tokens::{MasterKey, TokenConfig};
use tenantbase_core::identity::{Identity, IdentityPolicy, Links, SessionPolicy, StepUpPolicy};
use tenantbase_core::jobs::{JobContext, JobSeal};
use tenantbase_core::mail::{Mailer, SendEmail};
use tenantbase_core::tenancy::files::FilePolicy;
use tenantbase_core::tenancy::{Tenancy, TenancyPolicy};
use tenantbase_domain::password::PasswordPolicy;
use tenantbase_http::{AppState, HttpSettings, Services};
use tenantbase_store::Store;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_sqlite::{SqlitePoolConfig, SqliteStore};
use tenantbase_testkit::TestDatabase;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// Settings as in production, with a short `/ready` limit unless a test says otherwise.
pub fn settings() -> HttpSettings {
    HttpSettings {
        body_limit_bytes: 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        hsts_max_age_secs: None,
        ready_timeout: Duration::from_millis(1500),
        trusted_proxies: Vec::new(),
        metrics: tenantbase_http::MetricsAccess::default(),
        log_probes: false,
        trace_context: false,
    }
}

/// A router over a fresh store and object store; both live as long as the app.
pub struct TestApp {
    pub router: Router,
    identity: Arc<Identity>,
    master: MasterKey,
    pub store: Arc<dyn Store>,
    /// Where the store's database is, for tests that read it directly.
    pub database_url: String,
    /// Root of the local object store (unused when the app runs on another store).
    pub files_dir: std::path::PathBuf,
    /// The app's object store.
    pub blob: BlobStore,
    /// The app's tenancy service, for tests that must act between two of its steps.
    pub tenancy: Arc<Tenancy>,
    _dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a 401 for an unusable bearer token, with its RFC 6750 challenge.
    pub fn assert_invalid_token(&self) {
        self.problem(401, "invalid_token");
        let challenge = self.header("www-authenticate").expect("challenge");
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }

    /// Asserts the RFC 9457 shape every error shares, and returns the document.
    pub fn problem(&self, status: u16, code: &str) -> serde_json::Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["type"], format!("urn:tenantbase:problem:{code}"));
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        let request_id = problem["request_id"].as_str().expect("request_id");
        assert_eq!(Some(request_id), self.header("x-request-id"));
        problem
    }

    /// Asserts a 422 `validation_failed`, and returns the fields it names, sorted.
    pub fn invalid_fields(&self) -> Vec<String> {
        let problem = self.problem(422, "validation_failed");
        let errors = problem["errors"].as_array().expect("errors");
        let mut fields: Vec<String> = errors
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect();
        fields.sort();
        fields
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::build(backend, OpenApiRouter::new(), settings()).await
    }

    /// The production router over an existing PostgreSQL database.
    pub async fn on_postgres_url(url: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = Options::new(OpenApiRouter::new(), settings());
        let store = Arc::new(pg_store(url));
        Self::assemble(dir, store, url.to_owned(), None, options).await
    }

    /// With a session policy other than the default.
    pub async fn with_sessions(backend: Backend, sessions: SessionPolicy) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.sessions = sessions;
        Self::open(backend, options).await
    }

    /// With file limits, and optionally an object store other than a local folder.
    pub async fn with_files(backend: Backend, files: FilePolicy, blob: Option<BlobConfig>) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.tenancy.files = files;
        options.blob = blob;
        Self::open(backend, options).await
    }

    /// Over `blob` instead of a local folder of its own.
    pub async fn with_blob(backend: Backend, blob: BlobStore) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.blob_store = Some(blob);
        Self::open(backend, options).await
    }

    /// With tenancy rules (invitation and org limits) other than the default.
    pub async fn with_tenancy(backend: Backend, tenancy: TenancyPolicy) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.tenancy = tenancy;
        Self::open(backend, options).await
    }

    /// With brute-force limits other than the default.
    pub async fn with_throttle(backend: Backend, throttle: ThrottlePolicy) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.throttle = throttle;
        Self::open(backend, options).await
    }

    /// With a step-up window and new-device alerts other than the default.
    pub async fn with_step_up(backend: Backend, step_up: StepUpPolicy) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.step_up = step_up;
        Self::open(backend, options).await
    }

    /// With `auth.mfa.email_fallback` set as given.
    pub async fn with_mfa_email_fallback(backend: Backend, email_fallback: bool) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.mfa_email_fallback = email_fallback;
        Self::open(backend, options).await
    }

    /// With OpenID providers.
    pub async fn with_oidc(backend: Backend, oidc: OidcPolicy) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.oidc = oidc;
        Self::open(backend, options).await
    }

    /// With whatever `configure` sets, for tests that need several policies at once.
    pub async fn configured(backend: Backend, configure: impl FnOnce(&mut Options)) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        configure(&mut options);
        Self::open(backend, options).await
    }

    /// With passkeys for `relying_party`.
    pub async fn with_passkeys(
        backend: Backend,
        relying_party: tenantbase_core::identity::passkeys::RelyingParty,
    ) -> Self {
        let mut options = Options::new(OpenApiRouter::new(), settings());
        options.passkeys = Some(relying_party);
        Self::open(backend, options).await
    }

    /// The production router plus `extra` routes, served through the same middleware.
    pub async fn build(
        backend: Backend,
        extra: OpenApiRouter<AppState>,
        http: HttpSettings,
    ) -> Self {
        Self::open(backend, Options::new(extra, http)).await
    }

    /// Runs one SQL statement on the app's database, for a state the API cannot reach;
    /// answers how many rows it affected.
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        use sqlx::Connection;
        if self.database_url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .expect("sqlite");
            let done = sqlx::query(sql).execute(&mut db).await.expect(sql);
            done.rows_affected()
        } else {
            let mut db = sqlx::PgConnection::connect(&self.database_url)
                .await
                .expect("postgres");
            let done = sqlx::query(sql).execute(&mut db).await.expect(sql);
            done.rows_affected()
        }
    }

    /// The identity service behind the router (e.g. to mint tokens with odd claims).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The master key sealing this app's signing keys.
    pub fn master(&self) -> &MasterKey {
        &self.master
    }

    /// The messages waiting in the queue (`mail.send` jobs not yet delivered), opened as
    /// the worker would open them.
    pub async fn queued_mail(&self) -> Vec<tenantbase_mail::OutgoingEmail> {
        let seal = JobSeal::from_master(&self.master);
        let jobs = self.store.list_jobs(None, 10_000).await.expect("jobs");
        jobs.into_iter()
            .filter(|job| job.kind == SendEmail::KIND && job.finished_at.is_none())
            .map(|job| {
                let context = JobContext {
                    id: job.id,
                    kind: job.kind,
                    payload: job.payload,
                    attempt: job.attempts,
                };
                seal.open(&context).expect("a sealed message")
            })
            .collect()
    }

    /// The types of `platform_events`, in chain order.
    pub async fn platform_event_types(&self) -> Vec<String> {
        let events = self.platform_events().await;
        events
            .iter()
            .map(|e| e["event_type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Every event of the platform chain (auth events land there), as JSON: sealed first,
    /// as the server's sealer does within its interval.
    pub async fn platform_events(&self) -> Vec<serde_json::Value> {
        tenantbase_core::audit::seal::seal_all(self.store.as_ref())
            .await
            .expect("seal");
        let events = self
            .store
            .events_after("platform", 0, 10_000)
            .await
            .expect("events");
        events
            .iter()
            .map(|event| serde_json::to_value(event).expect("serializes"))
            .collect()
    }

    async fn open(backend: Backend, options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, url, database): (Arc<dyn Store>, _, _) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                let pool = SqlitePoolConfig {
                    max_readers: 4,
                    acquire_timeout: Duration::from_secs(5),
                    synchronous: Default::default(),
                };
                (
                    Arc::new(SqliteStore::connect(&url, pool).await.expect("sqlite")),
                    url,
                    None,
                )
            }
            Backend::Postgres => {
                let database = tenantbase_testkit::fresh_database().await;
                let url = database.url.clone();
                (Arc::new(pg_store(&url)), url, Some(database))
            }
        };
        Self::assemble(dir, store, url, database, options).await
    }

    async fn assemble(
        dir: tempfile::TempDir,
        store: Arc<dyn Store>,
        database_url: String,
        database: Option<TestDatabase>,
        options: Options,
    ) -> Self {
        store.migrate().await.expect("migrate");
        let master = MasterKey::generate().expect("master key");
        let keyring = load_keyring(
            store.as_ref(),
            &master,
            TokenConfig::new("tenantbase", "tenantbase"),
        )
        .await
        .expect("keyring");
        // Cheap argon2 parameters: the suite tests behaviour, the benchmarks measure cost.
        let hasher = PasswordHasher::new(HashConfig {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
            // Shedding is tested on the binary (`auth_overload`); here bursts just wait.
            max_queued: 1024,
        })
        .expect("hasher");
        let policy = IdentityPolicy {
            passwords: PasswordPolicy::default(),
            sessions: options.sessions,
            links: Links {
                app_url: "https://app.example.com".to_owned(),
                mailer: Mailer::new(Default::default(), JobSeal::from_master(&master)),
            },
            throttle: options.throttle,
            step_up: options.step_up,
            mfa: MfaPolicy {
                email_fallback: options.mfa_email_fallback,
                ..MfaPolicy::new(MfaKeys::from_master(&master))
            },
        };
        let mut identity = Identity::new(store.clone(), hasher, Arc::new(keyring), policy);
        if let Some(relying_party) = options.passkeys {
            identity = identity.with_passkeys(relying_party);
        }
        let identity = Arc::new(identity);
        let state_identity = identity.clone();
        let files_dir = dir.path().join("files");
        let blob = match options.blob_store {
            Some(blob) => blob,
            None => {
                let config = options.blob.unwrap_or(BlobConfig::Local {
                    root: files_dir.clone(),
                });
                BlobStore::open(&config).await.expect("object store")
            }
        };
        let tenancy = Arc::new(Tenancy::new(
            store.clone(),
            blob.clone(),
            identity.clone(),
            options.tenancy,
        ));
        let state = AppState::new(Services {
            store: store.clone(),
            blob: blob.clone(),
            metrics: tenantbase_http::metrics_handle(),
            queue_depth: Arc::default(),
            http: Arc::new(options.http),
            tenancy: tenancy.clone(),
            oidc: Arc::new(Oidc::new(identity.clone(), &master, options.oidc).expect("oidc")),
            identity,
            in_flight: tenantbase_http::InFlight::new(64),
        });
        let router =
            tenantbase_http::layered(tenantbase_http::api_routes().merge(options.extra), state);
        Self {
            router,
            identity: state_identity,
            master,
            store,
            database_url,
            files_dir,
            blob,
            tenancy,
            _dir: dir,
            _database: database,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(body.into())
            .expect("request");
        self.send(request).await
    }

    /// Sends `request` through the router and reads the whole answer, failing the test
    /// when that takes longer than [`REQUEST_DEADLINE`]: a wedged handler fails the suite
    /// instead of hanging it.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let what = format!("{} {}", request.method(), request.uri());
        let answer = async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let (parts, body) = response.into_parts();
            let body = body.collect().await.expect("body").to_bytes().to_vec();
            TestResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        };
        tokio::time::timeout(REQUEST_DEADLINE, answer)
            .await
            .unwrap_or_else(|_| panic!("{what} got no whole answer within {REQUEST_DEADLINE:?}"))
    }
}

/// The longest a test waits for one in-process request: past the router's own 30 s
/// timeout (whose 503 is an answer), far past any honest one.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(45);

/// What a test can change about the app.
pub struct Options {
    pub extra: OpenApiRouter<AppState>,
    pub http: HttpSettings,
    pub sessions: SessionPolicy,
    pub throttle: ThrottlePolicy,
    pub step_up: StepUpPolicy,
    pub tenancy: TenancyPolicy,
    pub blob: Option<BlobConfig>,
    /// An object store made by the test (`blob` is then ignored).
    pub blob_store: Option<BlobStore>,
    pub mfa_email_fallback: bool,
    pub oidc: OidcPolicy,
    pub passkeys: Option<tenantbase_core::identity::passkeys::RelyingParty>,
}

impl Options {
    fn new(extra: OpenApiRouter<AppState>, http: HttpSettings) -> Self {
        Self {
            extra,
            http,
            sessions: SessionPolicy::default(),
            throttle: ThrottlePolicy::default(),
            step_up: StepUpPolicy::default(),
            tenancy: TenancyPolicy::default(),
            blob: None,
            blob_store: None,
            mfa_email_fallback: false,
            oidc: OidcPolicy::default(),
            passkeys: None,
        }
    }
}

pub fn pg_store(url: &str) -> PgStore {
    let pool = PgPoolConfig {
        max_connections: 4,
        // As in production: longer than the `/ready` limit.
        acquire_timeout: Duration::from_secs(3),
    };
    PgStore::connect(url, pool).expect("pool")
}

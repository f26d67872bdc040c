//! `tenantbase serve`: opens the store and object storage, applies migrations, and
//! serves HTTP (reloading its live settings on SIGHUP or a config file change) until
//! SIGTERM or SIGINT, letting in-flight requests and jobs finish — for
//! at most `shutdown_timeout_secs`, after which it says what it abandons and exits 1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tenantbase_blob::BlobStore;
use tenantbase_http::{AppState, HttpSettings, Services};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};
use crate::telemetry::Telemetry;
use crate::{background, connect};

/// How often histogram samples are folded into buckets when nobody scrapes `/metrics`;
/// without it they would pile up in memory.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// `Ok(false)` when the shutdown deadline passed with work still running.
/// `overrides`: the command line's settings, which a config reload reads again with the
/// file and environment.
pub(crate) async fn serve(
    config: Config,
    overrides: Overrides,
    migrate: bool,
    telemetry: &Telemetry,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    crate::data_dir::ensure_writable(&config)?;
    let _in_use = crate::in_use::hold(&config)?;
    let store = connect::open_store(&config).await?;
    if migrate {
        let report = store.migrate().await.context("applying migrations")?;
        for migration in &report.applied {
            tracing::info!(version = migration.version, description = %migration.description, "migration applied");
        }
    }
    let blob = open_blob(&config).await?;
    tenantbase_mail::use_templates(config.mail.templates_dir.as_deref())
        .context("mail.templates_dir")?;
    let identity = crate::identity::build(&config, &store).await?;
    let metrics = tenantbase_http::metrics_handle();
    crate::telemetry::describe_metrics();
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_UPKEEP);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let state = AppState::new(Services {
        store: store.clone(),
        blob: blob.clone(),
        metrics,
        queue_depth: Arc::default(),
        http: Arc::new(HttpSettings {
            body_limit_bytes: config.http.body_limit_bytes,
            request_timeout: config.request_timeout(),
            hsts_max_age_secs: config.http.hsts_max_age_secs,
            ready_timeout: Duration::from_millis(config.http.ready_timeout_ms),
            trusted_proxies: config.http.trusted_proxies.clone(),
            metrics: config.metrics.access(),
            log_probes: config.log.probes,
            trace_context: config.telemetry.otlp_endpoint.is_some(),
        }),
        tenancy: Arc::new(tenantbase_core::tenancy::Tenancy::new(
            store.clone(),
            blob.clone(),
            identity.clone(),
            tenantbase_core::tenancy::TenancyPolicy {
                files: config
                    .files
                    .policy(&crate::identity::master_key(&config)?, config.listen),
                ..config.orgs.tenancy_policy()
            },
        )),
        oidc: Arc::new(
            tenantbase_core::identity::oidc::Oidc::new(
                identity.clone(),
                &crate::identity::master_key(&config)?,
                config.auth.oidc.policy(),
            )
            .map_err(|why| anyhow::anyhow!("auth.oidc: {why}"))?,
        ),
        identity,
        in_flight: tenantbase_http::InFlight::new(config.max_concurrent_writes()),
    });
    let requests = state.in_flight.clone();

    let shutdown = CancellationToken::new();
    crate::reload::spawn(
        overrides,
        config.clone(),
        crate::reload::Live {
            log_level: telemetry.log_level.clone(),
            identity: state.identity.clone(),
            tenancy: state.tenancy.clone(),
        },
        shutdown.clone(),
    )?;
    let sealer = background::spawn_sealer(&config, &store);
    let mut background = match config.jobs.workers {
        0 => tokio::task::JoinSet::new(),
        workers => background::spawn(&config, &store, &state.blob, workers, &shutdown)?,
    };

    let management = crate::management::serve(&config, &state, &shutdown).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        backend = store.backend().as_str(),
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "listening"
    );
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        on_signal.cancel();
    });
    // The server only ends once the signal came, so the signal starts the deadline.
    let serving = tokio::spawn(crate::http_server::serve(
        listener,
        tenantbase_http::router(state),
        config.connection_deadlines(),
        shutdown.clone(),
    ));
    shutdown.cancelled().await;
    // From the signal on, everything left shares one deadline: connections to close,
    // detached writes to finish, jobs to end their runs.
    let drained = async {
        serving.await.context("the HTTP server task")?;
        if let Some(management) = management {
            management.await.context("management listener")?;
        }
        requests.close_and_wait().await;
        while background.join_next().await.is_some() {}
        sealer.stop().await;
        anyhow::Ok(())
    };
    let deadline = Duration::from_secs(config.shutdown_timeout_secs);
    match tokio::time::timeout(deadline, drained).await {
        Ok(drained) => drained?,
        Err(_) => {
            tracing::error!(
                deadline_secs = config.shutdown_timeout_secs,
                requests = requests.len(),
                jobs = background.len(),
                "shutdown deadline passed: abandoning in-flight requests and jobs"
            );
            return Ok(false);
        }
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(true)
}

/// The object store `[files]` names (by default the folder `<data_dir>/files`).
pub(crate) async fn open_blob(config: &Config) -> anyhow::Result<BlobStore> {
    BlobStore::open(&config.files.blob_config(&config.data_dir)?)
        .await
        .context("opening the object store (files.backend)")
}

/// Resolves on SIGTERM (orchestrators) or SIGINT (Ctrl-C).
pub(crate) async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

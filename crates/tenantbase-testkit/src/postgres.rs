//! One fresh database per test on a real PostgreSQL server, dropped when the test ends.
//!
//! The server is `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//! When nothing answers there, a throwaway cluster is started with the machine's
//! `initdb`/`pg_ctl`; when those are missing too, the test fails and says what to do.

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::OnceCell;

use crate::cluster::PgCluster;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static SERVER: OnceCell<String> = OnceCell::const_new();

/// A database that exists for one test. Dropping it drops the database.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connection URL of the fresh database.
    pub url: String,
    name: String,
    server_url: String,
}

/// Creates an empty database on the test server.
pub async fn fresh_database() -> TestDatabase {
    let server_url = SERVER.get_or_init(resolve_server).await.clone();
    let name = format!("tb_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&server_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server {server_url}: {e}"));
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
    let _ = admin.close().await;
    TestDatabase {
        url: with_database(&server_url, &name),
        name,
        server_url,
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on; a helper
        // thread with its own runtime does the async clean-up and is waited for.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for dropping the test database");
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    if let Err(e) = admin.execute(sql.as_str()).await {
                        eprintln!("warning: could not drop test database {name}: {e}");
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

async fn resolve_server() -> String {
    let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let attempt = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&url)).await;
    match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            url
        }
        failure => {
            let reason = match failure {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".to_owned(),
            };
            eprintln!(
                "PostgreSQL at {url} is not reachable ({reason}); starting a throwaway cluster"
            );
            let cluster = tokio::task::spawn_blocking(PgCluster::start)
                .await
                .expect("starting the cluster does not panic")
                .unwrap_or_else(|e| {
                    panic!(
                        "No PostgreSQL for the tests: {url} did not answer ({reason}) and a \
                         throwaway cluster could not be started ({e}). Either start a server \
                         and set TEST_DATABASE_URL=postgres://USER@HOST:PORT/postgres (a role \
                         that may CREATE DATABASE), or install PostgreSQL's server binaries \
                         (Debian: apt-get install postgresql) so initdb and pg_ctl are found."
                    )
                });
            cluster.keep_until_process_exit()
        }
    }
}

/// `url` with its database path replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_path() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "x"),
            "postgres://u@h:5/x"
        );
        assert_eq!(with_database("postgres://u@h:5", "x"), "postgres://u@h:5/x");
        assert_eq!(
            with_database("postgres://u@h/p?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}

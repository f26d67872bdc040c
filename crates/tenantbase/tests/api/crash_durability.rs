//! `kill -9` under write load, on both backends: every write the server acknowledged is
//! there after a restart, and the audit chains verify. The load generator keeps a ledger
//! of acknowledged ids, each line fsynced before the next request, so the ledger itself
//! would survive the machine going down.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::hangups::{Target, client};

const WRITERS: usize = 16;

/// Acknowledged writes to wait for before the kill, so that it lands under full load.
const ACKNOWLEDGED_BEFORE_KILL: u64 = 60;

/// The acknowledged project ids, one per line, each fsynced as it is added.
struct Ledger {
    file: Mutex<std::fs::File>,
    count: AtomicU64,
}

impl Ledger {
    fn record(&self, id: &str) {
        let mut file = self.file.lock().expect("ledger lock");
        writeln!(file, "{id}").expect("ledger write");
        file.sync_data().expect("ledger fsync");
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

/// Creates projects until a request fails (the kill), answering how many failed: 0 or 1.
async fn write_until_cut(target_url: String, token: String, ledger: Arc<Ledger>) -> u64 {
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0.. {
        if Instant::now() > deadline {
            break;
        }
        let answer = client
            .post(&target_url)
            .bearer_auth(&token)
            .json(&json!({"name": format!("crash test {i}")}))
            .send()
            .await;
        let Ok(response) = answer else { return 1 };
        if response.status() != 201 {
            return 1;
        }
        let Ok(project) = response.json::<serde_json::Value>().await else {
            return 1;
        };
        ledger.record(project["id"].as_str().expect("project id"));
    }
    0
}

async fn acknowledged_writes_survive_kill_9(postgres: bool) {
    let mut target = Target::start(postgres).await;
    let (token, org) = target.server.guest_with_org("Crash").await;
    let ledger_path = target.dir.path().join("ledger");
    let ledger = Arc::new(Ledger {
        file: Mutex::new(std::fs::File::create(&ledger_path).expect("ledger")),
        count: AtomicU64::new(0),
    });

    let projects = target.url(&format!("/v1/orgs/{org}/projects"));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            tokio::spawn(write_until_cut(
                projects.clone(),
                token.clone(),
                ledger.clone(),
            ))
        })
        .collect();
    let loading = Instant::now();
    while ledger.count.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        assert!(
            loading.elapsed() < Duration::from_secs(30),
            "the load never got going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    target.kill_and_restart();
    let mut cut = 0;
    for writer in writers {
        cut += writer.await.expect("writer");
    }
    assert!(
        cut > 0,
        "the kill cut no request short: it was not under load"
    );

    let acknowledged = std::fs::read_to_string(&ledger_path).expect("ledger");
    let ids: Vec<&str> = acknowledged.lines().collect();
    assert!(ids.len() as u64 >= ACKNOWLEDGED_BEFORE_KILL);
    let client = client();
    for id in &ids {
        let response = client
            .get(target.url(&format!("/v1/orgs/{org}/projects/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .expect("project read");
        assert_eq!(response.status(), 200, "acknowledged project {id} is gone");
    }
    target.assert_audit_chains_verify();
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    acknowledged_writes_survive_kill_9(false).await;
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    acknowledged_writes_survive_kill_9(true).await;
}

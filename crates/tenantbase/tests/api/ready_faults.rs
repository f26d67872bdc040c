//! `/ready` against a real PostgreSQL that stops, comes back, and hangs.

use std::time::{Duration, Instant};

use tenantbase_testkit::PgCluster;

use crate::helpers::TestApp;

async fn wait_for_status(app: &TestApp, want: u16) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = app.get("/ready").await;
        if response.status.as_u16() == want {
            return response.json();
        }
        assert!(
            Instant::now() < deadline,
            "/ready never became {want}: {}",
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A refused connection is retried by the pool until the check's limit, so a stopped
/// server can read as `timeout` as well as `unavailable`; either way it is named.
fn assert_is_down(check: &serde_json::Value) {
    assert!(check == "unavailable" || check == "timeout", "{check}");
}

#[tokio::test]
async fn ready_follows_postgres_down_and_up_and_hung() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .expect("no panic")
        .expect("a throwaway cluster (needs initdb and pg_ctl)");
    let url = cluster.url();
    let app = TestApp::on_postgres_url(&url).await;
    wait_for_status(&app, 200).await;

    cluster.stop_service().expect("stop");
    let problem = app
        .get("/ready")
        .await
        .problem(503, "dependency_unavailable");
    assert_is_down(&problem["checks"]["database"]);
    assert_eq!(problem["checks"]["object_store"], "ok");
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("database")
    );
    assert!(
        !problem.to_string().contains("127.0.0.1"),
        "no hosts in a public probe"
    );

    cluster.resume_service().expect("start again");
    wait_for_status(&app, 200).await;

    // A frozen server never answers, and the pool would give up only after 3 s: `timeout`
    // can only come from the 1.5 s limit of the check. How long that took in wall time is
    // not asserted (a loaded machine stretches it); the deadline only stops a hang.
    cluster.freeze().expect("freeze");
    let response = tokio::time::timeout(Duration::from_secs(20), app.get("/ready"))
        .await
        .expect("/ready answered while the database hung");
    cluster.thaw().expect("thaw");
    let problem = response.problem(503, "dependency_unavailable");
    assert_eq!(problem["checks"]["database"], "timeout", "{problem}");
    assert_eq!(problem["checks"]["database_writer"], "timeout", "{problem}");
    wait_for_status(&app, 200).await;
}

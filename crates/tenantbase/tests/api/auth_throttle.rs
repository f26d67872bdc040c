//! Brute-force protection and per-IP budgets, over real sockets so client addresses are
//! real: loopback has a whole /8, so a second "client" connects from 127.0.0.2.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tenantbase_core::identity::throttle::ThrottlePolicy;

use crate::helpers::{Backend, TestApp};
use crate::process::{Server, tenantbase};

const PASSWORD: &str = "correct horse battery staple";

pub(crate) fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("ip");
    reqwest::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn login(client: &reqwest::Client, server: &Server, password: &str) -> reqwest::Response {
    client
        .post(server.url("/v1/auth/login"))
        .json(&json!({"email": "victim@example.com", "password": password}))
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn one_attacking_ip_is_slowed_while_the_owner_still_signs_in() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    // Cheap argon2: at production cost a debug build can spend longer than the 1 s delay
    // on each guess, and the delay would be over before the next one arrives.
    command
        .env("TENANTBASE_AUTH__LOGIN_FAILURES_PER_IP", "3")
        .env("TENANTBASE_AUTH__ARGON2__MEMORY_KIB", "1024")
        .env("TENANTBASE_AUTH__ARGON2__ITERATIONS", "1");
    let server = Server::start(&mut command);
    let attacker = client_from("127.0.0.1");
    let owner = client_from("127.0.0.2");
    let registered = owner
        .post(server.url("/v1/auth/register"))
        .json(&json!({"email": "victim@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);

    for _ in 0..3 {
        assert_eq!(
            login(&attacker, &server, "wrong guess 12345")
                .await
                .status(),
            401
        );
    }
    let throttled = login(&attacker, &server, "wrong guess 12345").await;
    assert_eq!(throttled.status(), 429);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry_after >= 1);
    let problem: Value = throttled.json().await.expect("problem");
    assert_eq!(problem["code"], "too_many_attempts");

    let signed_in = login(&owner, &server, PASSWORD).await;
    assert_eq!(
        signed_in.status(),
        200,
        "the owner, from elsewhere, is not locked out"
    );
}

#[tokio::test]
async fn auth_routes_have_a_per_ip_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    command.env("TENANTBASE_AUTH__RATE_LIMIT_PER_MINUTE", "5");
    let server = Server::start(&mut command);
    let client = client_from("127.0.0.3");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = client
            .post(server.url("/v1/auth/guest"))
            .send()
            .await
            .expect("guest");
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let problem: Value = response.json().await.expect("problem");
            assert_eq!(problem["code"], "rate_limited");
        }
    }
    assert_eq!(statuses, vec![201, 201, 201, 201, 201, 429]);
    let other = client_from("127.0.0.4")
        .post(server.url("/v1/auth/guest"))
        .send()
        .await
        .expect("guest");
    assert_eq!(other.status(), 201, "another address has its own budget");
    let health = client
        .get(server.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(
        health.status(),
        200,
        "only the auth routes are budgeted here"
    );
}

#[tokio::test]
async fn an_account_under_attack_from_many_places_waits_a_bounded_time() {
    // A cap of 2 s is reached on the second delay (1 s, then 2 s) and holds on the third,
    // which uncapped would be 4 s: the test waits out 3 s in all.
    let throttle = ThrottlePolicy {
        account_failures: 3,
        max_delay: Duration::from_secs(2),
        ..ThrottlePolicy::default()
    };
    // In process there is no client address: only the per-account limit applies.
    let app = TestApp::with_throttle(Backend::Sqlite, throttle).await;
    let body =
        |password: &str| json!({"email": "target@example.com", "password": password}).to_string();
    let post = |payload: String| {
        let request = axum::http::Request::post("/v1/auth/login")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(payload))
            .expect("request");
        app.send(request)
    };
    let registered = app
        .send(
            axum::http::Request::post("/v1/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body(PASSWORD)))
                .expect("request"),
        )
        .await;
    assert_eq!(registered.status, 201);
    for _ in 0..3 {
        post(body("not the password"))
            .await
            .problem(401, "invalid_credentials");
    }
    let mut waits = Vec::new();
    loop {
        let waiting = post(body(PASSWORD)).await;
        let problem = waiting.problem(429, "too_many_attempts");
        let retry_after = problem["retry_after"].as_u64().expect("seconds");
        assert_eq!(
            waiting.header("retry-after"),
            Some(retry_after.to_string().as_str())
        );
        waits.push(retry_after);
        if waits.len() == 3 {
            break;
        }
        // Retry-After is rounded up, so once it has passed the next guess is let through.
        tokio::time::sleep(Duration::from_secs(retry_after)).await;
        post(body("not the password"))
            .await
            .problem(401, "invalid_credentials");
    }
    assert_eq!(waits, [1, 2, 2], "doubling, then held at max_delay");
}

/// An account held by failures from elsewhere (an attacker who waits out each delay could
/// hold it for good) still lets its owner's device in: one holding a live session of the
/// account (OWASP's device cookies). Other devices, and clients sending none, wait.
#[tokio::test]
async fn the_owners_device_signs_in_while_the_account_is_held() {
    let throttle = ThrottlePolicy {
        account_failures: 3,
        max_delay: Duration::from_secs(600),
        ..ThrottlePolicy::default()
    };
    let app = TestApp::with_throttle(Backend::Sqlite, throttle).await;
    let send = |path: &str, password: &str, device: Option<&str>| {
        let mut request =
            axum::http::Request::post(path).header("content-type", "application/json");
        if let Some(device) = device {
            request = request.header("x-device-id", device);
        }
        let body = json!({"email": "owner@example.com", "password": password}).to_string();
        app.send(request.body(axum::body::Body::from(body)).expect("request"))
    };
    let registered = send("/v1/auth/register", PASSWORD, Some("owner-laptop")).await;
    assert_eq!(registered.status, 201, "{}", registered.text());
    for _ in 0..3 {
        send("/v1/auth/login", "not the password", None)
            .await
            .problem(401, "invalid_credentials");
    }
    // Guesses after each wait, as a patient attacker makes them: the hold is 4 s from the
    // last, long enough for the checks below however slow a debug build's argon2 is.
    for wait in [1, 2] {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        send("/v1/auth/login", "not the password", None)
            .await
            .problem(401, "invalid_credentials");
    }
    send("/v1/auth/login", PASSWORD, None)
        .await
        .problem(429, "too_many_attempts");
    send("/v1/auth/login", PASSWORD, Some("a-stranger"))
        .await
        .problem(429, "too_many_attempts");
    let owner = send("/v1/auth/login", PASSWORD, Some("owner-laptop")).await;
    assert_eq!(owner.status, 200, "{}", owner.text());
}

#[tokio::test]
async fn guessing_the_current_password_from_a_session_is_throttled_and_audited() {
    let throttle = ThrottlePolicy {
        account_failures: 3,
        ..ThrottlePolicy::default()
    };
    let app = TestApp::with_throttle(Backend::Sqlite, throttle).await;
    let json_post = |path: &str, body: Value, bearer: Option<&str>| {
        let mut request =
            axum::http::Request::post(path).header("content-type", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        app.send(
            request
                .body(axum::body::Body::from(body.to_string()))
                .expect("request"),
        )
    };
    let registered = json_post(
        "/v1/auth/register",
        json!({"email": "stolen@example.com", "password": PASSWORD}),
        None,
    )
    .await
    .json();
    let token = registered["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let guess = |n: usize| json!({"current_password": format!("guess number {n} here"), "new_password": "the attacker's new passphrase"});
    for n in 0..3 {
        json_post("/v1/auth/password/change", guess(n), Some(&token))
            .await
            .problem(422, "validation_failed");
    }
    json_post("/v1/auth/password/change", guess(3), Some(&token))
        .await
        .problem(429, "too_many_attempts");
    let events = app.platform_events().await;
    let failed = events
        .iter()
        .filter(|e| e["event_type"] == "auth.password.change_failed")
        .count();
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    command
        .env("TENANTBASE_AUTH__RATE_LIMIT_PER_MINUTE", "2")
        .env("TENANTBASE_HTTP__TRUSTED_PROXIES", "[127.0.0.5/32]");
    let server = Server::start(&mut command);
    let proxy = client_from("127.0.0.5");
    let guest = |forwarded: &'static str| {
        proxy
            .post(server.url("/v1/auth/guest"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(guest("203.0.113.7").await.expect("guest").status().as_u16());
    }
    assert_eq!(statuses, vec![201, 201, 429]);
    assert_eq!(
        guest("203.0.113.8").await.expect("guest").status(),
        201,
        "another client behind the proxy"
    );

    // A client talking directly cannot pick its address with the header.
    let direct = client_from("127.0.0.6");
    let mut statuses = Vec::new();
    for forwarded in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let response = direct
            .post(server.url("/v1/auth/guest"))
            .header("x-forwarded-for", forwarded)
            .send()
            .await
            .expect("guest");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![201, 201, 429]);
}

//! Sign-in with an authenticator app against sign-in with a password alone: sequential
//! rounds, each timing a password-only sign-in, then both steps of a TOTP sign-in
//! (`/v1/auth/login` answering `mfa_required`, then `/v1/auth/mfa/verify` with the
//! current code). A TOTP code works once, so every round signs in a different enrolled
//! account. Each step is measured twice: its latency at the client, and the CPU time the
//! server's threads spent on it (what a step costs the server, apart from waiting on the
//! disk). A run opens either a new connection for every step, or one kept-alive
//! connection per sign-in, opened before its timing starts (`Connections`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use hyper::header::{AUTHORIZATION, HeaderValue};
use serde_json::{Value, json};

use crate::auth_load::{PASSWORD, register};
use crate::load;
use crate::server::Server;

/// How a round's requests reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// A new connection for every step, its set-up and close timed with the step.
    PerStep,
    /// One kept-alive connection for both steps of a sign-in (and one for the
    /// password-only sign-in), as a browser's or an app's HTTP client keeps it.
    PerSignIn,
}

impl Connections {
    pub fn as_str(self) -> &'static str {
        match self {
            Connections::PerStep => "per_step",
            Connections::PerSignIn => "per_sign_in",
        }
    }

    /// The connection a sign-in's steps share, opened before any is timed; `None`:
    /// each step opens its own.
    async fn for_sign_in(self, addr: SocketAddr) -> anyhow::Result<Option<load::Client>> {
        match self {
            Connections::PerStep => Ok(None),
            Connections::PerSignIn => match load::Client::open(addr).await {
                Some(client) => Ok(Some(client)),
                None => anyhow::bail!("no connection to {addr}"),
            },
        }
    }
}

/// Median latencies (ms) of the password-only sign-in and of each TOTP step, and the
/// median server CPU time (ms) of each step.
pub struct TotpTiming {
    pub password_only_p50_ms: f64,
    pub first_step_p50_ms: f64,
    pub second_step_p50_ms: f64,
    pub first_step_cpu_p50_ms: f64,
    pub second_step_cpu_p50_ms: f64,
    /// Median times the server's threads were scheduled during the second step (mostly
    /// its hand-offs between threads).
    pub second_step_thread_runs_p50: f64,
}

pub async fn totp_sign_in_timing(
    server: &Server,
    rounds: usize,
    connections: Connections,
) -> anyhow::Result<TotpTiming> {
    let addr = server.addr;
    let mode = connections.as_str();
    let password_only = format!("bench-password-only-{mode}@example.com");
    register(addr, &password_only).await?;
    let mut accounts = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let email = format!("bench-totp-{mode}-{i}@example.com");
        let secret = enrolled(addr, &email).await?;
        accounts.push((email, secret));
    }
    let (mut password, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
    let (mut first_cpu, mut second_cpu, mut second_runs) = (Vec::new(), Vec::new(), Vec::new());
    for (email, secret) in &accounts {
        let mut kept = connections.for_sign_in(addr).await?;
        let started = Instant::now();
        let plain = call(
            addr,
            kept.as_mut(),
            "/v1/auth/login",
            &sign_in(&password_only),
        )
        .await?;
        password.push(elapsed_ms(started));
        anyhow::ensure!(
            plain["access_token"].is_string(),
            "password sign-in: {plain}"
        );

        let mut kept = connections.for_sign_in(addr).await?;
        let (started, cpu) = (Instant::now(), server.cpu_times());
        let due = call(addr, kept.as_mut(), "/v1/auth/login", &sign_in(email)).await?;
        first.push(elapsed_ms(started));
        first_cpu.push(as_ms(server.cpu_times().since(&cpu)));
        let mfa_token = due["mfa_token"].as_str().unwrap_or_default();
        let body = json!({"mfa_token": mfa_token, "method": "totp", "code": code(secret, 0)?});
        let (started, cpu) = (Instant::now(), server.cpu_times());
        let signed_in = call(addr, kept.as_mut(), "/v1/auth/mfa/verify", &body).await?;
        second.push(elapsed_ms(started));
        let after = server.cpu_times();
        second_cpu.push(as_ms(after.since(&cpu)));
        second_runs.push(after.runs_since(&cpu) as f64);
        anyhow::ensure!(
            signed_in["access_token"].is_string(),
            "second step: {signed_in}"
        );
    }
    Ok(TotpTiming {
        password_only_p50_ms: median(&mut password),
        first_step_p50_ms: median(&mut first),
        second_step_p50_ms: median(&mut second),
        first_step_cpu_p50_ms: median(&mut first_cpu),
        second_step_cpu_p50_ms: median(&mut second_cpu),
        second_step_thread_runs_p50: median(&mut second_runs),
    })
}

/// Registers `email` and activates an authenticator app on it; returns the secret. The
/// confirmation uses the previous step's code, so the current one is left for sign-in.
async fn enrolled(addr: SocketAddr, email: &str) -> anyhow::Result<String> {
    let account = register(addr, email).await?;
    let token = account["access_token"].as_str().unwrap_or_default();
    let enrolment = authorized_call(addr, "/v1/auth/mfa/totp/enroll", &json!({}), token).await?;
    let secret = enrolment["secret"].as_str().unwrap_or_default().to_owned();
    let confirm = json!({"code": code(&secret, -1)?});
    let confirmed = authorized_call(addr, "/v1/auth/mfa/totp/confirm", &confirm, token).await?;
    anyhow::ensure!(confirmed["backup_codes"].is_array(), "confirm: {confirmed}");
    Ok(secret)
}

/// POSTs `body` as `token`'s bearer on a connection of its own.
async fn authorized_call(
    addr: SocketAddr,
    path: &str,
    body: &Value,
    token: &str,
) -> anyhow::Result<Value> {
    let mut request = load::post_json(path, body);
    request.headers_mut().insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    answer_of(path, load::once(addr, request).await)
}

/// POSTs `body` on `kept`, or on a connection of its own when there is none, and
/// returns the JSON of a 2xx answer.
async fn call(
    addr: SocketAddr,
    kept: Option<&mut load::Client>,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let request = load::post_json(path, body);
    let answer = match kept {
        Some(client) => client.send(request).await,
        None => load::once(addr, request).await,
    };
    answer_of(path, answer)
}

fn answer_of(path: &str, answer: Option<(StatusCode, bytes::Bytes)>) -> anyhow::Result<Value> {
    let Some((status, answer)) = answer else {
        anyhow::bail!("no answer to {path}");
    };
    anyhow::ensure!(
        status == StatusCode::OK || status == StatusCode::CREATED,
        "{path} answered {status}"
    );
    Ok(serde_json::from_slice(&answer)?)
}

fn sign_in(email: &str) -> Value {
    json!({"email": email, "password": PASSWORD})
}

/// The code an authenticator app shows `steps` steps (30 s) from now.
fn code(secret: &str, steps: i64) -> anyhow::Result<String> {
    let secret =
        totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("secret: {e}"))?;
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(secret)
        .build_noncompliant();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        .saturating_add_signed(steps * 30);
    Ok(totp.generate(now).to_string())
}

fn elapsed_ms(started: Instant) -> f64 {
    as_ms(started.elapsed())
}

fn as_ms(spent: Duration) -> f64 {
    spent.as_secs_f64() * 1000.0
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let middle = samples.get(samples.len() / 2).copied().unwrap_or_default();
    (middle * 1000.0).round() / 1000.0
}

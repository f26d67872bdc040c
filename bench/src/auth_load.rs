//! Auth scenarios: sign-ins (bound by argon2, compared with the machine's own argon2
//! rate), token refreshes (each connection follows its own rotating token), `/me`, and
//! the gateway's `/verify`; plus the timing of failed sign-ins for known and unknown
//! accounts, which must not tell them apart.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, StatusCode};
use serde_json::{Value, json};
use tenantbase_core::identity::password_hash::{HashConfig, PasswordHasher};
use tenantbase_domain::password::{Password, PasswordPolicy};

use crate::load::{self, Flow, Get};

pub const PASSWORD: &str = "correct horse battery staple";

/// Registers `email` and returns the token response.
pub async fn register(addr: SocketAddr, email: &str) -> anyhow::Result<Value> {
    let request = load::post_json(
        "/v1/auth/register",
        &json!({"email": email, "password": PASSWORD}),
    );
    let Some((status, body)) = load::once(addr, request).await else {
        anyhow::bail!("no answer to register");
    };
    anyhow::ensure!(status == StatusCode::CREATED, "register answered {status}");
    Ok(serde_json::from_slice(&body)?)
}

/// GETs `path` with the bearer token of a fresh account on every connection.
pub async fn authenticated_get(
    addr: SocketAddr,
    path: &'static str,
    connections: usize,
) -> anyhow::Result<Vec<Box<dyn Flow>>> {
    let account = register(addr, "bench-reader@example.com").await?;
    let token = account["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let get = Get {
        path,
        headers: vec![("authorization", format!("Bearer {token}"))],
    };
    Ok((0..connections)
        .map(|_| Box::new(get.clone()) as Box<dyn Flow>)
        .collect())
}

/// Signs in with the right password, again and again.
pub async fn logins(addr: SocketAddr, connections: usize) -> anyhow::Result<Vec<Box<dyn Flow>>> {
    register(addr, "bench-login@example.com").await?;
    let body = json!({"email": "bench-login@example.com", "password": PASSWORD});
    Ok((0..connections)
        .map(|_| {
            Box::new(Post {
                path: "/v1/auth/login",
                body: body.clone(),
            }) as Box<dyn Flow>
        })
        .collect())
}

/// Signs in as a new guest, again and again: each request creates an account and a
/// session (argon2 is not involved).
pub fn guests(connections: usize) -> Vec<Box<dyn Flow>> {
    (0..connections)
        .map(|_| {
            Box::new(Post {
                path: "/v1/auth/guest",
                body: json!({}),
            }) as Box<dyn Flow>
        })
        .collect()
}

/// Each connection refreshes its own session, always with the latest refresh token.
pub async fn refreshes(addr: SocketAddr, connections: usize) -> anyhow::Result<Vec<Box<dyn Flow>>> {
    let mut flows: Vec<Box<dyn Flow>> = Vec::with_capacity(connections);
    for i in 0..connections {
        let account = register(addr, &format!("bench-refresh-{i}@example.com")).await?;
        let token = account["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        flows.push(Box::new(Refresh { token }));
    }
    Ok(flows)
}

/// Signs in with the right password from `connections` loopback addresses of their own
/// (127.0.1.x, 127.0.2.x, …), so per-IP limits do not turn the flood away: argon2 does.
/// Counts each answer's status in `outcomes`.
pub async fn login_flood(
    addr: SocketAddr,
    connections: usize,
    outcomes: &std::sync::Arc<FloodOutcomes>,
) -> anyhow::Result<Vec<Box<dyn Flow>>> {
    register(addr, "bench-flood@example.com").await?;
    let body = json!({"email": "bench-flood@example.com", "password": PASSWORD});
    Ok((0..connections)
        .map(|i| {
            let ip = std::net::Ipv4Addr::new(127, 1 + (i / 250) as u8, 1 + (i % 250) as u8, 1);
            Box::new(FloodLogin {
                body: body.clone(),
                from: ip.into(),
                outcomes: outcomes.clone(),
            }) as Box<dyn Flow>
        })
        .collect())
}

/// How a login flood was answered.
#[derive(Debug, Default)]
pub struct FloodOutcomes {
    pub signed_in: std::sync::atomic::AtomicU64,
    /// 503 `overloaded`: shed at once because the argon2 queue was full.
    pub shed: std::sync::atomic::AtomicU64,
    /// 429: a per-IP budget ran out.
    pub throttled: std::sync::atomic::AtomicU64,
    pub other: std::sync::atomic::AtomicU64,
}

struct FloodLogin {
    body: Value,
    from: std::net::IpAddr,
    outcomes: std::sync::Arc<FloodOutcomes>,
}

impl Flow for FloodLogin {
    fn request(&mut self) -> Request<Full<Bytes>> {
        load::post_json("/v1/auth/login", &self.body)
    }

    fn response(&mut self, status: StatusCode, _: &[u8]) -> bool {
        let counter = match status.as_u16() {
            200 => &self.outcomes.signed_in,
            503 => &self.outcomes.shed,
            429 => &self.outcomes.throttled,
            _ => &self.outcomes.other,
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        status.is_success()
    }

    fn local_ip(&self) -> Option<std::net::IpAddr> {
        Some(self.from)
    }
}

struct Post {
    path: &'static str,
    body: Value,
}

impl Flow for Post {
    fn request(&mut self) -> Request<Full<Bytes>> {
        load::post_json(self.path, &self.body)
    }
}

struct Refresh {
    token: String,
}

impl Flow for Refresh {
    fn request(&mut self) -> Request<Full<Bytes>> {
        load::post_json("/v1/auth/refresh", &json!({"refresh_token": self.token}))
    }

    fn response(&mut self, status: StatusCode, body: &[u8]) -> bool {
        let next = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["refresh_token"].as_str().map(str::to_owned));
        match next {
            Some(token) if status.is_success() => {
                self.token = token;
                true
            }
            _ => false,
        }
    }
}

/// argon2id hashes per second at the default (production) parameters, with as many
/// running at once as the server allows.
pub async fn argon2_rate(duration: Duration) -> anyhow::Result<f64> {
    let config = HashConfig::default();
    let hasher = PasswordHasher::new(config)?;
    let password = Password::new(PASSWORD, None, &PasswordPolicy::default())?;
    let started = Instant::now();
    let workers: Vec<_> = (0..config.max_concurrent.max(1))
        .map(|_| {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while started.elapsed() < duration {
                    hasher.hash(&password).await?;
                    n += 1;
                }
                anyhow::Ok(n)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Median latency (ms) of failed sign-ins for an existing account and for an unknown
/// one, interleaved, `rounds` each.
pub async fn failed_login_timing(addr: SocketAddr, rounds: usize) -> anyhow::Result<(f64, f64)> {
    register(addr, "bench-timing@example.com").await?;
    let (mut known, mut unknown) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        for (email, samples) in [
            ("bench-timing@example.com", &mut known),
            ("nobody-here@example.com", &mut unknown),
        ] {
            let request = load::post_json(
                "/v1/auth/login",
                &json!({"email": email, "password": "wrong password here"}),
            );
            let started = Instant::now();
            let answer = load::once(addr, request).await;
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
            anyhow::ensure!(
                answer.is_some_and(|(s, _)| s == StatusCode::UNAUTHORIZED),
                "expected 401"
            );
        }
    }
    Ok((median(&mut known), median(&mut unknown)))
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let middle = samples.get(samples.len() / 2).copied().unwrap_or_default();
    (middle * 1000.0).round() / 1000.0
}

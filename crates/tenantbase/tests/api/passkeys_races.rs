//! Passkey ceremonies finished twice at once, a passkey removed while it signs in, and a
//! passkey's and an identity's removals racing for an account's last ways to sign in: end
//! to end on both backends.

use std::time::{Duration, Instant};

use axum::http::Method;
use sqlx::{Connection, PgConnection};
use tenantbase_testkit::oidc_provider::{OidcProvider, ProviderUser};

use crate::helpers::{BOTH, Backend, TestApp, TestResponse};
use crate::oidc_mfa::app_with_provider_and;
use crate::passkeys::{
    ORIGIN, SoftKey, add_passkey, app, events_of, finish_registration, login_finish, login_start,
    password_step, registration_options, relying_party, second_step_finish, second_step_options,
    sign_in,
};
use crate::tenants::Caller;

/// The statuses of two answers, the lower first.
fn statuses(one: &TestResponse, two: &TestResponse) -> (u16, u16) {
    let (a, b) = (one.status.as_u16(), two.status.as_u16());
    (a.min(b), a.max(b))
}

#[tokio::test]
async fn a_ceremony_finished_twice_at_once_counts_once() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();

        let options = registration_options(&app, &ada).await;
        let created = key.create(ORIGIN, &options).await;
        let (one, two) = tokio::join!(
            finish_registration(&app, &ada, "One", &created),
            finish_registration(&app, &ada, "Two", &created),
        );
        assert_eq!(statuses(&one, &two), (201, 422), "{backend:?}");
        let listed = ada.get(&app, "/v1/auth/passkeys").await.json();
        assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

        let assertion = key.get(ORIGIN, &login_start(&app).await).await;
        let (one, two) = tokio::join!(
            login_finish(&app, &assertion),
            login_finish(&app, &assertion)
        );
        assert_eq!(statuses(&one, &two), (200, 401), "{backend:?}");
        let mfa_token = password_step(&app, &[]).await;
        let options = second_step_options(&app, &mfa_token).await;
        let assertion = key.get(ORIGIN, &options).await;
        let (one, two) = tokio::join!(
            second_step_finish(&app, &mfa_token, &assertion, &[]),
            second_step_finish(&app, &mfa_token, &assertion, &[]),
        );
        assert_eq!(statuses(&one, &two), (200, 401), "{backend:?}");
        let succeeded = events_of(&app, "auth.passkey.login.succeeded").await;
        assert_eq!(succeeded.len(), 2, "one sign-in of each kind");
    }
}

/// An app with passkeys and the test provider (running while it is kept), and an account
/// it signed up (no password) through the provider, signed in there.
async fn federated(backend: Backend) -> (TestApp, OidcProvider, Caller) {
    let (app, provider) = app_with_provider_and(backend, |options| {
        options.passkeys = Some(relying_party());
    })
    .await;
    provider.sign_in_as(ProviderUser::verified("sub-fed", "fed@example.com"));
    let fed = Caller::from_tokens(&crate::oidc::sign_in(&app).await);
    (app, provider, fed)
}

/// Two removals at once: one goes through, the other finds the account's last way to
/// sign in — or, when the first ended the session both were sent in, that session gone.
async fn removed_at_once(app: &TestApp, caller: &Caller, paths: [&str; 2]) -> [u16; 2] {
    let (one, two) = tokio::join!(
        caller.call(app, Method::DELETE, paths[0], None),
        caller.call(app, Method::DELETE, paths[1], None),
    );
    let (low, high) = statuses(&one, &two);
    assert_eq!(low, 204, "{} / {}", one.text(), two.text());
    let refused = if one.status == 204 { &two } else { &one };
    match high {
        409 => {
            refused.problem(409, "last_sign_in_method");
        }
        401 => refused.assert_invalid_token(),
        _ => panic!("{low} and {high}: {} / {}", one.text(), two.text()),
    }
    [one.status.as_u16(), two.status.as_u16()]
}

#[tokio::test]
async fn a_passkey_and_an_identity_removed_at_once_leave_one() {
    for backend in BOTH {
        let (app, _provider, fed) = federated(backend).await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &fed, &mut key, "Laptop").await;
        let passkey_path = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));
        let identities = fed.get(&app, "/v1/auth/identities").await.json();
        let identity = identities["items"][0]["id"].as_str().expect("id");
        let identity_path = format!("/v1/auth/identities/{identity}");

        let [passkey_removal, _] =
            removed_at_once(&app, &fed, [&passkey_path, &identity_path]).await;
        // Whichever is left still signs in.
        if passkey_removal == 204 {
            crate::oidc::sign_in(&app).await;
        } else {
            assert_eq!(sign_in(&app, &mut key, ORIGIN).await.status, 200);
        }
    }
}

#[tokio::test]
async fn a_passkey_removed_while_it_signs_in_is_refused_as_unknown() {
    for backend in BOTH {
        let app = app(backend).await;
        let ada = Caller::registered(&app, "ada@example.com").await;
        let mut key = SoftKey::default();
        let passkey = add_passkey(&app, &ada, &mut key, "Laptop").await;
        let path = format!("/v1/auth/passkeys/{}", passkey["id"].as_str().expect("id"));
        let assertion = key.get(ORIGIN, &login_start(&app).await).await;

        let (removed, finished) = match backend {
            Backend::Postgres => removed_in_flight(&app, &ada, &path, &assertion).await,
            // The writer runs one unit at a time: the removal is over before the finish
            // reads the passkey.
            Backend::Sqlite => (
                ada.call(&app, Method::DELETE, &path, None).await,
                login_finish(&app, &assertion).await,
            ),
        };
        assert_eq!(removed.status, 204, "{backend:?}: {}", removed.text());
        finished.problem(401, "passkey_refused");
        let failed = events_of(&app, "auth.passkey.login.failed").await;
        let reasons: Vec<_> = failed.iter().map(|e| &e["payload"]["reason"]).collect();
        assert_eq!(
            reasons,
            ["unknown passkey"],
            "{backend:?}, not a cloned key"
        );
    }
}

/// On PostgreSQL: the removal of Ada's passkey and the finish of its sign-in lined up for
/// her row (held from outside the app until both wait for it), the removal first — so the
/// finish has read the passkey before the removal commits, and checks it after. Answers
/// the removal's response and the finish's.
async fn removed_in_flight(
    app: &TestApp,
    ada: &Caller,
    path: &str,
    assertion: &serde_json::Value,
) -> (TestResponse, TestResponse) {
    let holder = hold_user_row(app, "ada@example.com").await;
    let removal = ada.call(app, Method::DELETE, path, None);
    let finish = async {
        waiting_for_locks(app, 1).await;
        login_finish(app, assertion).await
    };
    let release = async {
        waiting_for_locks(app, 2).await;
        release_row(holder).await;
    };
    let (removed, finished, ()) = tokio::join!(removal, finish, release);
    (removed, finished)
}

/// A connection of its own to the app's PostgreSQL database, holding the row of the user
/// with `email` (in a transaction left open) until [`release_row`]: the app's units that
/// ask for that row line up behind it.
pub(crate) async fn hold_user_row(app: &TestApp, email: &str) -> PgConnection {
    hold_rows(
        app,
        "SELECT 1 FROM users WHERE email = $1 FOR UPDATE",
        email,
    )
    .await
}

/// A connection of its own holding the rows `select` (a `SELECT … FOR UPDATE` of `$1`)
/// locks, in a transaction left open until [`release_row`]; at least one must be found.
pub(crate) async fn hold_rows(app: &TestApp, select: &str, key: &str) -> PgConnection {
    let mut holder = PgConnection::connect(&app.database_url)
        .await
        .expect("postgres");
    sqlx::query("BEGIN")
        .execute(&mut holder)
        .await
        .expect("begin");
    let held = sqlx::query(select)
        .bind(key)
        .fetch_all(&mut holder)
        .await
        .expect("the rows to hold");
    assert!(!held.is_empty(), "nothing to hold: {select}");
    holder
}

/// Lets go of the row [`hold_user_row`] holds.
pub(crate) async fn release_row(mut holder: PgConnection) {
    sqlx::query("COMMIT")
        .execute(&mut holder)
        .await
        .expect("commit");
}

/// Until `count` of the connections to the app's PostgreSQL database wait for a lock.
pub(crate) async fn waiting_for_locks(app: &TestApp, count: i64) {
    let mut watcher = PgConnection::connect(&app.database_url)
        .await
        .expect("postgres");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("pg_stat_activity");
        if waiting >= count {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} of {count} waiting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

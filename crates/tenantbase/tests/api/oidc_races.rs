//! OpenID Connect flows raced by a misbehaving client, on both backends: one state, one
//! login code or one provider identity used by two requests at once, and two unlinks
//! that would together leave an account no way to sign in.

use axum::http::Method;
use serde_json::{Value, json};
use tenantbase_testkit::oidc_provider::ProviderUser;

use crate::auth::register;
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::oidc::{
    APP_PAGE, app_with_provider, caller, confirm, consent, exchange_with, link_code, location,
    query_param, sign_in, start_path,
};
use crate::tenants::Caller;

/// How many times each race is run: one run may not interleave the way that hurts.
const ROUNDS: usize = 4;

fn statuses(answers: &[&TestResponse]) -> Vec<u16> {
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort_unstable();
    statuses
}

#[tokio::test]
async fn one_state_or_login_code_used_twice_at_once_signs_in_once() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        provider.sign_in_as(ProviderUser::verified("sub-1", "one@example.com"));
        for _ in 0..ROUNDS {
            let started = app.get(&start_path(APP_PAGE)).await;
            let callback = consent(&location(&started)).await;
            let (a, b) = tokio::join!(app.get(&callback), app.get(&callback));
            assert_eq!(statuses(&[&a, &b]), [302, 422], "{backend:?}");
            let won = if a.status == 302 { &a } else { &b };
            let code = query_param(&location(won), "login_code").expect("login_code");

            let body = || json!({"login_code": code});
            let (x, y) = tokio::join!(
                exchange_with(&app, body(), &[]),
                exchange_with(&app, body(), &[])
            );
            assert_eq!(statuses(&[&x, &y]), [200, 422], "{backend:?}");
        }
    }
}

#[tokio::test]
async fn a_new_identity_signing_in_twice_at_once_gets_one_account() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        for round in 0..ROUNDS {
            let subject = format!("sub-{round}");
            provider.sign_in_as(ProviderUser::verified(
                &subject,
                &format!("{subject}@example.com"),
            ));
            let first = consent(&location(&app.get(&start_path(APP_PAGE)).await)).await;
            let second = consent(&location(&app.get(&start_path(APP_PAGE)).await)).await;
            let (a, b) = tokio::join!(app.get(&first), app.get(&second));
            let mut users = Vec::new();
            for answer in [a, b] {
                let code = query_param(&location(&answer), "login_code").expect("code");
                let tokens = exchange_with(&app, json!({"login_code": code}), &[]).await;
                assert_eq!(tokens.status, 200, "{backend:?}: {}", tokens.text());
                users.push(tokens.json()["user"]["id"].clone());
            }
            assert_eq!(users[0], users[1], "{backend:?}");
        }
    }
}

#[tokio::test]
async fn one_identity_confirmed_for_two_accounts_at_once_links_to_one() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        for round in 0..ROUNDS {
            let ann = caller(&register(&app, &format!("ann{round}@example.com")).await);
            let bob = caller(&register(&app, &format!("bob{round}@example.com")).await);
            provider.sign_in_as(ProviderUser::verified(
                &format!("shared-{round}"),
                "shared@example.com",
            ));
            let ann_code = link_code(&app, &ann).await;
            let bob_code = link_code(&app, &bob).await;
            let (a, b) = tokio::join!(
                confirm(&app, &ann, &ann_code),
                confirm(&app, &bob, &bob_code)
            );
            assert_eq!(statuses(&[&a, &b]), [201, 409], "{backend:?}");
            let loser = if a.status == 409 { &a } else { &b };
            loser.problem(409, "identity_linked_elsewhere");
            let linked = identities(&app, &ann).await.len() + identities(&app, &bob).await.len();
            assert_eq!(linked, 1, "{backend:?}");
        }
    }
}

async fn identities(app: &TestApp, who: &Caller) -> Vec<Value> {
    let listed = who.get(app, "/v1/auth/identities").await.json();
    listed["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn two_unlinks_at_once_leave_a_way_to_sign_in() {
    for backend in BOTH {
        let (app, provider) = app_with_provider(backend).await;
        for round in 0..ROUNDS {
            // A provider-made account (no password) with a second identity linked.
            provider.sign_in_as(ProviderUser::verified(
                &format!("first-{round}"),
                &format!("fed{round}@example.com"),
            ));
            let fed = caller(&sign_in(&app).await);
            provider.sign_in_as(ProviderUser::verified(
                &format!("second-{round}"),
                "elsewhere@example.com",
            ));
            let code = link_code(&app, &fed).await;
            assert_eq!(confirm(&app, &fed, &code).await.status, 201);
            let ids: Vec<String> = identities(&app, &fed)
                .await
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned())
                .collect();
            assert_eq!(ids.len(), 2);
            let paths: Vec<String> = ids
                .iter()
                .map(|id| format!("/v1/auth/identities/{id}"))
                .collect();
            let (a, b) = tokio::join!(
                fed.call(&app, Method::DELETE, &paths[0], None),
                fed.call(&app, Method::DELETE, &paths[1], None)
            );
            // When the first identity goes first, the session it opened goes with it: the
            // other unlink then finds its caller signed out.
            let statuses = statuses(&[&a, &b]);
            assert!(
                statuses == [204, 409] || statuses == [204, 401],
                "{backend:?}: {statuses:?}"
            );
            let user = app
                .store
                .user_by_email(&format!("fed{round}@example.com"))
                .await
                .expect("read")
                .expect("user");
            let left = app.store.identities_of(user.id).await.expect("read");
            assert_eq!(left.len(), 1, "{backend:?}");
        }
    }
}

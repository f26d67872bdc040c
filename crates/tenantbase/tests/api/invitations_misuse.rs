//! Invitations accepted at once, on both backends: one membership, and the answers a
//! client can act on (`already_member`, an invalid token), never a raw constraint.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use crate::helpers::{BOTH, TestApp};
use crate::tenants::{Caller, mailed_invitation_token, verified};

/// Sends each `(caller, token)` acceptance at once; answers their statuses and codes,
/// sorted.
async fn accept_at_once(
    app: &Arc<TestApp>,
    acceptances: Vec<(Caller, String)>,
) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = acceptances
        .into_iter()
        .map(|(caller, token)| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({ "token": token });
                let answer = caller
                    .call(&app, Method::POST, "/v1/invitations/accept", Some(body))
                    .await;
                (answer.status.as_u16(), answer.json()["code"].clone())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers.sort_by_key(|(status, _)| *status);
    answers
}

async fn member_count(app: &TestApp, owner: &Caller, org: &str) -> usize {
    let members = owner
        .get(app, &format!("/v1/orgs/{org}/members?limit=100"))
        .await
        .json();
    members["items"].as_array().expect("items").len()
}

#[tokio::test]
async fn one_token_accepted_four_times_at_once_joins_once() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Inv").await;
        for round in 0..3 {
            let email = format!("r{round}@example.com");
            let invitee = verified(&app, &email).await;
            let sent = owner
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/invitations"),
                    json!({ "email": email }),
                )
                .await;
            assert_eq!(sent.status, 201, "{}", sent.text());
            let token = mailed_invitation_token(&app, &email).await;
            let answers = accept_at_once(&app, vec![(invitee, token); 4]).await;
            let invalid = (422, json!("validation_failed"));
            assert_eq!(
                answers,
                [
                    (200, Value::Null),
                    invalid.clone(),
                    invalid.clone(),
                    invalid
                ],
                "{backend:?} round {round}"
            );
            assert_eq!(
                member_count(&app, &owner, &org).await,
                round + 2,
                "{backend:?}"
            );
        }
    }
}

#[tokio::test]
async fn two_invitations_accepted_at_once_by_one_user_join_once() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Inv").await;
        for round in 0..3 {
            let joiner = verified(&app, &format!("joiner{round}@example.com")).await;
            let mut acceptances = Vec::new();
            for n in 0..2 {
                // Invitations for anyone holding the link, sent to two addresses.
                let email = format!("link{round}-{n}@example.com");
                let sent = owner
                    .post(
                        &app,
                        &format!("/v1/orgs/{org}/invitations"),
                        json!({"email": email, "any_email": true}),
                    )
                    .await;
                assert_eq!(sent.status, 201, "{}", sent.text());
                let token = mailed_invitation_token(&app, &email).await;
                acceptances.push((joiner.clone(), token));
            }
            let answers = accept_at_once(&app, acceptances).await;
            assert_eq!(
                answers,
                [(200, Value::Null), (409, json!("already_member"))],
                "{backend:?} round {round}"
            );
            assert_eq!(
                member_count(&app, &owner, &org).await,
                round + 2,
                "{backend:?}"
            );
        }
    }
}

/// An invitation without `roles` offers the built-in `member` role; an empty list offers
/// none, as a member's roles can be set to none — it is not read as "absent".
#[tokio::test]
async fn an_empty_role_list_is_no_role_not_the_default() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let owner = verified(&app, "owner@example.com").await;
        let org = owner.create_org(&app, "Roles").await;
        let invite = |email: &str, roles: Option<Value>| {
            let mut body = json!({ "email": email });
            if let Some(roles) = roles {
                body["roles"] = roles;
            }
            body
        };
        let path = format!("/v1/orgs/{org}/invitations");
        let default = owner.post(&app, &path, invite("a@example.com", None)).await;
        assert_eq!(default.status, 201, "{}", default.text());
        assert_eq!(default.json()["role_ids"].as_array().map(Vec::len), Some(1));
        let none = owner
            .post(&app, &path, invite("b@example.com", Some(json!([]))))
            .await;
        assert_eq!(none.status, 201, "{}", none.text());
        assert_eq!(none.json()["role_ids"], json!([]), "{backend:?}");
    }
}

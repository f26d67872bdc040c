//! Helpers of the org tests: callers with a bearer credential, and fixtures (an org with
//! members in known roles).

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};

use crate::auth::register;
use crate::helpers::{TestApp, TestResponse};

/// A bearer credential (access token or API key) to call the API with.
#[derive(Clone)]
pub(crate) struct Caller {
    pub token: String,
    pub user_id: String,
}

impl Caller {
    pub async fn guest(app: &TestApp) -> Self {
        let response = app
            .send(
                Request::post("/v1/auth/guest")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text());
        Self::from_tokens(&response.json())
    }

    pub async fn registered(app: &TestApp, email: &str) -> Self {
        Self::from_tokens(&register(app, email).await)
    }

    /// The caller signed in with these tokens (a sign-in or registration's answer).
    pub fn from_tokens(tokens: &Value) -> Self {
        Self {
            token: tokens["access_token"]
                .as_str()
                .expect("access token")
                .to_owned(),
            user_id: tokens["user"]["id"].as_str().expect("user id").to_owned(),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_owned(),
            user_id: self.user_id.clone(),
        }
    }

    pub async fn call(
        &self,
        app: &TestApp,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> TestResponse {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token));
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        app.send(request.body(body).expect("request")).await
    }

    pub async fn get(&self, app: &TestApp, path: &str) -> TestResponse {
        self.call(app, Method::GET, path, None).await
    }

    pub async fn post(&self, app: &TestApp, path: &str, body: Value) -> TestResponse {
        self.call(app, Method::POST, path, Some(body)).await
    }

    /// Creates an org and answers its id.
    pub async fn create_org(&self, app: &TestApp, name: &str) -> String {
        let response = self.post(app, "/v1/orgs", json!({"name": name})).await;
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["id"].as_str().expect("org id").to_owned()
    }

    /// Creates a project and answers its id.
    pub async fn create_project(&self, app: &TestApp, org: &str, name: &str) -> String {
        let response = self
            .post(
                app,
                &format!("/v1/orgs/{org}/projects"),
                json!({"name": name}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text());
        response.json()["id"]
            .as_str()
            .expect("project id")
            .to_owned()
    }
}

/// The token of the link mailed to `to` whose URL contains `page` (read from the queued
/// `mail.send` job's text).
pub(crate) async fn mailed_token(app: &TestApp, to: &str, page: &str) -> String {
    let text = app
        .queued_mail()
        .await
        .into_iter()
        .filter(|mail| mail.to.contains(to))
        .map(|mail| mail.text)
        .find(|text| text.contains(page))
        .unwrap_or_else(|| panic!("no {page} email to {to}"));
    let start = text.find(page).expect("link") + page.len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

pub(crate) async fn mailed_invitation_token(app: &TestApp, to: &str) -> String {
    mailed_token(app, to, "accept-invitation?token=").await
}

/// Registers `email` and confirms it with the mailed link, as invitations require.
pub(crate) async fn verified(app: &TestApp, email: &str) -> Caller {
    let caller = Caller::registered(app, email).await;
    let token = mailed_token(app, email, "verify-email?token=").await;
    let confirmed = caller
        .post(app, "/v1/auth/email/verify", json!({"token": token}))
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.text());
    caller
}

/// Marks `email`'s address verified in the database directly: for tests on a step-up
/// window too short to wait for the mailed link.
pub(crate) async fn mark_verified(app: &TestApp, email: &str) {
    let sql = format!("UPDATE users SET email_verified = TRUE WHERE email = '{email}'");
    assert_eq!(app.execute_sql(&sql).await, 1, "{email} is registered");
}

/// A member of `org` added by invitation with `roles`, as the owner.
pub(crate) async fn add_member(
    app: &TestApp,
    owner: &Caller,
    org: &str,
    email: &str,
    roles: &[&str],
) -> Caller {
    let member = verified(app, email).await;
    let invited = owner
        .post(
            app,
            &format!("/v1/orgs/{org}/invitations"),
            json!({"email": email, "roles": roles}),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.text());
    let token = mailed_invitation_token(app, email).await;
    let accepted = member
        .post(app, "/v1/invitations/accept", json!({"token": token}))
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    member
}

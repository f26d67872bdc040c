//! A small OpenID provider on loopback for the sign-in tests: discovery, an authorization
//! endpoint that consents at once as the user the test chose, a token endpoint that checks
//! the client secret and the PKCE verifier (S256) and issues ES256-signed ID tokens, and
//! the JWKS. A test can make the next ID tokens wrong in one way (audience, issuer, nonce,
//! expiry) to see them refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client the provider knows.
pub const CLIENT_ID: &str = "tenantbase-tests";
pub const CLIENT_SECRET: &str = "a-client-secret-only-the-tests-know";
const KEY_ID: &str = "test-key-1";

/// Who consents at the authorization endpoint.
#[derive(Debug, Clone)]
pub struct ProviderUser {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

impl ProviderUser {
    /// A user whose email the provider vouches for.
    pub fn verified(subject: &str, email: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            email: Some(email.to_owned()),
            email_verified: true,
            name: Some(format!("User {subject}")),
        }
    }
}

/// One way to make the next ID tokens wrong; `None` everywhere issues honest tokens.
#[derive(Debug, Clone, Default)]
pub struct Tamper {
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub nonce: Option<String>,
    /// Expired ten minutes ago.
    pub expired: bool,
}

/// A running provider; stopped on drop.
pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`: the issuer and the base of every endpoint.
    pub issuer: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    issuer: String,
    key: SigningKey,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    user: Option<ProviderUser>,
    tamper: Tamper,
    /// Codes issued and not yet redeemed.
    grants: HashMap<String, Grant>,
}

struct Grant {
    user: ProviderUser,
    nonce: Option<String>,
    challenge: String,
    redirect_uri: String,
}

impl Shared {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl OidcProvider {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the provider");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            key: new_key(),
            inner: Mutex::new(Inner::default()),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("provider serves");
        });
        Self {
            issuer,
            shared,
            server,
        }
    }

    /// The user who consents at the next authorizations.
    pub fn sign_in_as(&self, user: ProviderUser) {
        self.shared.inner().user = Some(user);
    }

    /// How the next ID tokens are made wrong.
    pub fn tamper(&self, tamper: Tamper) {
        self.shared.inner().tamper = tamper;
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("randomness");
    bytes
}

fn new_key() -> SigningKey {
    loop {
        // All but a negligible share of 32-byte strings are valid scalars.
        if let Ok(key) = SigningKey::from_slice(&random_bytes()) {
            return key;
        }
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let issuer = &shared.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let point = shared.key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    Json(json!({"keys": [{
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
        "kid": KEY_ID,
        "use": "sig",
        "alg": "ES256",
    }]}))
}

/// Consents at once as the chosen user and sends the browser back with code and state.
async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str);
    if param("client_id") != Some(CLIENT_ID) || param("response_type") != Some("code") {
        return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    let scopes_openid = param("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let (Some(redirect_uri), Some(challenge), Some("S256"), true) = (
        param("redirect_uri"),
        param("code_challenge"),
        param("code_challenge_method"),
        scopes_openid,
    ) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Some(user) = shared.inner().user.clone() else {
        return oauth_error(StatusCode::BAD_REQUEST, "access_denied");
    };
    let code = URL_SAFE_NO_PAD.encode(random_bytes());
    shared.inner().grants.insert(
        code.clone(),
        Grant {
            user,
            nonce: param("nonce").map(str::to_owned),
            challenge: challenge.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        },
    );
    let mut back = url::Url::parse(redirect_uri).expect("redirect URI");
    back.query_pairs_mut().append_pair("code", &code);
    if let Some(state) = param("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The client from HTTP Basic (form-encoded id and secret, RFC 6749 §2.3.1) or the body.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let Some(basic) = basic {
        let (id, secret) = basic.split_once(':')?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((decode(id)?, decode(secret)?));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

/// Redeems a code once: the client secret, redirect URI and PKCE verifier must match.
async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let credentials = client_credentials(&headers, &form);
    if credentials != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.grant_type != "authorization_code" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let (grant, tamper) = {
        let mut inner = shared.inner();
        (inner.grants.remove(&form.code), inner.tamper.clone())
    };
    let Some(grant) = grant else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verified = form.code_verifier.as_deref().is_some_and(|verifier| {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == grant.challenge
    });
    if !verified || form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let id_token = id_token(&shared, &grant, &tamper);
    Json(json!({
        "access_token": "an-opaque-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn id_token(shared: &Shared, grant: &Grant, tamper: &Tamper) -> String {
    let now = chrono::Utc::now().timestamp();
    let (iat, exp) = if tamper.expired {
        (now - 1200, now - 600)
    } else {
        (now, now + 300)
    };
    let mut claims = json!({
        "iss": tamper.issuer.as_deref().unwrap_or(&shared.issuer),
        "sub": grant.user.subject,
        "aud": tamper.audience.as_deref().unwrap_or(CLIENT_ID),
        "iat": iat,
        "exp": exp,
        "email_verified": grant.user.email_verified,
    });
    let nonce = tamper.nonce.as_deref().or(grant.nonce.as_deref());
    for (name, value) in [
        ("nonce", nonce),
        ("email", grant.user.email.as_deref()),
        ("name", grant.user.name.as_deref()),
    ] {
        if let Some(value) = value {
            claims[name] = value.into();
        }
    }
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": KEY_ID});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature: Signature = shared.key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

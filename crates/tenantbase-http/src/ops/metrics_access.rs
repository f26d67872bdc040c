//! Who may scrape `/metrics`, and where: by default anyone, on the API listener. With
//! `metrics.listen` the API listener no longer serves it (404, like any unknown path) and
//! a management listener of its own does, like Keycloak's management port; with
//! `metrics.token` a scraper must present that bearer token, on either listener.

use std::fmt;

use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// The `/metrics` access rule, from the configuration.
#[derive(Clone, Default)]
pub struct MetricsAccess {
    /// SHA-256 of the bearer token a scraper must present; `None` asks for none. Only the
    /// digest is kept, and digests are compared, so the comparison takes the same time
    /// whatever the length or content of a wrong token.
    token_sha256: Option<[u8; 32]>,
    /// Served only on the management listener: the API listener answers 404.
    separate_listener: bool,
}

/// Which listener a request to `/metrics` arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Api,
    Management,
}

impl MetricsAccess {
    /// `token`: the bearer token scrapers must send, if any. `separate_listener`: whether
    /// a management listener serves `/metrics` instead of the API listener.
    pub fn new(token: Option<&str>, separate_listener: bool) -> Self {
        Self {
            token_sha256: token.map(|t| Sha256::digest(t.as_bytes()).into()),
            separate_listener,
        }
    }

    /// Admits the request or says why not: 404 on the API listener when a management
    /// listener serves metrics, 401 without the right token.
    pub(crate) fn admit(&self, listener: Listener, parts: &Parts) -> Result<(), ApiError> {
        if self.separate_listener && listener == Listener::Api {
            return Err(ApiError::not_found(
                "route_not_found",
                "No route matches this path.",
            ));
        }
        let Some(expected) = &self.token_sha256 else {
            return Ok(());
        };
        let presented = crate::extract::bearer_token(parts)?;
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        if bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(ApiError::invalid_token(
                "invalid_token",
                "The metrics token is wrong.",
            ))
        }
    }
}

impl fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token_sha256.map(|_| "set"))
            .field("separate_listener", &self.separate_listener)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut request = Request::get("/metrics");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(()).expect("request").into_parts().0
    }

    #[test]
    fn a_token_is_asked_for_on_either_listener_and_must_match() {
        let access = MetricsAccess::new(Some("scrape-secret"), false);
        for listener in [Listener::Api, Listener::Management] {
            assert!(
                access
                    .admit(listener, &parts(Some("Bearer scrape-secret")))
                    .is_ok()
            );
            for wrong in [
                None,
                Some("Bearer scrape-secreT"),
                Some("Bearer s"),
                Some("Basic x"),
            ] {
                let refused = access.admit(listener, &parts(wrong)).expect_err("refused");
                assert_eq!(refused.status(), 401, "{wrong:?}");
            }
        }
    }

    #[test]
    fn a_separate_listener_takes_metrics_off_the_api_listener() {
        let access = MetricsAccess::new(None, true);
        let hidden = access
            .admit(Listener::Api, &parts(None))
            .expect_err("hidden");
        assert_eq!(hidden.status(), 404);
        assert!(access.admit(Listener::Management, &parts(None)).is_ok());
        assert!(
            MetricsAccess::default()
                .admit(Listener::Api, &parts(None))
                .is_ok()
        );
    }

    #[test]
    fn debug_never_shows_the_token_or_its_digest() {
        let shown = format!("{:?}", MetricsAccess::new(Some("scrape-secret"), false));
        assert!(
            !shown.contains("scrape-secret") && shown.contains("set"),
            "{shown}"
        );
    }
}

//! Limits a route declares for itself, where it is declared (`limited`): a body cap of
//! its own, a streamed body, or work that takes as long as its bytes take. The
//! middleware reads the matched route's limits from a table and knows no route itself.
//!
//! A route layer runs after every router-wide layer, too late to lift the request
//! timeout, the write slot or the body limit those apply first. So `limited` also
//! writes the limits into the route's OpenAPI operations, and `split` moves them from
//! the document into the table the middleware consults before it runs the route.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Method, Request};
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::AppState;
use crate::operations::operations;

/// Where `limited` leaves a route's limits until `split` takes them.
const EXTENSION: &str = "x-route-limits";

/// How a route departs from the server-wide limits; the default departs in nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RouteLimits {
    body: BodyLimit,
    /// Exempt from `http.request_timeout` and from the write slots (ADR 0008): the
    /// request lasts as long as its bytes take and is bounded by its own caps.
    long_running: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BodyLimit {
    /// `http.body_limit_bytes`.
    #[default]
    Server,
    /// This many bytes, whatever `http.body_limit_bytes` says.
    Max(usize),
    /// No cap: the body streams on to where its own caps bound it.
    Streamed,
}

impl RouteLimits {
    /// A body streamed to the object store: no body limit, no timeout, no write slot.
    pub(crate) const STREAMED: Self = Self {
        body: BodyLimit::Streamed,
        long_running: true,
    };

    /// Work as long as its bytes (reading stored bytes back): no timeout, no write slot.
    pub(crate) const LONG_RUNNING: Self = Self {
        body: BodyLimit::Server,
        long_running: true,
    };

    /// Bodies up to `bytes`, instead of `http.body_limit_bytes`.
    pub(crate) const fn body_max(bytes: usize) -> Self {
        Self {
            body: BodyLimit::Max(bytes),
            long_running: false,
        }
    }

    pub(crate) fn body(&self) -> BodyLimit {
        self.body
    }

    pub(crate) fn long_running(&self) -> bool {
        self.long_running
    }
}

/// Declares `route`'s own limits: its extractors' body limit (a layer on the route) and,
/// through its OpenAPI operations, what the middleware in front of it applies.
pub(crate) fn limited(
    limits: RouteLimits,
    route: UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let (schemas, mut paths, method_router) = route;
    let mark = serde_json::to_value(limits).unwrap_or_default();
    for item in paths.paths.values_mut() {
        for operation in operations(item) {
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert(EXTENSION.to_owned(), mark.clone());
        }
    }
    let method_router = match limits.body {
        BodyLimit::Server => method_router,
        BodyLimit::Max(bytes) => method_router.layer(DefaultBodyLimit::max(bytes)),
        BodyLimit::Streamed => method_router.layer(DefaultBodyLimit::disable()),
    };
    (schemas, paths, method_router)
}

/// The routes' limits by route template and method; routes not in it have the default.
/// Keyed by the template alone so a request's borrowed template finds its entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTable(Arc<HashMap<String, Vec<(Method, RouteLimits)>>>);

impl RouteTable {
    /// The limits of the route `request` matched.
    pub(crate) fn limits_of<B>(&self, request: &Request<B>) -> RouteLimits {
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(RouteLimits::default, |path| {
                self.get(request.method(), path.as_str())
            })
    }

    /// The limits of the route `template` for `method`.
    pub(crate) fn get(&self, method: &Method, template: &str) -> RouteLimits {
        self.0
            .get(template)
            .and_then(|methods| methods.iter().find(|(m, _)| m == method))
            .map_or_else(RouteLimits::default, |(_, limits)| *limits)
    }
}

/// The router, its OpenAPI document (without the limits' marks) and its routes' limits.
pub(crate) fn split(routes: OpenApiRouter<AppState>) -> (Router<AppState>, OpenApi, RouteTable) {
    let (router, mut api) = routes.split_for_parts();
    let mut table: HashMap<String, Vec<(Method, RouteLimits)>> = HashMap::new();
    for (template, item) in api.paths.paths.iter_mut() {
        let methods = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            let Some(extensions) = operation.extensions.as_mut() else {
                continue;
            };
            let Some(mark) = extensions.remove(EXTENSION) else {
                continue;
            };
            if extensions.is_empty() {
                operation.extensions = None;
            }
            if let Ok(limits) = serde_json::from_value(mark) {
                table
                    .entry(template.clone())
                    .or_default()
                    .push((method, limits));
            }
        }
    }
    (router, api, RouteTable(Arc::new(table)))
}

#[cfg(test)]
mod tests {
    use utoipa_axum::routes;

    use super::*;

    /// A route with a body.
    #[utoipa::path(put, path = "/things/{id}", responses((status = 204)))]
    async fn put_thing() {}

    /// A route without.
    #[utoipa::path(get, path = "/things/{id}", responses((status = 200)))]
    async fn get_thing() {}

    #[test]
    fn declared_limits_reach_the_table_and_leave_the_document() {
        let routes = OpenApiRouter::new()
            .routes(limited(RouteLimits::body_max(10), routes!(put_thing)))
            .routes(routes!(get_thing));
        let (_, api, table) = split(routes);
        assert_eq!(
            table.get(&Method::PUT, "/things/{id}"),
            RouteLimits::body_max(10)
        );
        assert_eq!(
            table.get(&Method::GET, "/things/{id}"),
            RouteLimits::default()
        );
        let document = serde_json::to_string(&api).expect("document");
        assert!(!document.contains(EXTENSION), "{document}");
    }
}

//! The refusals an operation answers because of what it is, documented in one place
//! rather than route by route: its access rule's (401, 403, 404), a JSON body's (400
//! `malformed_json`, 408, 415 `unsupported_media_type`, 422), a query string's (422), and
//! the 413 of a body over the limit and the server's own 503 (timeout, shutdown, the
//! database), which every route can answer.
//! `guard` applies this to every route, so a new route cannot leave one out; where a
//! route describes the same status itself, the two descriptions are joined. Routes that
//! spend the client address's request budget are registered through `throttled`, which
//! adds their 429.

use std::collections::btree_map::Entry;

use tenantbase_core::tenancy::Access;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::AppState;
use crate::operations::operations;

/// What `ApiJson` answers before the handler runs.
const JSON_BODY: &[(&str, &str)] = &[
    ("400", "The body is not valid JSON (`malformed_json`)"),
    (
        "408",
        "The body did not arrive within the request timeout (`request_timeout`)",
    ),
    (
        "415",
        "The body is not sent as `application/json` (`unsupported_media_type`)",
    ),
    (
        "422",
        "A field is missing or does not fit (`validation_failed`, with `errors`)",
    ),
];

/// What any route answers for a body over `http.body_limit_bytes`, whether it reads one
/// or not: the limit is checked before routing.
const BODY_TOO_LARGE: (&str, &str) = ("413", "The body is larger than the server accepts");

/// What `ApiQuery` answers for a parameter that does not fit.
const QUERY: &[(&str, &str)] = &[(
    "422",
    "A query parameter does not fit (`validation_failed`, with `errors`)",
)];

/// What any route answers when the server cannot: the request timeout ran out while
/// the server was working (`http.request_timeout`), the server is shutting down, or the
/// database did not answer or gave the request's transaction up to a concurrent one.
const SERVER_UNAVAILABLE: (&str, &str) = (
    "503",
    "The server did not answer within its request timeout, or is shutting down (`service_unavailable`); the database did not answer in time (`database_unavailable`) or rolled the request back in a conflict with a concurrent one (`database_contention`)",
);

/// What `ClientMeta` answers once the client address has spent its budget.
const THROTTLED: (&str, &str) = (
    "429",
    "Too many requests from this address (`rate_limited`); `Retry-After` says when to retry",
);

/// Documents the 429 of a route whose handler takes `ClientMeta`.
pub(crate) fn throttled(route: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let (schemas, mut paths, method_router) = route;
    for item in paths.paths.values_mut() {
        for operation in operations(item) {
            add_problem(operation, THROTTLED.0, THROTTLED.1);
        }
    }
    (schemas, paths, method_router)
}

/// Adds the refusals `operation` implies to its documented responses.
pub(crate) fn document(operation: &mut Operation, access: Access) {
    let mut refusals = access_refusals(access).to_vec();
    if takes_json(operation) {
        refusals.extend_from_slice(JSON_BODY);
    }
    if takes_query(operation) {
        refusals.extend_from_slice(QUERY);
    }
    refusals.push(BODY_TOO_LARGE);
    refusals.push(SERVER_UNAVAILABLE);
    for (status, description) in refusals {
        add_problem(operation, status, description);
    }
}

/// Documents a problem+json answer; where the handler documents its own refusals with
/// this status, the description joins them.
fn add_problem(operation: &mut Operation, status: &str, description: &str) {
    let problem = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    match operation.responses.responses.entry(status.to_owned()) {
        Entry::Occupied(mut entry) => {
            if let RefOr::T(response) = entry.get_mut() {
                response.description = format!("{}; or {description}", response.description);
            }
        }
        Entry::Vacant(entry) => {
            entry.insert(
                ResponseBuilder::new()
                    .description(description)
                    .content(crate::problem::CONTENT_TYPE, problem)
                    .build()
                    .into(),
            );
        }
    }
}

fn access_refusals(access: Access) -> &'static [(&'static str, &'static str)] {
    match access {
        Access::Public => &[],
        Access::SignedIn => &[
            (
                "401",
                "No valid access token (`missing_token`, `invalid_token`)",
            ),
            (
                "403",
                "A token bound to an org, which acts only on that org's routes (`org_bound_token`), or an API key where a user must sign in (`user_required`)",
            ),
        ],
        Access::Introspect => &[(
            "401",
            "No valid access token (`missing_token`, `invalid_token`)",
        )],
        Access::Member => &[
            ("401", "No valid access token or API key"),
            (
                "403",
                "The org requires a second factor and this session signed in without one (`mfa_required`, with `enroll`)",
            ),
            (
                "404",
                "Not a member, another org's token or key, or no such org (`not_found`)",
            ),
        ],
        Access::Leaving => &[
            ("401", "No valid access token or API key"),
            (
                "404",
                "Not a member, another org's token or key, or no such org (`not_found`)",
            ),
        ],
        Access::Permission(_) => &[
            ("401", "No valid access token or API key"),
            (
                "403",
                "A member without the permission (`permission_denied`, with `permission`), or the org requires a second factor and this session signed in without one (`mfa_required`, with `enroll`)",
            ),
            (
                "404",
                "Not a member, another org's token or key, or no such org or resource (`not_found`)",
            ),
        ],
    }
}

fn takes_json(operation: &Operation) -> bool {
    matches!(&operation.request_body, Some(RefOr::T(body))
        if body.content.keys().any(|media| media == "application/json"))
}

fn takes_query(operation: &Operation) -> bool {
    operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter, RefOr::T(p) if p.parameter_in == ParameterIn::Query))
}

//! The refusals an operation answers because of what it is, documented in one place
//! rather than route by route: its access rule's (401, 403, 404), a JSON body's (400
//! `malformed_json`, 413, 415 `unsupported_media_type`, 422) and a query string's (422).
//! `guard` applies this to every route, so a new route cannot leave one out; a route's
//! own, more precise description of the same status wins.

use tenantbase_core::tenancy::Access;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// What `ApiJson` answers before the handler runs.
const JSON_BODY: &[(&str, &str)] = &[
    ("400", "The body is not valid JSON (`malformed_json`)"),
    ("413", "The body is larger than the server accepts"),
    (
        "415",
        "The body is not sent as `application/json` (`unsupported_media_type`)",
    ),
    (
        "422",
        "A field is missing or does not fit (`validation_failed`, with `errors`)",
    ),
];

/// What `ApiQuery` answers for a parameter that does not fit.
const QUERY: &[(&str, &str)] = &[(
    "422",
    "A query parameter does not fit (`validation_failed`, with `errors`)",
)];

/// Adds the refusals `operation` implies to its documented responses.
pub(crate) fn document(operation: &mut Operation, access: Access) {
    let mut refusals = access_refusals(access).to_vec();
    if takes_json(operation) {
        refusals.extend_from_slice(JSON_BODY);
    }
    if takes_query(operation) {
        refusals.extend_from_slice(QUERY);
    }
    for (status, description) in refusals {
        let problem = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(description)
                    .content(crate::problem::CONTENT_TYPE, problem)
                    .build()
                    .into()
            });
    }
}

fn access_refusals(access: Access) -> &'static [(&'static str, &'static str)] {
    match access {
        Access::Public => &[],
        Access::SignedIn => &[(
            "401",
            "No valid access token (`missing_token`, `invalid_token`)",
        )],
        Access::Member => &[
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
                "A member without the permission (`permission_denied`, with `permission`)",
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

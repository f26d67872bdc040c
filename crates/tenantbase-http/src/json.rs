//! `ApiJson`: the JSON body extractor whose every failure is a problem+json answer —
//! 415 for a non-JSON content type, 400 for malformed JSON, 413 past the body limit and
//! 422 naming the field that does not fit the expected shape or that holds a NUL
//! character. Every body is a JSON object. `ApiPatch` is the same for PATCH bodies, whose
//! members that do not fit on their own (a `null` for a field that cannot be null, a
//! string for a flag) the handler reports with the change's other problems; `ApiCreate`
//! for create bodies, whose absent fields it reports so too.

use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tenantbase_core::tenancy::FieldProblem;
use tenantbase_domain::members::{
    BYTES_SEARCHED, MEMBERS_TRIED, field_name, first_problem, fit_apart, member_problems,
};
use tenantbase_domain::nul::nul_paths;

use crate::problem::{ApiError, FieldError};

/// A request body parsed from JSON into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse(&json_body(req, state).await?).map(ApiJson)
    }
}

/// A PATCH body parsed from JSON into `T`, and a problem for each member that `T` refuses
/// on its own (a `null` for a field that cannot be one, `not_null`; a value of the wrong
/// type; a member it does not know), left out of `T`: the handler passes them on with the change, so that they are
/// named with its other problems (an empty name, a bad slug) rather than alone, and
/// nothing is changed.
#[derive(Debug, Clone, Default)]
pub struct ApiPatch<T>(pub T, pub Vec<FieldProblem>);

impl<S, T> FromRequest<S> for ApiPatch<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, unfit) = parse_patch(&json_body(req, state).await?)?;
        Ok(ApiPatch(value, unfit))
    }
}

/// A create body parsed from JSON into `T`, and a problem for each member that `T` refuses
/// on its own (a value of the wrong type, a member it does not know) and for each field
/// it needs that is absent. Those members are left out and the absent fields given
/// stand-ins (`""`, `false`, `0`, `[]`…), so that a `T` is made; the handler passes the
/// problems on with it, and its use case names them with the body's other problems (an
/// empty name, a bad slug) — leaving out its own about those same fields, which would be
/// about the stand-ins — and refuses the body whole.
#[derive(Debug, Clone, Default)]
pub struct ApiCreate<T>(pub T, pub Vec<FieldProblem>);

impl<S, T> FromRequest<S> for ApiCreate<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (value, unfit) = parse_create(&json_body(req, state).await?)?;
        Ok(ApiCreate(value, unfit))
    }
}

async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON with `Content-Type: application/json`.",
        ));
    }
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| ApiError::from_status(rejection.status()))
}

fn is_json(content_type: Option<&header::HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    else {
        return false;
    };
    let essence = essence.trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let malformed = |e: serde_json::Error| {
        ApiError::bad_request(
            "malformed_json",
            format!("The body is not valid JSON: {e}."),
        )
    };
    // serde's derived structs also take an array of their fields in order, which no
    // client means and the document does not allow; refused before serde names the
    // struct it expected.
    if body.trim_ascii_start().starts_with(b"[") {
        return Err(ApiError::validation(vec![FieldError {
            field: String::new(),
            message: "the body must be a JSON object".to_owned(),
        }]));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if !inner.is_data() {
            return malformed(inner);
        }
        let message = inner.to_string();
        let first = FieldError {
            field: field_name(&path, &message),
            message,
        };
        ApiError::validation(every_field_problem::<T>(body).unwrap_or_else(|| vec![first]))
    })?;
    deserializer.end().map_err(malformed)?;
    refuse_nul(body)?;
    Ok(value)
}

/// `T` from `body` as `parse` makes it, but with the members `T` refuses on their own
/// (each tried alone: a `null` it cannot take, a value of the wrong type, an unknown
/// member) and those holding a NUL character left out and returned as problems. A body
/// refused for anything else (a member given twice, a bad item inside a list) is refused
/// as `parse` refuses it, which names those members too.
fn parse_patch<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Vec<FieldProblem>), ApiError> {
    let refused = match parse::<T>(body) {
        Ok(value) => return Ok((value, Vec::new())),
        Err(refused) => refused,
    };
    let Ok(Value::Object(mut members)) = serde_json::from_slice(body) else {
        return Err(refused);
    };
    if members.len() > MEMBERS_TRIED {
        return Err(refused);
    }
    let mut unfit = take_nul_members(&mut members);
    let wrong: Vec<FieldProblem> = members
        .iter()
        .filter_map(|(key, value)| {
            let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
            first_problem::<T>(alone).filter(|problem| &problem.field == key)
        })
        .map(|problem| FieldProblem::new(problem.field, problem.message))
        .collect();
    for member in &wrong {
        members.remove(&member.field);
    }
    unfit.extend(wrong);
    if unfit.is_empty() {
        return Err(refused);
    }
    // Written out again, so that the rest goes through every check of `parse` (NUL).
    let rest = serde_json::to_vec(&members).unwrap_or_default();
    parse::<T>(&rest)
        .map(|value| (value, unfit))
        .map_err(|_| refused)
}

/// `T` from `body` as `parse` makes it, or, when `body` is an object whose every problem
/// is a member that does not fit or holds a NUL character, or an absent field, a `T` from
/// the rest with stand-ins (`members::fit_apart`) and those problems. A body refused for
/// anything else (a member given twice) or past `BYTES_SEARCHED` bytes is refused as
/// `parse` refuses it.
fn parse_create<T: DeserializeOwned>(body: &[u8]) -> Result<(T, Vec<FieldProblem>), ApiError> {
    let refused = match parse::<T>(body) {
        Ok(value) => return Ok((value, Vec::new())),
        Err(refused) => refused,
    };
    if body.len() > BYTES_SEARCHED {
        return Err(refused);
    }
    let Ok(Value::Object(mut members)) = serde_json::from_slice(body) else {
        return Err(refused);
    };
    let nul = take_nul_members(&mut members);
    let Some(apart) = fit_apart::<T>(members) else {
        return Err(refused);
    };
    // A member taken away for its NUL is named for that, not as absent.
    let taken = |field: &str| {
        nul.iter()
            .any(|problem| top_member(&problem.field) == field)
    };
    let mut unfit: Vec<FieldProblem> = apart
        .problems
        .into_iter()
        .filter(|problem| !taken(&problem.field))
        .map(|problem| FieldProblem::new(problem.field, problem.message))
        .collect();
    unfit.extend(nul);
    if unfit.is_empty() {
        return Err(refused);
    }
    // Written out again, so that the rest goes through every check of `parse` (NUL).
    let rest = serde_json::to_vec(&apart.fitting).unwrap_or_default();
    let value = parse::<T>(&rest).map_err(|_| refused)?;
    Ok((value, unfit))
}

/// Takes out of `members` each one holding a NUL character (in a string, or a key, at any
/// depth) and returns a problem naming where, so that the body's other problems can be
/// named beside it rather than after it is fixed.
fn take_nul_members(members: &mut Map<String, Value>) -> Vec<FieldProblem> {
    // Named by the paths `refuse_nul` names; a refused body is small, so the copy is cheap.
    let paths = nul_paths(&Value::Object(members.clone()));
    members.retain(|key, _| !key.contains('\0') && !paths.iter().any(|p| top_member(p) == key));
    paths
        .into_iter()
        .map(|path| {
            let problem = FieldError::nul(path);
            FieldProblem::new(problem.field, problem.message)
        })
        .collect()
}

/// The top-level member a field's path is under: `metadata` for `metadata.a`, `tags` for
/// `tags[1]`.
fn top_member(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// A problem for each member of the body's object that does not fit `T` and for each
/// field `T` needs that is absent (`members::member_problems`), as `query::parse` does
/// with parameters. `None` when the body is no object or past `BYTES_SEARCHED` bytes or
/// `MEMBERS_TRIED` members. Runs only for a body already refused.
fn every_field_problem<T: DeserializeOwned>(body: &[u8]) -> Option<Vec<FieldError>> {
    if body.len() > BYTES_SEARCHED {
        return None;
    }
    let Value::Object(members) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let problems = member_problems::<T>(members)?;
    Some(problems.into_iter().map(FieldError::from).collect())
}

/// `value` as a `T`, or the field that does not fit, named under `prefix` (`items[2]`):
/// the items of a list read one by one, so that every bad item is named, not the first.
pub(crate) fn item_as<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = match field_name(&path, &message) {
            inner if inner.is_empty() => prefix.to_owned(),
            inner if inner.starts_with('[') => format!("{prefix}{inner}"),
            inner => format!("{prefix}.{inner}"),
        };
        FieldError { field, message }
    })
}

/// PostgreSQL refuses NUL in text and JSON (SQLSTATE 22021, 22P05), so a body holding one
/// is refused here, naming every string (or object key) that does. JSON can only carry
/// NUL escaped, so bodies without `\u0000` are not walked.
fn refuse_nul(body: &[u8]) -> Result<(), ApiError> {
    if !body.windows(6).any(|w| w == br"\u0000") {
        return Ok(());
    }
    // `T` was parsed from it, so it is JSON.
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let fields = nul_paths(&value);
    if fields.is_empty() {
        return Ok(()); // An escaped backslash followed by `u0000`.
    }
    Err(ApiError::validation(
        fields.into_iter().map(FieldError::nul).collect(),
    ))
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent (with
/// `#[serde(default, deserialize_with = "present")]`).
pub(crate) fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// `None` when the field is absent, and a problem for an explicit `null` (with
/// `#[serde(default, deserialize_with = "not_null")]`): a PATCH body's field that cannot
/// be null, which `ApiPatch` names with the change's other problems.
pub(crate) fn not_null<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d)?
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must not be null"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        tags: Vec<u32>,
    }

    #[test]
    fn accepts_json_content_types_only() {
        let v = |s: &'static str| header::HeaderValue::from_static(s);
        assert!(is_json(Some(&v("application/json"))));
        assert!(is_json(Some(&v("Application/JSON; charset=utf-8"))));
        assert!(is_json(Some(&v("application/merge-patch+json"))));
        assert!(!is_json(Some(&v("text/plain"))));
        assert!(!is_json(Some(&v("application/jsonx"))));
        assert!(!is_json(None));
    }

    #[test]
    fn names_the_offending_field() {
        let error = parse::<Input>(br#"{"name": "a", "tags": [1, "x"]}"#).expect_err("invalid");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem = error.into_problem("req_1");
        assert_eq!(problem.errors[0].field, "tags[1]");
    }

    #[test]
    fn names_a_missing_field() {
        let error = parse::<Input>(br#"{"tags": []}"#).expect_err("invalid");
        assert_eq!(error.into_problem("req_1").errors[0].field, "name");
    }

    #[test]
    fn every_member_that_does_not_fit_and_every_absent_field_is_named() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            name: String,
            tags: Vec<u32>,
            flag: bool,
            note: Option<String>,
        }
        let fields = |body: &[u8]| -> Vec<String> {
            let problem = parse::<Body>(body)
                .expect_err("invalid")
                .into_problem("req_1");
            let mut fields: Vec<String> = problem.errors.into_iter().map(|e| e.field).collect();
            fields.sort();
            fields
        };
        assert_eq!(
            fields(br#"{"name": 1, "tags": [1, "x"], "bogus": 2, "note": 3, "flag": true}"#),
            ["bogus", "name", "note", "tags[1]"]
        );
        assert_eq!(fields(br#"{"note": "n"}"#), ["flag", "name", "tags"]);
        assert_eq!(fields(br#"{"tags": {}}"#), ["flag", "name", "tags"]);
        // A member given twice is named, as serde finds it.
        let repeated = br#"{"name": "a", "name": "b", "tags": [], "flag": true}"#;
        assert_eq!(fields(repeated), ["name"]);
        // A large one gets its first problem only: searching would cost many times its size.
        let note = "x".repeat(BYTES_SEARCHED);
        let large = format!(r#"{{"name": 1, "note": "{note}", "flag": 1, "tags": []}}"#);
        assert_eq!(fields(large.as_bytes()), ["name"]);
    }

    #[test]
    fn a_patch_names_each_member_that_does_not_fit_alone_and_keeps_the_rest() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Patch {
            #[serde(default, deserialize_with = "not_null")]
            name: Option<String>,
            #[serde(default, deserialize_with = "not_null")]
            flag: Option<bool>,
            #[serde(default, deserialize_with = "present")]
            note: Option<Option<String>>,
        }
        let (patch, nulls) =
            parse_patch::<Patch>(br#"{"name": null, "flag": true, "note": null}"#).expect("parsed");
        assert_eq!(
            (patch.name, patch.flag, patch.note),
            (None, Some(true), Some(None))
        );
        assert_eq!(nulls, [FieldProblem::new("name", "must not be null")]);
        // A value of the wrong type is left out and named the same way.
        let (patch, unfit) =
            parse_patch::<Patch>(br#"{"name": null, "flag": "yes", "note": "n"}"#).expect("parsed");
        assert_eq!(
            (patch.name, patch.flag, patch.note),
            (None, None, Some(Some("n".to_owned())))
        );
        // In the body's order or the keys' (serde_json's `preserve_order` may be on).
        let sorted = |unfit: &[FieldProblem]| {
            let mut fields: Vec<String> = unfit.iter().map(|p| p.field.clone()).collect();
            fields.sort();
            fields
        };
        assert_eq!(sorted(&unfit), ["flag", "name"]);
        // And so is a member `Patch` does not know.
        let (_, unfit) = parse_patch::<Patch>(br#"{"flag": "yes", "bogus": 1}"#).expect("parsed");
        assert_eq!(sorted(&unfit), ["bogus", "flag"]);
        // A problem no member makes alone (one given twice) refuses the body.
        let refused = parse_patch::<Patch>(br#"{"flag": true, "flag": false}"#)
            .expect_err("refused")
            .into_problem("req_1");
        assert_eq!(refused.status, 422);
    }

    #[test]
    fn a_create_names_each_member_that_does_not_fit_and_each_absent_field_and_keeps_the_rest() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Create {
            name: String,
            flag: bool,
            note: Option<String>,
        }
        let fields = |unfit: Vec<FieldProblem>| {
            let mut fields: Vec<String> = unfit.into_iter().map(|p| p.field).collect();
            fields.sort();
            fields
        };
        let (create, unfit) =
            parse_create::<Create>(br#"{"name": 5, "note": "n", "bogus": 1}"#).expect("parsed");
        // `name` and `flag` hold stand-ins, for the use case to check the rest with.
        assert_eq!(
            (create.name.as_str(), create.flag, create.note.as_deref()),
            ("", false, Some("n"))
        );
        assert_eq!(fields(unfit), ["bogus", "flag", "name"]);
        let (_, unfit) = parse_create::<Create>(br#"{"name": "a", "flag": true}"#).expect("fits");
        assert!(unfit.is_empty());
        // A problem no member makes alone (one given twice) refuses the body.
        let refused = parse_create::<Create>(br#"{"name": "a", "name": "b", "flag": true}"#)
            .expect_err("refused")
            .into_problem("req_1");
        assert_eq!(refused.status, 422);
    }

    #[test]
    fn an_array_of_the_fields_is_not_an_object() {
        let error = parse::<Input>(br#" ["a", [1]]"#).expect_err("not an object");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // An array that does not fit is refused alike, without serde's name for `Input`.
        let problem = parse::<Input>(b"[1, 2, 3, 4]")
            .expect_err("not an object")
            .into_problem("req_1");
        assert!(!format!("{problem:?}").contains("Input"), "{problem:?}");
        assert!(parse::<Input>(br#"{"name": "a", "tags": [1]}"#).is_ok());
    }

    #[test]
    fn every_string_holding_nul_is_named() {
        let body =
            br#"{"name": "a\u0000", "tags": [1], "meta": {"x": ["ok", "\u0000"], "k\u0000": 1}}"#;
        let error = parse::<serde_json::Value>(body).expect_err("nul");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let mut fields: Vec<String> = error
            .into_problem("req_1")
            .errors
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(fields, ["meta", "meta.x[1]", "name"]);
        // An escaped backslash before `u0000` is no NUL.
        assert!(parse::<serde_json::Value>(br#"{"name": "a\\u0000"}"#).is_ok());
    }

    #[test]
    fn malformed_json_and_trailing_bytes_are_bad_requests() {
        for body in [&b"{\"name\": "[..], b"{} {}", b""] {
            let error = parse::<serde_json::Value>(body).expect_err("malformed");
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
    }
}

//! `ApiQuery`: query-string parameters whose every failure is a 422 problem naming each
//! invalid parameter (or holding NUL), instead of axum's plain-text 400; `ListQuery`: a list's page
//! (`PageQuery`) and its own filters from one query string, their problems listed together.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tenantbase_domain::members::{duplicate_field, missing_field};
use tenantbase_domain::page::PageQuery;

use crate::problem::{ApiError, FieldError};

#[derive(Debug, Clone, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parse(query_of(parts)?)
            .map(ApiQuery)
            .map_err(ApiError::validation)
    }
}

/// Which page of a list, and the list's filters `F`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery<F>(pub PageQuery, pub F);

impl<S: Send + Sync, F: DeserializeOwned> FromRequestParts<S> for ListQuery<F> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = query_of(parts)?;
        match (parse(query), parse(query)) {
            (Ok(page), Ok(filters)) => Ok(ListQuery(page, filters)),
            (page, filters) => {
                let problems = page.err().into_iter().chain(filters.err()).flatten();
                Err(ApiError::validation(problems.collect()))
            }
        }
    }
}

/// The request's query string, refused when a parameter holds NUL (`%00`): PostgreSQL
/// cannot store or compare text holding it (SQLSTATE 22021).
fn query_of(parts: &Parts) -> Result<&str, ApiError> {
    let query = parts.uri.query().unwrap_or_default();
    if !query.contains("%00") {
        return Ok(query);
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let problems: Vec<FieldError> = pairs
        .into_iter()
        .filter_map(|(name, value)| {
            if name.contains('\0') {
                Some(FieldError::nul("query".to_owned()))
            } else {
                value.contains('\0').then(|| FieldError::nul(name))
            }
        })
        .collect();
    if problems.is_empty() {
        return Ok(query);
    }
    Err(ApiError::validation(problems))
}

/// `T` from `query`, or a problem for each parameter that does not fit and each required
/// one that is absent: serde stops at the first, so each parameter is tried on its own to
/// find the others (alone, one that fits fails only on the required ones it lacks).
fn parse<T: DeserializeOwned>(query: &str) -> Result<T, Vec<FieldError>> {
    let whole = match serde_urlencoded::from_str(query) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut problems = Vec::new();
    let mut fitting = Vec::new();
    for pair in pairs {
        match attempt::<T>(&[&pair]) {
            Some(message) if missing_field(&message).is_none() => problems.push(FieldError {
                field: pair.0,
                message,
            }),
            _ => fitting.push(pair),
        }
    }
    // serde names one absent or repeated field at a time: each absent one found gets a
    // stand-in value, each repeated one keeps its first value, and the fitting parameters
    // are tried again to find the next.
    let mut probe: Vec<&(String, String)> = fitting.iter().collect();
    let mut stand_ins = Vec::new();
    while let Some(message) = attempt::<T>(&probe) {
        if let Some(name) = missing_field(&message)
            && !probe.iter().any(|(present, _)| present == name)
        {
            problems.push(FieldError {
                field: name.to_owned(),
                message: "is required".to_owned(),
            });
            stand_ins.push((name.to_owned(), String::new()));
        } else if let Some(name) = duplicate_field(&message) {
            problems.push(FieldError {
                field: name.to_owned(),
                message: "must be given once".to_owned(),
            });
            let before = fitting.len();
            let mut seen = false;
            fitting.retain(|(present, _)| present != name || !std::mem::replace(&mut seen, true));
            if fitting.len() == before {
                // Repeated under another spelling (a serde alias): trying again would
                // only meet the same message.
                break;
            }
        } else {
            break;
        }
        probe = fitting.iter().chain(&stand_ins).collect();
    }
    if problems.is_empty() {
        // Not one parameter's fault (a repeated one, say): the query as a whole.
        return Err(vec![FieldError {
            field: "query".to_owned(),
            message: whole.to_string(),
        }]);
    }
    Err(problems)
}

/// Why `pairs` alone do not make a `T`, if they do not.
fn attempt<T: DeserializeOwned>(pairs: &[&(String, String)]) -> Option<String> {
    let query = serde_urlencoded::to_string(pairs).ok()?;
    serde_urlencoded::from_str::<T>(&query)
        .err()
        .map(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Filters {
        count: Option<u8>,
        flag: Option<bool>,
    }

    fn fields(problems: Vec<FieldError>) -> Vec<String> {
        problems.into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn every_invalid_parameter_is_named() {
        let problems = parse::<Filters>("count=x&flag=maybe&other=1").expect_err("invalid");
        assert_eq!(fields(problems), ["count", "flag"]);
        let page = parse::<PageQuery>("limit=0&count=x").expect_err("limit");
        assert_eq!(fields(page), ["limit"]);
        let page = parse::<PageQuery>("limit=0&cursor=garbage!").expect_err("cursor");
        assert_eq!(fields(page), ["limit", "cursor"]);
        let fine = parse::<Filters>("count=3").expect("valid");
        assert_eq!((fine.count, fine.flag), (Some(3), None));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Start {
        redirect_uri: String,
        code_challenge: Option<String>,
        state: String,
        count: Option<u8>,
    }

    #[test]
    fn missing_required_parameters_are_named_not_the_present_ones() {
        let problems = parse::<Start>("code_challenge=abc").expect_err("missing");
        assert_eq!(fields(problems), ["redirect_uri", "state"]);
        let problems = parse::<Start>("state=s&count=x").expect_err("missing and invalid");
        assert_eq!(fields(problems), ["count", "redirect_uri"]);
        let problems = parse::<Start>("").expect_err("empty");
        assert_eq!(fields(problems), ["redirect_uri", "state"]);
    }

    #[test]
    fn a_repeated_parameter_is_named_with_the_others() {
        let problems = parse::<Filters>("count=1&count=2").expect_err("repeated");
        assert_eq!(fields(problems), ["count"]);
        let problems = parse::<Start>("state=a&state=b&count=x").expect_err("repeated");
        assert_eq!(fields(problems), ["count", "state", "redirect_uri"]);
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Aliased {
        #[serde(alias = "n")]
        name: Option<String>,
    }

    #[test]
    fn a_parameter_repeated_under_its_alias_ends_the_search() {
        let problems = parse::<Aliased>("name=a&n=b").expect_err("repeated");
        assert_eq!(fields(problems), ["name"]);
    }
}

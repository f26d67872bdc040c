//! `ApiQuery`: query-string parameters whose every failure is a 422 problem naming each
//! invalid parameter (or holding NUL), instead of axum's plain-text 400; `ListQuery`: a list's page
//! (`PageQuery`) and its own filters from one query string, their problems listed together.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
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
        .filter(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| FieldError::nul(if name.contains('\0') { "query".to_owned() } else { name }))
        .collect();
    if problems.is_empty() {
        return Ok(query);
    }
    Err(ApiError::validation(problems))
}

/// `T` from `query`, or a problem for each parameter that does not fit: serde stops at
/// the first, so each parameter is tried on its own to find the others.
fn parse<T: DeserializeOwned>(query: &str) -> Result<T, Vec<FieldError>> {
    let whole = match serde_urlencoded::from_str(query) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let problems: Vec<FieldError> = pairs
        .iter()
        .filter_map(|pair| {
            let alone = serde_urlencoded::to_string([pair]).ok()?;
            let error = serde_urlencoded::from_str::<T>(&alone).err()?;
            Some(FieldError {
                field: pair.0.clone(),
                message: error.to_string(),
            })
        })
        .collect();
    if problems.is_empty() {
        // Not one parameter's fault (a repeated one, say): the query as a whole.
        return Err(vec![FieldError {
            field: "query".to_owned(),
            message: whole.to_string(),
        }]);
    }
    Err(problems)
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
        let fine = parse::<Filters>("count=3").expect("valid");
        assert_eq!((fine.count, fine.flag), (Some(3), None));
    }

    #[test]
    fn a_query_wrong_as_a_whole_is_named_query() {
        let problems = parse::<Filters>("count=1&count=2").expect_err("repeated");
        assert_eq!(fields(problems), ["query"]);
    }
}

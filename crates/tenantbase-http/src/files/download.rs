//! Serving a file's bytes: `ETag`/`If-None-Match`, single `Range` requests (206, or 416
//! with the size), and a `Content-Disposition` that is safe for any name.

use std::ops::Range;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tenantbase_core::tenancy::files::FileDownload;
use tenantbase_domain::model::StoredFile;

use crate::ApiError;
use crate::middleware::STORED_CSP;

/// What a `Range` header asks of an object of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    Whole,
    Part(Range<u64>),
    /// No byte of the range is in the object.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (the unit in any case). Several ranges,
/// other units or a malformed header are answered with the whole object, as RFC 9110
/// allows.
pub(crate) fn wanted(range: Option<&HeaderValue>, size: u64) -> Wanted {
    let Some(spec) = range
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| v.split_once('='))
        .filter(|(unit, _)| unit.trim().eq_ignore_ascii_case("bytes"))
        .map(|(_, spec)| spec)
    else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.is_empty(), end.is_empty()) {
        (true, false) => end.parse::<u64>().ok().map(|n| match n {
            0 => None,
            n => Some(size.saturating_sub(n)..size),
        }),
        (false, _) => start.parse::<u64>().ok().and_then(|first| {
            let last = if end.is_empty() {
                Some(u64::MAX)
            } else {
                end.parse::<u64>().ok().filter(|last| *last >= first)
            }?;
            Some((first < size).then(|| first..last.saturating_add(1).min(size)))
        }),
        (true, true) => None,
    };
    match parsed {
        None => Wanted::Whole,
        Some(Some(range)) if !range.is_empty() => Wanted::Part(range),
        Some(_) => Wanted::Unsatisfiable,
    }
}

/// The strong validator of a file: its SHA-256.
pub(crate) fn etag(file: &StoredFile) -> String {
    format!("\"{}\"", file.sha256)
}

/// Whether `If-None-Match` names the file's current version.
pub(crate) fn not_modified(headers: &HeaderMap, file: &StoredFile) -> bool {
    names_current(headers, &etag(file))
}

/// Whether `If-None-Match` names `tag` (weakly compared, as RFC 9110 has it) or is `*`.
pub(crate) fn names_current(headers: &HeaderMap, tag: &str) -> bool {
    listed_tags(headers, header::IF_NONE_MATCH)
        .map(|v| v.trim_start_matches("W/"))
        .any(|v| v == "*" || v == tag)
}

/// The entity tags a conditional header lists, over all its lines.
fn listed_tags(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// A 412 when an `If-Match` is sent and names neither `tag` (strongly compared: a weak
/// tag never matches) nor `*`: RFC 9110 §13.1.1 has the request refused, so that a client
/// resuming or re-reading what it believes is one version never gets another.
pub(crate) fn check_if_match(headers: &HeaderMap, tag: &str) -> Result<(), ApiError> {
    if !headers.contains_key(header::IF_MATCH)
        || listed_tags(headers, header::IF_MATCH).any(|v| v == "*" || v == tag)
    {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        "The resource is not the version `If-Match` names; ask for it again without \
         `If-Match` to learn its current `ETag`.",
    ))
}

/// `attachment` with an ASCII fallback name and the exact one in RFC 5987 encoding, so no
/// name can break out of the header or be taken for a path.
pub(crate) fn disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' && c != '%' && c != ';' => c,
            _ => '_',
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Headers every answer about the file carries.
fn file_headers(file: &StoredFile) -> Result<HeaderMap, ApiError> {
    let bad = |_| ApiError::bad_request("bad_header", "The stored file cannot be described.");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag(file)).map_err(bad)?,
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(STORED_CSP),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(headers)
}

/// The request's `Range`, unless an `If-Range` names another version than the file's:
/// RFC 9110 §13.1.5 has a client that holds a part of another version sent the whole
/// file. Only the strong `ETag` itself matches — not a weak one, nor a date, since files
/// send no `Last-Modified`.
fn range_asked<'h>(request: &'h HeaderMap, file: &StoredFile) -> Option<&'h HeaderValue> {
    let current = match request.get(header::IF_RANGE) {
        None => true,
        Some(validator) => validator.to_str().is_ok_and(|v| v.trim() == etag(file)),
    };
    current.then(|| request.get(header::RANGE)).flatten()
}

/// 412 or 304 before any byte is read (RFC 9110 §13.2.2's order), or 416 for a range
/// outside the file.
pub(crate) fn early_answer(
    request: &HeaderMap,
    file: &StoredFile,
) -> Result<Option<Response>, ApiError> {
    check_if_match(request, &etag(file))?;
    if not_modified(request, file) {
        return Ok(Some(
            (StatusCode::NOT_MODIFIED, file_headers(file)?).into_response(),
        ));
    }
    if wanted(range_asked(request, file), file.size) == Wanted::Unsatisfiable {
        return Err(ApiError::range_not_satisfiable(file.size));
    }
    Ok(None)
}

/// The byte range to read for `request`, if a part of this version was asked for.
pub(crate) fn read_range(request: &HeaderMap, file: &StoredFile) -> Option<Range<u64>> {
    match wanted(range_asked(request, file), file.size) {
        Wanted::Part(range) => Some(range),
        _ => None,
    }
}

/// 200 with the whole file, or 206 with the part asked for.
pub(crate) fn respond(download: FileDownload, partial: bool) -> Result<Response, ApiError> {
    let FileDownload { file, read } = download;
    let mut headers = file_headers(&file)?;
    let bad = |_| ApiError::bad_request("bad_header", "The stored file cannot be described.");
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&file.content_type).map_err(bad)?,
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition(&file.name)).map_err(bad)?,
    );
    let length = read.range.end - read.range.start;
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    let status = if partial {
        let range = format!(
            "bytes {}-{}/{}",
            read.range.start,
            read.range.end - 1,
            file.size
        );
        headers.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&range).map_err(bad)?,
        );
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    Ok((status, headers, Body::from_stream(read.body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(range: &str, size: u64) -> Wanted {
        wanted(Some(&HeaderValue::from_str(range).expect("header")), size)
    }

    #[test]
    fn ranges_parse_as_rfc_9110_says() {
        assert_eq!(ask("bytes=0-9", 100), Wanted::Part(0..10));
        assert_eq!(ask("bytes=90-", 100), Wanted::Part(90..100));
        assert_eq!(ask("bytes=-10", 100), Wanted::Part(90..100));
        assert_eq!(ask("bytes=-500", 100), Wanted::Part(0..100));
        assert_eq!(ask("bytes=50-500", 100), Wanted::Part(50..100));
        assert_eq!(ask("bytes=100-", 100), Wanted::Unsatisfiable);
        assert_eq!(ask("bytes=-0", 100), Wanted::Unsatisfiable);
        assert_eq!(ask("bytes=0-0", 0), Wanted::Unsatisfiable);
        assert_eq!(ask("bytes=9-1", 100), Wanted::Whole);
        assert_eq!(ask("bytes=0-1,5-6", 100), Wanted::Whole);
        assert_eq!(ask("items=0-1", 100), Wanted::Whole);
        assert_eq!(ask("bytes=x-y", 100), Wanted::Whole);
        assert_eq!(ask("BYTES=0-9", 100), Wanted::Part(0..10));
        assert_eq!(wanted(None, 100), Wanted::Whole);
    }

    #[test]
    fn any_name_makes_a_safe_disposition() {
        assert_eq!(
            disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let tricky = disposition("a\"; evil=1 ü.txt");
        assert!(tricky.starts_with("attachment; filename=\"a__ evil=1 _.txt\""));
        assert!(tricky.ends_with("filename*=UTF-8''a%22%3B%20evil%3D1%20%C3%BC.txt"));
        assert!(HeaderValue::from_str(&tricky).is_ok());
    }
}

//! Headers that make browsers treat our responses safely, set unless a handler chose its own.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::HttpSettings;

/// API answers load nothing and may not be framed.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// Uploaded bytes are never a page of ours: even opened in a browser, an HTML or SVG
/// file runs no script and reaches nothing (file downloads and avatars set it).
pub(crate) const STORED_CSP: &str = "default-src 'none'; sandbox; frame-ancestors 'none'";
/// HTML pages (the API reference) load their own scripts and styles only.
const HTML_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(crate) fn apply(headers: &mut HeaderMap, settings: &HttpSettings) {
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    set_default(
        headers,
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set_default(
        headers,
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    set_default(
        headers,
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    );
    set_default(
        headers,
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if is_html { HTML_CSP } else { API_CSP }),
    );
    if let Some(max_age) = settings.hsts_max_age_secs {
        let value = format!("max-age={max_age}; includeSubDomains");
        if let Ok(value) = HeaderValue::from_str(&value) {
            set_default(headers, header::STRICT_TRANSPORT_SECURITY, value);
        }
    }
}

fn set_default(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    headers.entry(name).or_insert(value);
}

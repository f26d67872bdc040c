//! Does the declared content type agree with the bytes? For the types that begin with a
//! recognisable signature (images, PDF, archives, media…), the first bytes decide.

/// Bytes of the head the signature check reads.
pub(crate) const SNIFF_BYTES: usize = 4096;

/// Formats that are ZIP files inside: their bytes may sniff as plain ZIP.
const ZIP_BASED: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/java-archive",
];

/// The spelling browsers and tools use for the same type.
fn canonical(content_type: &str) -> &str {
    match content_type {
        "image/jpg" | "image/pjpeg" => "image/jpeg",
        "application/x-zip-compressed" => "application/zip",
        "application/x-pdf" => "application/pdf",
        other => other,
    }
}

/// `None` if `declared` fits `head`; else the type the bytes look like (or `unknown`).
pub(crate) fn mismatch(declared: &str, head: &[u8]) -> Option<String> {
    let declared = canonical(declared);
    if declared == "application/octet-stream" {
        return None;
    }
    match infer::get(head).map(|kind| canonical(kind.mime_type())) {
        Some(found) if found == declared => None,
        Some("application/zip") if ZIP_BASED.contains(&declared) => None,
        Some(found) => Some(found.to_owned()),
        // No signature: fine unless the declared type has one.
        None if infer::is_mime_supported(declared) => Some("unknown".to_owned()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn signatures_decide_for_the_types_that_have_one() {
        assert_eq!(mismatch("image/png", PNG), None);
        assert_eq!(mismatch("application/octet-stream", PNG), None);
        assert_eq!(mismatch("image/jpeg", PNG).as_deref(), Some("image/png"));
        assert_eq!(mismatch("text/plain", PNG).as_deref(), Some("image/png"));
        assert_eq!(mismatch("image/png", b"hello").as_deref(), Some("unknown"));
        assert_eq!(mismatch("text/plain", b"hello"), None);
        assert_eq!(mismatch("application/json", b"{\"a\": 1}"), None);
        assert_eq!(mismatch("image/jpg", b"\xff\xd8\xff\xe0\0\x10JFIF\0"), None);
        assert_eq!(mismatch("application/pdf", b"%PDF-1.7\n"), None);
    }
}

//! Checks on values that end up in places where escaping alone is not enough: a colour in
//! a `style` attribute, a URL in `href`/`src` (escaping keeps `javascript:` intact), text
//! in a mail header.

use crate::MailError;

/// `value` if it is a `#rgb` or `#rrggbb` colour.
pub(crate) fn hex_color(value: &str) -> Result<&str, MailError> {
    let digits = value.strip_prefix('#').unwrap_or_default();
    let well_formed =
        matches!(digits.len(), 3 | 6) && digits.bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(value)
    } else {
        Err(MailError::Permanent(format!(
            "branding colour {value:?} is not a #rgb or #rrggbb hex colour"
        )))
    }
}

/// `value` normalised, if it is an absolute `https://` or `http://` URL with a host.
/// `what` names the value in the error.
pub(crate) fn web_url(what: &str, value: &str) -> Result<String, MailError> {
    let rejected = |why: &str| MailError::Permanent(format!("{what} is not usable: {why}"));
    let url = url::Url::parse(value.trim()).map_err(|e| rejected(&e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(rejected("only https:// and http:// URLs are allowed"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(rejected("the URL has no host"));
    }
    // The parser percent-encodes spaces, quotes and controls, so what comes out is one
    // clean token; HTML escaping on top makes it safe in a quoted attribute.
    Ok(url.into())
}

/// `value` as one line for a header: controls (CR, LF, tabs…) become spaces and runs of
/// whitespace collapse, so user text cannot start a new header or break the subject.
pub(crate) fn header_text(value: &str) -> String {
    value
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Most characters of a user-chosen name (an org's, a person's) that an email shows.
pub(crate) const NAME_MAX_CHARS: usize = 64;

/// A user-chosen name as an email shows it: one line, at most `NAME_MAX_CHARS`
/// characters (then an ellipsis), defanged so that no mail client makes a link of it,
/// and in quotes so the reader sees where someone else's words start and end. Empty
/// stays empty, so templates can leave the name out.
pub(crate) fn quoted_name(value: &str) -> String {
    let line = header_text(value);
    if line.is_empty() {
        return line;
    }
    let bounded = match line.char_indices().nth(NAME_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", line[..cut].trim_end()),
        None => line,
    };
    format!("“{}”", defang(&bounded))
}

/// Breaks what mail clients turn into links — `scheme://…`, `host.example`,
/// `user@host.example` — the way security advisories quote hostile addresses:
/// `https[:]//evil[.]example`. Only a dot between two letters or digits is bracketed, so
/// `Acme Inc.` reads as it was. Escaping cannot do this (clients link plain text after
/// parsing), and invisible characters would hide the change and survive a copy.
fn defang(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let alphanumeric_at = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_alphanumeric())
    };
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        // Full-width and ideographic stops separate labels of internationalised names too.
        let dot = matches!(c, '.' | '。' | '．' | '｡');
        if dot && alphanumeric_at(i.checked_sub(1)) && alphanumeric_at(Some(i + 1)) {
            out.push_str("[.]");
        } else if c == ':' && chars.get(i + 1..i + 3) == Some(&['/', '/']) {
            out.push_str("[:]");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_must_be_short_or_long_hex() {
        for good in ["#2f6feb", "#FFF", "#000000"] {
            assert_eq!(hex_color(good).expect(good), good);
        }
        for bad in [
            "2f6feb",
            "#2f6fe",
            "#ggg",
            "red",
            "#fff;background:url(x)",
            "#fff\" onload=\"x",
            "",
        ] {
            let error = hex_color(bad).expect_err(bad);
            assert!(!error.is_transient());
        }
    }

    #[test]
    fn only_web_urls_with_a_host_pass() {
        assert_eq!(
            web_url("link", "https://app.example.com/verify?t=a&b=c").expect("https"),
            "https://app.example.com/verify?t=a&b=c"
        );
        assert!(web_url("link", "http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox",
            "mailto:a@example.com",
            "ftp://example.com/",
            "/relative/path",
            "https://",
            "",
        ] {
            assert!(web_url("link", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn quotes_and_spaces_in_urls_come_out_encoded() {
        let url = web_url("link", "https://example.com/a b\"c'd<e>").expect("parses");
        assert!(!url.contains([' ', '"', '<', '>']), "{url}");
    }

    #[test]
    fn names_are_quoted_bounded_one_line_and_never_a_link() {
        assert_eq!(quoted_name("Acme Inc."), "“Acme Inc.”");
        assert_eq!(quoted_name(" \r\n "), "");
        assert_eq!(
            quoted_name("Claim at https://evil.example/x\r\nor www.evil.example, mail a@b.io"),
            "“Claim at https[:]//evil[.]example/x or www[.]evil[.]example, mail a@b[.]io”"
        );
        assert_eq!(quoted_name("evil。example"), "“evil[.]example”");
        let long = quoted_name(&"x".repeat(200));
        assert_eq!(long.chars().count(), NAME_MAX_CHARS + 3, "{long}");
        assert!(long.ends_with("…”"), "{long}");
    }

    #[test]
    fn header_text_is_one_line() {
        assert_eq!(
            header_text("Acme\r\nBcc: victim@example.com\t Inc"),
            "Acme Bcc: victim@example.com Inc"
        );
    }
}

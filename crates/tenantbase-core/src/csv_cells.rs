//! CSV cells that a spreadsheet opens as data: a cell starting like a formula (`=`, `+`,
//! `-`, `@`, tab, carriage return) gets a leading `'`, so a project name or a user agent
//! of someone else's choosing is never run when an export is opened (CSV injection); one
//! starting with `'` gets one too, so an import reads back every cell as exported.

use std::borrow::Cow;

/// Cells a spreadsheet would run as a formula start with one of these.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as written to a CSV export. One that starts with `'` gets another, so that
/// reading it back (`unguarded`) gives what was written.
pub(crate) fn guarded(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) || cell.starts_with('\'') {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as it was before `guarded`, for reading an export back in.
pub(crate) fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) || rest.starts_with('\'') => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_quoted_and_read_back() {
        for cell in [
            "=HYPERLINK(\"x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=x",
            "'quoted",
        ] {
            let written = guarded(cell);
            assert_eq!(written, format!("'{cell}"));
            assert_eq!(unguarded(&written), cell);
        }
        for cell in ["plain", "1+1", ""] {
            assert_eq!(guarded(cell), cell);
            assert_eq!(unguarded(cell), cell);
        }
    }
}

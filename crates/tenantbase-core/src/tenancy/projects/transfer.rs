//! Export and import of projects as JSON lines or CSV (with a guard against spreadsheet
//! formulas), every row checked before any is written.

use tenantbase_domain::model::Project;
use tenantbase_domain::unique_json::UniqueJson;

use super::{NewProject, ReadItem, all_or_every_problem, validate_new};
use crate::csv_cells::{guarded, unguarded};
use crate::tenancy::{FieldProblem, TenancyError};

/// A file format of export and import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 with a header row; `metadata` is a JSON text cell.
    Csv,
}

const CSV_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "description",
    "metadata",
    "created_by",
    "created_at",
    "updated_at",
];

/// Most rows one import takes.
pub const IMPORT_MAX_ROWS: usize = 10_000;

impl ExportFormat {
    /// What the export starts with (the CSV header).
    pub fn preamble(self) -> Vec<u8> {
        match self {
            ExportFormat::Jsonl => Vec::new(),
            ExportFormat::Csv => csv_line(&CSV_COLUMNS),
        }
    }

    /// One project, as a line of the export.
    pub fn line(self, project: &Project) -> Vec<u8> {
        let created_at = project
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let updated_at = project
            .updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        match self {
            ExportFormat::Jsonl => {
                let mut line = serde_json::to_vec(&serde_json::json!({
                    "id": project.id,
                    "name": project.name,
                    "description": project.description,
                    "metadata": project.metadata,
                    "created_by": project.created_by,
                    "created_at": created_at,
                    "updated_at": updated_at,
                }))
                .unwrap_or_default();
                line.push(b'\n');
                line
            }
            ExportFormat::Csv => csv_line(&[
                &project.id.to_string(),
                &project.name,
                project.description.as_deref().unwrap_or_default(),
                &project.metadata.to_string(),
                &project.created_by.to_string(),
                &created_at,
                &updated_at,
            ]),
        }
    }

    /// Reads an import: every row is parsed (and later validated) before any is written;
    /// problems name the row (`rows[0]` is the first data row).
    pub fn parse_import(self, body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
        // Spreadsheets and editors on Windows often start a UTF-8 file with a byte order mark.
        let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let rows = match self {
            ExportFormat::Jsonl => parse_jsonl(body)?,
            ExportFormat::Csv => parse_csv(body)?,
        };
        // Counted before any row is checked: a file of many short bad rows would otherwise
        // be answered with a problem for each, many times its size.
        if rows.len() > IMPORT_MAX_ROWS {
            return Err(TenancyError::invalid(
                "rows",
                format!("at most {IMPORT_MAX_ROWS} rows per import"),
            ));
        }
        all_or_every_problem("rows", rows)
    }
}

fn csv_line(cells: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = writer.write_record(cells.iter().map(|cell| guarded(cell).into_owned()));
    writer.into_inner().unwrap_or_default()
}

/// The rows of a JSON lines file as read, up to one past `IMPORT_MAX_ROWS`.
fn parse_jsonl(body: &[u8]) -> Result<Vec<ReadItem>, TenancyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| TenancyError::invalid("rows", "the body is not UTF-8"))?;
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(IMPORT_MAX_ROWS + 1)
        .enumerate()
        .map(|(i, line)| -> ReadItem {
            serde_json::from_str::<NewProject>(line).map_err(|e| {
                vec![FieldProblem::new(
                    format!("rows[{i}]"),
                    format!("not a project object: {e}"),
                )]
            })
        })
        .collect();
    Ok(rows)
}

/// Whether `body` ends inside a quoted cell, read as the `csv` reader does: a quote opens
/// a cell only at the cell's start (elsewhere, as in `12" screen`, it is text), and in a
/// quoted cell a doubled quote is text and a single one closes it.
fn ends_in_quoted_cell(body: &[u8]) -> bool {
    let (mut quoted, mut at_start) = (false, true);
    let mut bytes = body.iter().peekable();
    while let Some(&byte) = bytes.next() {
        if quoted {
            if byte == b'"' && bytes.next_if_eq(&&b'"').is_none() {
                quoted = false;
            }
            continue;
        }
        quoted = at_start && byte == b'"';
        at_start = matches!(byte, b',' | b'\n' | b'\r');
    }
    quoted
}

/// The rows of a CSV file as read, up to one past `IMPORT_MAX_ROWS`.
fn parse_csv(body: &[u8]) -> Result<Vec<ReadItem>, TenancyError> {
    // The reader takes a quoted cell left open to the end of the file as the whole rest
    // of it (a file cut short, or a stray quote at a cell's start).
    if ends_in_quoted_cell(body) {
        return Err(TenancyError::invalid(
            "rows",
            "has an unpaired quote (\"): a quoted cell never closes (is the file cut short?)",
        ));
    }
    let mut reader = csv::Reader::from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| TenancyError::invalid("rows", format!("unreadable CSV header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let Some(name_at) = column("name") else {
        return Err(TenancyError::invalid(
            "rows",
            "the CSV header has no `name` column",
        ));
    };
    let (description_at, metadata_at) = (column("description"), column("metadata"));
    let rows = reader
        .records()
        .take(IMPORT_MAX_ROWS + 1)
        .enumerate()
        .map(|(i, record)| -> ReadItem {
            let record = record.map_err(|e| {
                vec![FieldProblem::new(
                    format!("rows[{i}]"),
                    format!("unreadable CSV row: {e}"),
                )]
            })?;
            let cell = |at: Option<usize>| {
                at.and_then(|at| record.get(at))
                    .map(unguarded)
                    .filter(|c| !c.is_empty())
            };
            let mut row = NewProject {
                name: unguarded(record.get(name_at).unwrap_or_default()).to_owned(),
                description: cell(description_at).map(str::to_owned),
                metadata: None,
                refused: Vec::new(),
            };
            match cell(metadata_at).map(serde_json::from_str::<UniqueJson>) {
                None => {}
                Some(Ok(UniqueJson(value))) => row.metadata = Some(value),
                Some(Err(error)) => {
                    let prefix = format!("rows[{i}].");
                    let why = match error.classify() {
                        serde_json::error::Category::Data => error.to_string(),
                        _ => "is not JSON".to_owned(),
                    };
                    let mut problems = vec![FieldProblem::new(format!("{prefix}metadata"), why)];
                    problems.extend(validate_new(&prefix, &row).err().unwrap_or_default());
                    return Err(problems);
                }
            }
            Ok(row)
        })
        .collect();
    Ok(rows)
}

//! Export and import of projects as JSON lines or CSV (with a guard against spreadsheet
//! formulas), every row checked before any is written.

use tenantbase_domain::model::Project;

use super::NewProject;
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
        let rows = match self {
            ExportFormat::Jsonl => parse_jsonl(body)?,
            ExportFormat::Csv => parse_csv(body)?,
        };
        if rows.len() > IMPORT_MAX_ROWS {
            return Err(TenancyError::invalid(
                "rows",
                format!("at most {IMPORT_MAX_ROWS} rows per import"),
            ));
        }
        Ok(rows)
    }
}

/// Cells a spreadsheet would run as a formula start with one of these.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn csv_line(cells: &[&str]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // A leading `'` keeps spreadsheets from running a cell as a formula (CSV injection);
    // the import takes it off again.
    let cells = cells.iter().map(|cell| {
        if cell.starts_with(FORMULA_STARTS) {
            format!("'{cell}")
        } else {
            (*cell).to_owned()
        }
    });
    // Writing to memory cannot fail.
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

/// A cell as exported, without the formula guard `csv_line` added.
fn csv_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

fn parse_jsonl(body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| TenancyError::invalid("rows", "the body is not UTF-8"))?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        match serde_json::from_str::<NewProject>(line) {
            Ok(row) => rows.push(row),
            Err(e) => problems.push(FieldProblem::new(
                format!("rows[{i}]"),
                format!("not a project object: {e}"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(TenancyError::Invalid(problems))
    }
}

fn parse_csv(body: &[u8]) -> Result<Vec<NewProject>, TenancyError> {
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
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(FieldProblem::new(
                    format!("rows[{i}]"),
                    format!("unreadable CSV row: {e}"),
                ));
                continue;
            }
        };
        let cell = |at: Option<usize>| {
            at.and_then(|at| record.get(at))
                .map(csv_cell)
                .filter(|c| !c.is_empty())
        };
        let metadata = match cell(metadata_at).map(serde_json::from_str::<serde_json::Value>) {
            None => None,
            Some(Ok(value)) => Some(value),
            Some(Err(_)) => {
                problems.push(FieldProblem::new(
                    format!("rows[{i}].metadata"),
                    "is not JSON",
                ));
                continue;
            }
        };
        rows.push(NewProject {
            name: csv_cell(record.get(name_at).unwrap_or_default()).to_owned(),
            description: cell(description_at).map(str::to_owned),
            metadata,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(TenancyError::Invalid(problems))
    }
}

//! Moving events in and out: import of platform exports (CSV as `\copy` writes it, or JSON
//! Lines) and export in the same formats, so that export then import round-trips.
//!
//! Data flows one way: a file is parsed into validated rows here, and the store writes them.

mod export;
mod import;

pub use export::{Cells, ExportError, FORMULA_STARTS, export_chunks, spreadsheet_safe, write_rows};
pub use import::{ImportError, ImportOptions, ImportSummary, OnError, import};

/// The columns of the CSV header, in the order export writes them.
pub const COLUMNS: [&str; 7] = [
    "id",
    "user_id",
    "ipaddr",
    "user_agent",
    "event_name",
    "description",
    "created_at",
];

/// A file format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 4180 CSV with the header `id,user_id,ipaddr,user_agent,event_name,description,created_at`.
    Csv,
    /// One JSON object a line, with the CSV's column names.
    Jsonl,
}

impl Format {
    /// The format a file name suggests (`.csv`, `.jsonl`, `.ndjson`, `.json`).
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

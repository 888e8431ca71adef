//! Export: events in id order, page by page (keyset on id), written as CSV or JSON Lines.
//!
//! CSV cells are written exactly as stored by default, so that export then import gives back the
//! same rows. [`Cells::SpreadsheetSafe`] is for files meant for a spreadsheet instead: a cell that
//! a spreadsheet would run as a formula is written so that it shows as text.

use std::borrow::Cow;

use async_graphql::futures_util::Stream;

use super::{COLUMNS, Format};
use crate::store::{EventFilter, EventRow, Store, StoreError, format_db_time};

/// Rows read per page.
const PAGE: u64 = 5000;

/// How CSV cells are written.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Cells {
    /// Exactly as stored: export then import gives back the same rows.
    #[default]
    AsStored,
    /// Safe to open in a spreadsheet, as [`spreadsheet_safe`] writes them; such a file no longer
    /// imports back to the same rows.
    SpreadsheetSafe,
}

impl Cells {
    /// A cell as written.
    pub fn write(self, cell: &str) -> Cow<'_, str> {
        match self {
            Cells::AsStored => Cow::Borrowed(cell),
            Cells::SpreadsheetSafe => spreadsheet_safe(cell),
        }
    }
}

/// What a cell may not start with in a spreadsheet-safe file: the characters that make a
/// spreadsheet read it as a formula, and the tab and carriage return that can hide one.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell, with a `'` before it when it starts with one of [`FORMULA_STARTS`], so that a
/// spreadsheet shows it as text instead of running it (OWASP's advice against CSV injection).
/// Every other cell is left as it is.
pub fn spreadsheet_safe(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Writes rows in `format`; with `header`, the CSV header first. `cells` says how CSV cells are
/// written (JSON Lines are always as stored).
pub fn write_rows(
    out: &mut Vec<u8>,
    rows: &[EventRow],
    format: Format,
    cells: Cells,
    header: bool,
) -> Result<(), std::io::Error> {
    match format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(out);
            if header {
                writer.write_record(COLUMNS)?;
            }
            for row in rows {
                let user_id = row
                    .user_id
                    .map(|u| u.hyphenated().to_string())
                    .unwrap_or_default();
                let id = row.id.to_string();
                let created_at = format_db_time(row.created_at);
                let record = [
                    cells.write(&id),
                    cells.write(&user_id),
                    cells.write(&row.ipaddr),
                    cells.write(&row.user_agent),
                    cells.write(&row.event_name),
                    cells.write(&row.description),
                    cells.write(&created_at),
                ];
                writer.write_record(record.iter().map(|cell| cell.as_bytes()))?;
            }
            writer.flush()?;
        }
        Format::Jsonl => {
            for row in rows {
                let object = serde_json::json!({
                    "id": row.id,
                    "user_id": row.user_id.map(|u| u.hyphenated().to_string()),
                    "ipaddr": row.ipaddr,
                    "user_agent": row.user_agent,
                    "event_name": row.event_name,
                    "description": row.description,
                    "created_at": format_db_time(row.created_at),
                });
                serde_json::to_writer(&mut *out, &object)?;
                out.push(b'\n');
            }
        }
    }
    Ok(())
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the events failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Writing them failed.
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// The export of the events matching `filter`, in id order, as chunks of bytes: constant
/// memory whatever the table's size. `cells` says how CSV cells are written.
pub fn export_chunks(
    store: Store,
    filter: EventFilter,
    format: Format,
    cells: Cells,
) -> impl Stream<Item = Result<Vec<u8>, ExportError>> + Send + 'static {
    async_stream::try_stream! {
        // The next page is read while this one is written out.
        let fetch = |after: i64| {
            let (store, filter) = (store.clone(), filter.clone());
            tokio::spawn(async move { store.export_page(after, &filter, PAGE).await })
        };
        let mut next = fetch(0);
        let mut first = true;
        loop {
            let rows = next.await.map_err(|e| StoreError::Task(e.to_string()))??;
            let done = (rows.len() as u64) < PAGE;
            if let (false, Some(last)) = (done, rows.last()) {
                next = fetch(last.id);
            } else {
                next = tokio::spawn(async { Ok(Vec::new()) });
            }
            let mut chunk = Vec::with_capacity(rows.len() * 320 + 128);
            write_rows(&mut chunk, &rows, format, cells, first)?;
            first = false;
            yield chunk;
            if done {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cells_that_start_like_a_formula_get_a_quote() {
        for cell in ["=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "=", "-"] {
            assert_eq!(spreadsheet_safe(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in [
            "",
            "a=b",
            " =1",
            "'=1",
            "10.0.0.1",
            "{\"a\":1}",
            "\n=1",
            "\u{ff1d}1",
        ] {
            assert_eq!(spreadsheet_safe(cell), cell, "{cell:?}");
        }
        assert_eq!(Cells::AsStored.write("=1"), "=1");
        assert_eq!(Cells::SpreadsheetSafe.write("=1"), "'=1");
    }
}

//! Export: events in id order, page by page (keyset on id), written as CSV or JSON Lines.

use async_graphql::futures_util::Stream;

use super::{COLUMNS, Format};
use crate::store::{EventFilter, EventRow, Store, StoreError, format_db_time};

/// Rows read per page.
const PAGE: u64 = 5000;

/// Writes rows in `format`; with `header`, the CSV header first.
pub fn write_rows(
    out: &mut Vec<u8>,
    rows: &[EventRow],
    format: Format,
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
                writer.write_record([
                    row.id.to_string().as_str(),
                    &user_id,
                    &row.ipaddr,
                    &row.user_agent,
                    &row.event_name,
                    &row.description,
                    &format_db_time(row.created_at),
                ])?;
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
/// memory whatever the table's size.
pub fn export_chunks(
    store: Store,
    filter: EventFilter,
    format: Format,
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
            write_rows(&mut chunk, &rows, format, first)?;
            first = false;
            yield chunk;
            if done {
                break;
            }
        }
    }
}

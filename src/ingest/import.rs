//! Import: a CSV or JSON Lines file, streamed record by record into batched inserts inside one
//! transaction, every row checked first.
//!
//! `--on-error abort` rolls everything back at the first bad row, naming its line and column;
//! `--on-error skip` loads the good rows and writes each bad line, unchanged, to the rejects
//! file after the header. Rows whose id is already stored are skipped, so importing a file twice
//! changes nothing.

use std::cell::RefCell;
use std::io::{BufRead, Read, Write};
use std::rc::Rc;

use chrono::{DateTime, NaiveDateTime, Utc};
use uuid::Uuid;

use super::{COLUMNS, Format};
use crate::store::{
    Dialect, ImportBatch, ImportRow, NewEventRow, Store, StoreError, accepted_instant,
    parse_db_time,
};

/// Rows handed to the database at a time.
const BATCH: usize = 10_000;

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 2000;

/// What to do with a bad row.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnError {
    /// Stop and leave the database exactly as it was.
    #[default]
    Abort,
    /// Load the good rows; write the bad lines to the rejects file.
    Skip,
}

/// How to import.
pub struct ImportOptions {
    /// The file's format.
    pub format: Format,
    /// What to do with a bad row.
    pub on_error: OnError,
    /// Where bad lines go (with `skip`), after the header.
    pub rejects: Option<Box<dyn Write + Send>>,
    /// Called after every batch with rows read so far and bytes consumed.
    pub progress: Box<dyn FnMut(u64, u64) + Send>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows read.
    pub read: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows skipped because their id was already stored.
    pub duplicates: u64,
    /// Rows rejected (`skip` mode).
    pub rejected: u64,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A row is bad (and the import was aborted, leaving the database as it was).
    #[error("line {line}, column {column}: {reason}")]
    BadRow {
        /// The physical line where the row starts (the header is line 1).
        line: u64,
        /// The column at fault.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The file is not the format it should be.
    #[error("line {line}: {reason}")]
    BadFile {
        /// The physical line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading the file or writing the rejects failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The database failed (the import was rolled back).
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// A bad row: where, which column, why.
struct Rejection {
    column: String,
    reason: String,
}

fn reject(column: &str, reason: impl Into<String>) -> Rejection {
    Rejection {
        column: column.into(),
        reason: reason.into(),
    }
}

/// One record's raw fields by column name, before checking.
struct Fields<'a> {
    id: Option<&'a str>,
    user_id: Option<&'a str>,
    ipaddr: &'a str,
    user_agent: &'a str,
    event_name: &'a str,
    description: &'a str,
    created_at: &'a str,
}

/// Checks one record's fields.
fn check(fields: Fields<'_>) -> Result<ImportRow, Rejection> {
    let id = match fields.id.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => return Err(reject("id", format!("{text:?} is not a positive integer"))),
        },
    };
    let user_id = match fields.user_id.map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            Uuid::parse_str(text)
                .map_err(|_| reject("user_id", format!("{text:?} is not a UUID")))?,
        ),
    };
    for (column, text) in [
        ("ipaddr", fields.ipaddr),
        ("user_agent", fields.user_agent),
        ("event_name", fields.event_name),
        ("description", fields.description),
    ] {
        if text.contains('\0') {
            return Err(reject(
                column,
                "contains a NUL character, which text cannot hold",
            ));
        }
    }
    if fields.ipaddr.trim().is_empty() {
        return Err(reject("ipaddr", "is empty"));
    }
    if fields.event_name.trim().is_empty() {
        return Err(reject("event_name", "is empty"));
    }
    let created_at = parse_instant(fields.created_at).ok_or_else(|| {
        reject(
            "created_at",
            format!(
                "{:?} is not a time such as 2026-01-31 10:00:00[.ffffff][+00:00]",
                fields.created_at
            ),
        )
    })?;
    let created_at = accepted_instant(created_at).map_err(|error| {
        reject(
            "created_at",
            format!("{:?}: {error}", fields.created_at.trim()),
        )
    })?;
    Ok(ImportRow {
        id,
        event: NewEventRow {
            user_id,
            ipaddr: fields.ipaddr.to_string(),
            user_agent: fields.user_agent.to_string(),
            event_name: fields.event_name.to_string(),
            description: fields.description.to_string(),
            created_at,
        },
    })
}

/// A time with or without a fraction, with or without an offset (converted to UTC).
fn parse_instant(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    // Most files hold times as the platform's table does: without an offset, read cheaply.
    if let Some(t) = parse_db_time(text) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc).naive_utc());
        }
    }
    None
}

/// A reader that keeps the bytes it hands out, so that a rejected CSV record can be written
/// exactly as it stood in the file.
struct Tee<R> {
    inner: R,
    kept: Rc<RefCell<Vec<u8>>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.kept.borrow_mut().extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Loads a file into the store. The file is read, checked and encoded on a thread of its own
/// while the database takes the batches before it, so both run at once.
pub async fn import(
    store: &Store,
    input: Box<dyn BufRead + Send>,
    options: ImportOptions,
) -> Result<ImportSummary, ImportError> {
    let mut import = store.begin_import().await?;
    let dialect = store.dialect();
    let (sender, mut batches) = tokio::sync::mpsc::channel::<ImportBatch>(2);
    // Batches go back to the reader once loaded, so that their memory is reused by the thread
    // that fills it rather than freed on another thread and allocated again.
    let (give_back, taken_back) = std::sync::mpsc::channel::<ImportBatch>();
    let reader =
        tokio::task::spawn_blocking(move || read(input, options, dialect, sender, taken_back));
    let mut inserted = 0;
    let mut handed = 0;
    let mut failure = None;
    while let Some(batch) = batches.recv().await {
        match import.insert(&batch).await {
            Ok(n) => {
                inserted += n;
                handed += batch.len() as u64;
                let _ = give_back.send(batch);
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    // The reader stops at its next batch once nobody takes them.
    drop(batches);
    let read = match reader.await {
        Ok(read) => read,
        Err(error) => Err(ImportError::Io(std::io::Error::other(error.to_string()))),
    };
    let outcome = match (failure, read) {
        (Some(error), _) => Err(ImportError::Store(error)),
        (None, Err(error)) => Err(error),
        (None, Ok(read)) => Ok(ImportSummary {
            read: read.read,
            inserted,
            duplicates: handed - inserted,
            rejected: read.rejected,
        }),
    };
    match outcome {
        Ok(summary) => {
            import.commit().await?;
            Ok(summary)
        }
        Err(error) => {
            import.rollback().await?;
            Err(error)
        }
    }
}

/// What the reading thread saw.
#[derive(Default)]
struct ReadSummary {
    read: u64,
    rejected: u64,
}

/// Why reading stopped early.
enum Stop {
    /// The file is bad (or cannot be read).
    Failed(ImportError),
    /// The database side stopped taking batches (it has its own error).
    Closed,
}

impl From<ImportError> for Stop {
    fn from(error: ImportError) -> Stop {
        Stop::Failed(error)
    }
}

impl From<std::io::Error> for Stop {
    fn from(error: std::io::Error) -> Stop {
        Stop::Failed(ImportError::Io(error))
    }
}

/// Reads the whole input into batches; runs on its own thread.
fn read(
    input: Box<dyn BufRead + Send>,
    mut options: ImportOptions,
    dialect: Dialect,
    sender: tokio::sync::mpsc::Sender<ImportBatch>,
    taken_back: std::sync::mpsc::Receiver<ImportBatch>,
) -> Result<ReadSummary, ImportError> {
    let mut sink = Sink {
        batch: ImportBatch::new(dialect),
        dialect,
        sender,
        taken_back,
        summary: ReadSummary::default(),
    };
    let result = match options.format {
        Format::Csv => read_csv(input, &mut options, &mut sink),
        Format::Jsonl => read_jsonl(input, &mut options, &mut sink),
    }
    .and_then(|()| sink.flush());
    match result {
        Ok(()) => {
            if let Some(rejects) = options.rejects.as_mut() {
                rejects.flush()?;
            }
            Ok(sink.summary)
        }
        // The database's error is the one to tell.
        Err(Stop::Closed) => Ok(sink.summary),
        Err(Stop::Failed(error)) => Err(error),
    }
}

/// Where checked rows go: a batch, handed to the database side when full.
struct Sink {
    batch: ImportBatch,
    dialect: Dialect,
    sender: tokio::sync::mpsc::Sender<ImportBatch>,
    taken_back: std::sync::mpsc::Receiver<ImportBatch>,
    summary: ReadSummary,
}

impl Sink {
    fn flush(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = match self.taken_back.try_recv() {
            Ok(mut used) => {
                used.clear();
                used
            }
            Err(_) => ImportBatch::new(self.dialect),
        };
        let full = std::mem::replace(&mut self.batch, next);
        self.sender.blocking_send(full).map_err(|_| Stop::Closed)
    }
}

/// Where a record stood in the file.
struct Record<'a> {
    /// The physical line it starts on.
    line: u64,
    /// Its bytes as they stood (kept only when it may be set aside).
    raw: &'a [u8],
    /// The bytes read so far, for the progress bar.
    position: u64,
}

/// Handles one checked record: queues it, or rejects it as the mode says; reports progress
/// every batch.
fn take(
    checked: Result<ImportRow, Rejection>,
    record: Record<'_>,
    sink: &mut Sink,
    options: &mut ImportOptions,
) -> Result<(), Stop> {
    sink.summary.read += 1;
    if sink.summary.read % PROGRESS_EVERY == 0 {
        (options.progress)(sink.summary.read, record.position);
    }
    let Record { line, raw, .. } = record;
    match checked {
        Ok(row) => {
            sink.batch.push(row);
            if sink.batch.len() >= BATCH {
                sink.flush()?;
            }
            Ok(())
        }
        Err(rejection) => match options.on_error {
            OnError::Abort => Err(Stop::Failed(ImportError::BadRow {
                line,
                column: rejection.column,
                reason: rejection.reason,
            })),
            OnError::Skip => {
                sink.summary.rejected += 1;
                if let Some(rejects) = options.rejects.as_mut() {
                    rejects.write_all(raw)?;
                    if !raw.ends_with(b"\n") {
                        rejects.write_all(b"\n")?;
                    }
                }
                Ok(())
            }
        },
    }
}

fn read_csv(
    input: Box<dyn BufRead + Send>,
    options: &mut ImportOptions,
    sink: &mut Sink,
) -> Result<(), Stop> {
    let kept = Rc::new(RefCell::new(Vec::new()));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(Tee {
            inner: input,
            kept: kept.clone(),
        });
    let headers = reader
        .byte_headers()
        .map_err(|e| ImportError::BadFile {
            line: 1,
            reason: format!("cannot read the header: {e}"),
        })?
        .clone();
    let header_end = reader.position().byte();
    let names: Vec<String> = headers
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    let index = |name: &str| names.iter().position(|n| n == name);
    let mut columns = [None; 7];
    for (slot, name) in COLUMNS.iter().enumerate() {
        columns[slot] = index(name);
        if columns[slot].is_none() && *name != "id" {
            return Err(Stop::Failed(ImportError::BadFile {
                line: 1,
                reason: format!(
                    "the header has no column {name:?} (expected {})",
                    COLUMNS.join(",")
                ),
            }));
        }
    }
    {
        let mut kept = kept.borrow_mut();
        let header_len = usize::try_from(header_end).unwrap_or(0).min(kept.len());
        if let Some(rejects) = options.rejects.as_mut() {
            rejects.write_all(&kept[..header_len])?;
            if !kept[..header_len].ends_with(b"\n") {
                rejects.write_all(b"\n")?;
            }
        }
        kept.drain(..header_len);
    }
    // Bytes before `base` have been dropped from `kept`.
    let mut base = header_end;
    let mut record = csv::ByteRecord::new();
    loop {
        let start = reader.position().clone();
        let more = reader
            .read_byte_record(&mut record)
            .map_err(|e| ImportError::BadFile {
                line: e.position().map_or(start.line(), |p| p.line()),
                reason: e.to_string(),
            })?;
        if !more {
            break;
        }
        let line = record.position().map_or(start.line(), |p| p.line());
        let end = reader.position().byte();
        let checked = if record.len() != names.len() {
            Err(reject(
                "*",
                format!("has {} fields, the header {}", record.len(), names.len()),
            ))
        } else {
            let text = |slot: usize| -> Result<Option<&str>, Rejection> {
                match columns[slot] {
                    None => Ok(None),
                    Some(i) => std::str::from_utf8(record.get(i).unwrap_or_default())
                        .map(Some)
                        .map_err(|_| reject(COLUMNS[slot], "is not UTF-8")),
                }
            };
            (|| {
                Ok::<_, Rejection>(Fields {
                    id: text(0)?,
                    user_id: text(1)?,
                    ipaddr: text(2)?.unwrap_or_default(),
                    user_agent: text(3)?.unwrap_or_default(),
                    event_name: text(4)?.unwrap_or_default(),
                    description: text(5)?.unwrap_or_default(),
                    created_at: text(6)?.unwrap_or_default(),
                })
            })()
            .and_then(check)
        };
        // The record's bytes as they stood, kept only for a line set aside.
        let raw = if checked.is_err() && options.on_error == OnError::Skip {
            let kept = kept.borrow();
            let from = usize::try_from(start.byte().saturating_sub(base)).unwrap_or(0);
            let to = usize::try_from(end.saturating_sub(base))
                .unwrap_or(0)
                .min(kept.len());
            kept[from.min(to)..to].to_vec()
        } else {
            Vec::new()
        };
        // Forget what has been read, now and then rather than after every record.
        if end.saturating_sub(base) > 1 << 16 {
            let mut kept = kept.borrow_mut();
            let drop = usize::try_from(end.saturating_sub(base))
                .unwrap_or(0)
                .min(kept.len());
            kept.drain(..drop);
            base = end;
        }
        let record = Record {
            line,
            raw: &raw,
            position: end,
        };
        take(checked, record, sink, options)?;
    }
    (options.progress)(sink.summary.read, reader.position().byte());
    Ok(())
}

fn read_jsonl(
    input: Box<dyn BufRead + Send>,
    options: &mut ImportOptions,
    sink: &mut Sink,
) -> Result<(), Stop> {
    if let Some(rejects) = options.rejects.as_mut() {
        writeln!(rejects, "{}", COLUMNS.join(","))?;
    }
    let mut bytes = 0u64;
    for (index, line) in input.split(b'\n').enumerate() {
        let line_number = index as u64 + 1;
        let raw = line?;
        bytes += raw.len() as u64 + 1;
        let trimmed = raw.strip_suffix(b"\r").unwrap_or(&raw);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let checked =
            match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(trimmed) {
                Err(e) => Err(reject("*", format!("not a JSON object: {e}"))),
                Ok(object) => {
                    let owned = |key: &str| -> Result<Option<String>, Rejection> {
                        match object.get(key) {
                            None | Some(serde_json::Value::Null) => Ok(None),
                            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                            Some(serde_json::Value::Number(n)) if key == "id" => {
                                Ok(Some(n.to_string()))
                            }
                            Some(other) => Err(reject(key, format!("{other} is not a string"))),
                        }
                    };
                    (|| {
                        let id = owned("id")?;
                        let user_id = owned("user_id")?;
                        let ipaddr = owned("ipaddr")?.unwrap_or_default();
                        let user_agent = owned("user_agent")?.unwrap_or_default();
                        let event_name = owned("event_name")?.unwrap_or_default();
                        let description = owned("description")?.unwrap_or_default();
                        let created_at = owned("created_at")?.unwrap_or_default();
                        check(Fields {
                            id: id.as_deref(),
                            user_id: user_id.as_deref(),
                            ipaddr: &ipaddr,
                            user_agent: &user_agent,
                            event_name: &event_name,
                            description: &description,
                            created_at: &created_at,
                        })
                    })()
                }
            };
        let record = Record {
            line: line_number,
            raw: &raw,
            position: bytes,
        };
        take(checked, record, sink, options)?;
    }
    (options.progress)(sink.summary.read, bytes);
    Ok(())
}

//! `GET /export.csv` and `GET /export.jsonl`: the same stream as `user-events export`, with the
//! filter as query parameters (`from`, `to`, `category` and `user_id`, the last two repeatable).
//! `GET /export.csv?spreadsheet_safe=true` writes the cells a spreadsheet would run as formulas
//! so that they show as text, as `user-events export --spreadsheet-safe` does.

use async_graphql::futures_util::StreamExt;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, Peer};
use crate::catalog::EventCategory;
use crate::graphql::scalars::DateTime;
use crate::ingest::{Cells, Format, export_chunks};
use crate::store::EventFilter;

/// `GET /export.csv`.
pub async fn csv(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    RawQuery(query): RawQuery,
) -> Response {
    stream(state, &headers, &peer, query, Format::Csv).await
}

/// `GET /export.jsonl`.
pub async fn jsonl(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Peer,
    RawQuery(query): RawQuery,
) -> Response {
    stream(state, &headers, &peer, query, Format::Jsonl).await
}

async fn stream(
    state: AppState,
    headers: &HeaderMap,
    peer: &Peer,
    query: Option<String>,
    format: Format,
) -> Response {
    let principal = match super::auth::principal(&state, headers, peer, "export").await {
        Ok(principal) => principal,
        Err(refusal) => return refusal,
    };
    let record = |outcome: &str| {
        state.access_log.record(crate::audit::Request {
            principal: Some(&principal),
            kind: "export",
            operation_name: None,
            variables: serde_json::json!({ "query": query.clone().unwrap_or_default() }),
            address: peer.0.as_ref(),
            outcome: outcome.into(),
        });
    };
    if !principal.may_read() {
        record("FORBIDDEN");
        return super::auth::forbidden("this token's role may not read events");
    }
    let (mut filter, cells) = match parse_query(query.as_deref().unwrap_or_default(), format) {
        Ok(parsed) => parsed,
        Err((parameter, message)) => {
            return super::HttpError::BadParameter {
                parameter: parameter.to_string(),
                message: message.to_string(),
            }
            .into_response();
        }
    };
    // A token bound to a user exports that user's events only: anyone else's are not there.
    filter.user_ids = principal.visible_users(filter.user_ids.take());
    record("OK");
    let chunks = export_chunks(state.store.clone(), filter, format, cells).map(|chunk| {
        chunk.map_err(|error| {
            // The status line is sent already: log, and cut the body short.
            tracing::error!(%error, "export failed");
            std::io::Error::other("export failed")
        })
    });
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "user_events.csv"),
        Format::Jsonl => ("application/x-ndjson", "user_events.jsonl"),
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response()
}

/// The filter of the query string; an error names the parameter at fault.
pub fn parse_filter(query: &str) -> Result<EventFilter, (String, String)> {
    parse_query(query, Format::Jsonl).map(|(filter, _)| filter)
}

/// The filter of an export's query string and, for CSV, how its cells are written; an error
/// names the parameter at fault.
fn parse_query(query: &str, format: Format) -> Result<(EventFilter, Cells), (String, String)> {
    let mut filter = EventFilter::default();
    let mut cells = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let bad = |message: String| (key.to_string(), message);
        match key.as_ref() {
            "spreadsheet_safe" if format != Format::Csv => {
                return Err(bad("only /export.csv takes this parameter".into()));
            }
            "spreadsheet_safe" if cells.is_some() => {
                return Err(bad("is given more than once".into()));
            }
            "spreadsheet_safe" => {
                cells = Some(match value.as_ref() {
                    "true" => Cells::SpreadsheetSafe,
                    "false" => Cells::AsStored,
                    _ => return Err(bad(format!("{value:?} is not true or false"))),
                });
            }
            "from" | "to" => {
                let t = DateTime::parse(&value).map_err(|error| bad(error.to_string()))?;
                if key == "from" {
                    filter.from = Some(t.0);
                } else {
                    filter.to = Some(t.0);
                }
            }
            "category" => {
                let category = EventCategory::parse(&value)
                    .ok_or_else(|| bad(format!("{value:?} is not a category")))?;
                filter
                    .categories
                    .get_or_insert_with(Vec::new)
                    .push(category);
            }
            "user_id" => {
                let id = uuid::Uuid::parse_str(value.trim())
                    .map_err(|_| bad(format!("{value:?} is not a UUID")))?;
                filter.user_ids.get_or_insert_with(Vec::new).push(id);
            }
            _ => {
                let known = match format {
                    Format::Csv => "from, to, category, user_id, spreadsheet_safe",
                    Format::Jsonl => "from, to, category, user_id",
                };
                return Err(bad(format!("unknown parameter; use {known}")));
            }
        }
    }
    Ok((filter, cells.unwrap_or_default()))
}

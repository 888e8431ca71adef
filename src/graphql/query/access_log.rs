//! `accessLog`: who asked what, with which token, from where, and how it ended. Admin only.

use async_graphql::{Context, ID, Object, SimpleObject};
use base64::Engine;

use crate::audit::timestamp;
use crate::auth::Role;
use crate::graphql::access::{forbidden, require_read};
use crate::graphql::error::{OrInternal, bad_input, store};
use crate::graphql::query::{DEFAULT_PAGE_SIZE, size};
use crate::graphql::scalars::DateTime;
use crate::graphql::types::PageInfo;
use crate::store::{AccessEntry, AccessFilter};

/// The access log.
#[derive(Default)]
pub struct AccessLogQuery;

/// One recorded request.
#[derive(SimpleObject, Clone)]
pub struct AccessLogEntry {
    /// The entry's id.
    pub id: ID,
    /// When the request came.
    pub at: Option<DateTime>,
    /// The token's name; null when the token was refused.
    pub token_name: Option<String>,
    /// The token's role.
    pub role: Option<String>,
    /// `query`, `mutation`, `subscription` or `export`.
    pub kind: String,
    /// The operation's name, when it had one.
    pub operation_name: Option<String>,
    /// The variables (or export parameters) as JSON, secrets removed.
    pub variables: String,
    /// The client's address.
    pub address: Option<String>,
    /// `OK`, `SUBSCRIBED`, or the answer's error codes (`FORBIDDEN`, `BAD_USER_INPUT`, ...).
    pub outcome: String,
}

/// An entry and its cursor.
#[derive(SimpleObject)]
pub struct AccessLogEdge {
    /// Where this entry stands, for `after`.
    pub cursor: String,
    /// The entry.
    pub node: AccessLogEntry,
}

/// A page of the access log, newest first: a Relay connection like every other list.
#[derive(SimpleObject)]
pub struct AccessLogConnection {
    /// The entries with their cursors.
    pub edges: Vec<AccessLogEdge>,
    /// The entries.
    pub nodes: Vec<AccessLogEntry>,
    /// Where the page stands: `hasNextPage` says whether older entries follow, `endCursor`
    /// is the `after` of the next page.
    pub page_info: PageInfo,
    /// Whether older entries follow.
    #[graphql(deprecation = "use pageInfo.hasNextPage")]
    pub has_next_page: bool,
    /// The last entry's cursor.
    #[graphql(deprecation = "use pageInfo.endCursor")]
    pub end_cursor: Option<String>,
}

fn cursor(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("access:{id}"))
}

fn decode(text: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("access:")?
        .parse()
        .ok()
}

fn entry(row: AccessEntry) -> AccessLogEntry {
    AccessLogEntry {
        id: ID(row.id.to_string()),
        at: chrono::DateTime::parse_from_rfc3339(&row.at)
            .ok()
            .map(|t| DateTime(t.naive_utc())),
        token_name: row.token_name,
        role: row.role,
        kind: row.kind,
        operation_name: row.operation_name,
        variables: row.variables,
        address: row.address,
        outcome: row.outcome,
    }
}

#[Object]
impl AccessLogQuery {
    /// Requests made with API tokens, newest first (admin only): `tokenName` narrows to one
    /// token, `from`/`to` to a time range.
    #[graphql(complexity = "crate::graphql::query::page_cost(first, None, child_complexity)")]
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "How many items to return from the start of the list (default 50, at most --max-page-size)."
        )]
        first: Option<i32>,
        #[graphql(desc = "A cursor from a previous page (`endCursor`): the page starts after it.")]
        after: Option<String>,
        #[graphql(desc = "Only requests made with the token of this name.")] token_name: Option<
            String,
        >,
        #[graphql(desc = "Only requests made at or after this instant.")] from: Option<DateTime>,
        #[graphql(desc = "Only requests made before this instant.")] to: Option<DateTime>,
    ) -> async_graphql::Result<AccessLogConnection> {
        if require_read(ctx)?.role != Role::Admin {
            return Err(forbidden("only an admin token reads the access log"));
        }
        let first = size(crate::graphql::query::max_page(ctx), "first", first)?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let before = after
            .map(|text| {
                decode(&text).ok_or_else(|| bad_input("after", "not a cursor of this list"))
            })
            .transpose()?;
        let filter = AccessFilter {
            token_name,
            from: from.map(|t| timestamp(t.0.and_utc())),
            to: to.map(|t| timestamp(t.0.and_utc())),
        };
        let mut rows = store(ctx)
            .access_entries(&filter, before, first + 1)
            .await
            .or_internal()?;
        let has_next_page = rows.len() as u64 > first;
        rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        let end_cursor = rows.last().map(|r| cursor(r.id));
        let page_info = PageInfo {
            has_next_page,
            has_previous_page: before.is_some(),
            start_cursor: rows.first().map(|r| cursor(r.id)),
            end_cursor: end_cursor.clone(),
        };
        let edges: Vec<AccessLogEdge> = rows
            .into_iter()
            .map(|row| AccessLogEdge {
                cursor: cursor(row.id),
                node: entry(row),
            })
            .collect();
        let nodes = edges.iter().map(|e| e.node.clone()).collect();
        Ok(AccessLogConnection {
            edges,
            nodes,
            page_info,
            has_next_page,
            end_cursor,
        })
    }
}

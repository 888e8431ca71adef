//! Relay paging arguments, validated once for every connection.

use crate::graphql::error::bad_input;
use crate::store::{Cursor, PageRequest, SortOrder};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page a client may ask for unless the server is told otherwise.
pub const MAX_PAGE_SIZE: i32 = crate::config::defaults::MAX_PAGE_SIZE as i32;

/// The largest page this server allows (schema data; `MAX_PAGE_SIZE` when absent).
#[derive(Copy, Clone, Debug)]
pub struct PageLimit(pub i32);

/// The largest page allowed where `ctx` runs.
pub fn max_page(ctx: &async_graphql::Context<'_>) -> i32 {
    ctx.data_opt::<PageLimit>()
        .map_or(MAX_PAGE_SIZE, |limit| limit.0)
}

/// What a page costs toward the complexity limit: its fields once per row it may hold (counted
/// up to [`MAX_PAGE_SIZE`] rows; a size out of range is refused by its validation instead).
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| {
        usize::try_from(n.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1)
    });
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// Validates a page size argument named `name` against `max`; none stays none.
pub fn size(max: i32, name: &str, value: Option<i32>) -> async_graphql::Result<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if !(0..=max).contains(&n) => Err(bad_input(
            name,
            format!("must be between 0 and {max}, got {n}"),
        )),
        Some(n) => Ok(Some(u64::from(n.unsigned_abs()))),
    }
}

/// A forward-only page, newest first (`first`/`after`), within the page limit where `ctx` runs:
/// the connections that take no `last`/`before`.
pub fn newest_first(
    ctx: &async_graphql::Context<'_>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<PageRequest> {
    page_request(max_page(ctx), first, after, None, None, SortOrder::Desc)
}

/// Validates `first`/`last`/`after`/`before` into a page request; pages hold at most `max`.
pub fn page_request(
    max: i32,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    order: SortOrder,
) -> async_graphql::Result<PageRequest> {
    if first.is_some() && last.is_some() {
        return Err(bad_input(
            "last",
            "cannot be combined with \"first\"; page forward with first/after or backward with last/before",
        ));
    }
    let cursor = |name: &str, value: Option<String>| -> async_graphql::Result<Option<Cursor>> {
        value
            .map(|text| Cursor::decode(&text).map_err(|e| bad_input(name, e)))
            .transpose()
    };
    let last = size(max, "last", last)?;
    let first = match (size(max, "first", first)?, last) {
        (None, None) => Some(DEFAULT_PAGE_SIZE),
        (first, _) => first,
    };
    Ok(PageRequest {
        first,
        last,
        after: cursor("after", after)?,
        before: cursor("before", before)?,
        order,
    })
}

//! Relay paging arguments, validated once for every connection.

use crate::graphql::error::bad_input;
use crate::store::{Cursor, PageRequest, SortOrder};

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: i32 = 1000;

/// What a page costs toward the complexity limit: its fields once per row it may hold.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, |n| {
        usize::try_from(n.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1)
    });
    rows.saturating_mul(child_complexity).saturating_add(1)
}

/// Validates a page size argument named `name`; none stays none.
pub fn size(name: &str, value: Option<i32>) -> async_graphql::Result<Option<u64>> {
    match value {
        None => Ok(None),
        Some(n) if !(0..=MAX_PAGE_SIZE).contains(&n) => Err(bad_input(
            name,
            format!("must be between 0 and {MAX_PAGE_SIZE}, got {n}"),
        )),
        Some(n) => Ok(Some(u64::from(n.unsigned_abs()))),
    }
}

/// Validates `first`/`last`/`after`/`before` into a page request.
pub fn page_request(
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
    let last = size("last", last)?;
    let first = match (size("first", first)?, last) {
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

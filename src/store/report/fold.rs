//! What the database's rows become: rows merged once names are folded into categories and
//! kinds, and the order ties are broken in.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{GroupKey, GroupValues, UsageRow};
use crate::catalog::{CATALOG, EventCategory, EventKind};

/// Merges rows that fall in the same bucket and group once names are folded into categories
/// and kinds, as they are decoded (`expected` of them), so that the names' rows are never all
/// held at once.
pub(super) fn fold<E>(
    rows: impl Iterator<Item = Result<UsageRow, E>>,
    expected: usize,
) -> Result<Vec<UsageRow>, E> {
    // A few names fold into each group, so a quarter of the rows is room for the groups.
    let mut merged: HashMap<(Option<NaiveDateTime>, GroupValues), UsageRow> =
        HashMap::with_capacity(expected / 4 + 1);
    for row in rows {
        let row = row?;
        match merged.entry((row.bucket_start, row.group.clone())) {
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                let total = slot.get_mut();
                total.events += row.events;
                total.cpu += row.cpu;
                total.memory_gib += row.memory_gib;
                total.gpu += row.gpu;
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    Ok(merged.into_values().collect())
}

pub(super) fn kind_names() -> HashMap<String, EventKind> {
    CATALOG.iter().map(|e| (e.kind.name(), e.kind)).collect()
}

/// Ties between rows are broken by the group keys' text, in the order the keys were asked
/// for; enums by their names, a missing user first.
pub(super) fn compare_groups(keys: &[GroupKey], a: &GroupValues, b: &GroupValues) -> Ordering {
    keys.iter().fold(Ordering::Equal, |acc, key| {
        acc.then_with(|| match key {
            GroupKey::Category => a
                .category
                .map(EventCategory::name)
                .cmp(&b.category.map(EventCategory::name)),
            GroupKey::Kind => a
                .kind
                .map(EventKind::name)
                .cmp(&b.kind.map(EventKind::name)),
            GroupKey::EventName => a.event_name.cmp(&b.event_name),
            GroupKey::User => a
                .user_id
                .map(|u| u.hyphenated().to_string())
                .cmp(&b.user_id.map(|u| u.hyphenated().to_string())),
            GroupKey::IpAddress => a.ip_address.cmp(&b.ip_address),
            GroupKey::UserAgent => a.user_agent.cmp(&b.user_agent),
        })
    })
}

//! The summaries the rollup triggers keep on PostgreSQL, in the order the migrations added
//! them. A migration that adds one rebuilds the trigger function and the `TRUNCATE` function
//! from every summary up to its own (and its `down` from those before it), so that which
//! summary writes what is composed here once.

use crate::m20261125_000003_rollups::{COUNT_ADDED, COUNT_REMOVED};
use crate::m20261201_000010_usage_rollups::usage_add;
use crate::m20261201_000011_login_rollup::logins_add;
use crate::m20261201_000013_sharing_changes::{remove_parsed, sharing_add, sharing_remove};
use crate::m20261201_000015_user_updates::updates_add;
use crate::m20261201_000017_key_counts::{KEYS_DAILY, KEYS_MONTHLY, keys_add};

/// A summary kept by the rollup triggers, in the order of the migrations that added it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Summary {
    /// Counts per hour and day (migration 3).
    Counts,
    /// Resource usage per hour and day (migration 10).
    Usage,
    /// Logins per hour, user and method (migration 11).
    Logins,
    /// Parsed sharing changes (migration 13).
    Sharing,
    /// Parsed user updates (migration 15).
    UserUpdates,
    /// Events per day and month and per user, address and user agent (migration 17).
    Keys,
    /// The users who logged in per hour, derived by the login rollup's fold (migration 18).
    LoginSets,
}

impl Summary {
    const ALL: [Summary; 7] = [
        Summary::Counts,
        Summary::Usage,
        Summary::Logins,
        Summary::Sharing,
        Summary::UserUpdates,
        Summary::Keys,
        Summary::LoginSets,
    ];

    /// Its tables.
    fn tables(self) -> Vec<&'static str> {
        match self {
            Summary::Counts => vec!["user_events_hourly", "user_events_daily"],
            Summary::Usage => vec!["user_events_usage_hourly", "user_events_usage_daily"],
            Summary::Logins => vec!["user_events_logins_hourly"],
            Summary::Sharing => vec!["user_events_sharing"],
            Summary::UserUpdates => vec!["user_events_user_updates"],
            Summary::Keys => vec![KEYS_DAILY, KEYS_MONTHLY],
            Summary::LoginSets => vec!["user_events_login_sets"],
        }
    }

    /// What the trigger runs for the rows a statement removed (`old_rows`) and added
    /// (`new_rows`).
    fn parts(self) -> (String, String) {
        match self {
            Summary::Counts => (COUNT_REMOVED.to_owned(), COUNT_ADDED.to_owned()),
            Summary::Usage => (
                format!("{};", usage_add("old_rows", "-", "")),
                format!("{};", usage_add("new_rows", "", "")),
            ),
            Summary::Logins => (
                format!("{};", logins_add("old_rows", "-", "")),
                format!("{};", logins_add("new_rows", "", "")),
            ),
            Summary::Sharing => (
                format!("{};", sharing_remove("old_rows")),
                format!("{};", sharing_add("new_rows", "")),
            ),
            Summary::UserUpdates => (
                format!(
                    "{};",
                    remove_parsed("user_events_user_updates", "old_rows", "'update user'")
                ),
                format!("{};", updates_add("new_rows", "")),
            ),
            Summary::Keys => (
                format!("{};", keys_add("old_rows", "-")),
                format!("{};", keys_add("new_rows", "")),
            ),
            // Derived by the fold, not by writers.
            Summary::LoginSets => (String::new(), String::new()),
        }
    }

    /// What adds every stored event to it: what an import that loaded an empty table without
    /// the triggers runs before it commits.
    fn add_all(self) -> String {
        match self {
            Summary::Counts => crate::POSTGRES_ROLLUP_ADD_ALL.to_owned(),
            Summary::Usage => crate::postgres_usage_add_all(),
            Summary::Logins => crate::postgres_logins_add_all(),
            Summary::Sharing => crate::postgres_sharing_add_all(),
            Summary::UserUpdates => crate::postgres_user_updates_add_all(),
            Summary::Keys => crate::postgres_keys_add_all(),
            // The fold derives the sets of the hours the logins above add.
            Summary::LoginSets => String::new(),
        }
    }

    /// Every summary up to this one.
    fn up_to(self) -> impl Iterator<Item = Summary> {
        Summary::ALL.into_iter().filter(move |s| *s <= self)
    }
}

/// The rollup trigger function keeping every summary up to `last`.
pub(crate) fn rollup_apply(last: Summary) -> String {
    let (removed, added): (Vec<String>, Vec<String>) = last.up_to().map(Summary::parts).unzip();
    let separator = "\n            ";
    crate::m20261125_000003_rollups::rollup_apply(&removed.join(separator), &added.join(separator))
}

/// The function a `TRUNCATE` of `user_events` calls: it empties every summary up to `last`.
pub(crate) fn rollup_clear(last: Summary) -> String {
    let tables: Vec<&str> = last.up_to().flat_map(Summary::tables).collect();
    // Folds run under a lock that a truncation takes too (see the login sets' migration).
    let lock = (last >= Summary::LoginSets).then_some(crate::m20261201_000018_login_sets::LOCK);
    crate::m20261201_000012_rollups_on_truncate::rollup_clear(&tables, lock)
}

/// The statements that add every stored event to every summary, in order: what an import that
/// loaded an empty table with the rollup triggers set aside runs before it commits.
pub fn postgres_summaries_add_all() -> Vec<String> {
    Summary::ALL
        .into_iter()
        .map(Summary::add_all)
        .filter(|statement| !statement.is_empty())
        .collect()
}

/// Installs the rollup trigger function and the `TRUNCATE` function for every summary up to
/// `last`, with their search path pinned (what each summary migration from the 15th on runs,
/// and its `down` with the summary before it).
pub(crate) async fn install(
    db: &sea_orm_migration::SchemaManagerConnection<'_>,
    last: Summary,
) -> Result<(), sea_orm_migration::DbErr> {
    use crate::m20261201_000010_usage_rollups::execute;
    execute(db, &rollup_apply(last)).await?;
    execute(db, &rollup_clear(last)).await?;
    execute(
        db,
        &crate::m20261201_000014_trigger_search_path::pin_search_path(),
    )
    .await
}

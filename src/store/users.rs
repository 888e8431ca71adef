//! Users: everyone who appears as `user_id`, with what the log says of them.
//!
//! A user's username and type come from their newest event whose description has them; `banned`
//! from the newest `update user` event naming their username as its target. Both are read by
//! correlated subqueries that walk the `(user_id, created_at, id)` index backwards and stop at the
//! first match, so a batch of users costs two statements whatever its size.

use entity::stored::{StoredTime, StoredUuid};
use std::collections::HashMap;

use chrono::NaiveDateTime;
use entity::user_events::{Column, Entity as UserEvents};
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Condition, Expr, ExprTrait, Func, Order, Query,
    SelectStatement, UnionType, WithClause,
};
use sea_orm::{ConnectionTrait, IdenStatic, QueryResult};
use uuid::Uuid;

use super::cursor::{open, seal};
use super::events::{RANK, newest_first_per};
use super::time::parse_db_time;
use super::{CountSource, CursorError, Dialect, Store, StoreError};
use crate::details::UserType;
use entity::user_events_user_updates::{Column as UpdateColumn, Entity as Updates};

/// One user as the log describes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    /// The user id.
    pub id: Uuid,
    /// From the newest event whose description has a `username`.
    pub username: Option<String>,
    /// From the newest event whose description has a valid `user_type`.
    pub user_type: Option<UserType>,
    /// The oldest event's time.
    pub first_seen: NaiveDateTime,
    /// The newest event's time.
    pub last_seen: NaiveDateTime,
    /// How many events.
    pub event_count: i64,
    /// Whether the newest `update user` event targeting the username says `banned: true`.
    pub banned: bool,
}

/// A position in the list of users, most recently seen first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserCursor {
    /// The user's last-seen time as the database compares it.
    pub last_seen_text: String,
    /// The user.
    pub id: Uuid,
}

impl UserCursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        seal("u1", &self.id.to_string(), &self.last_seen_text)
    }

    /// Reads a cursor produced by [`UserCursor::encode`].
    pub fn decode(text: &str) -> Result<UserCursor, CursorError> {
        let (id, last_seen_text) = open("u1", text)?;
        let id = Uuid::parse_str(&id).map_err(|_| CursorError)?;
        Ok(UserCursor { last_seen_text, id })
    }
}

/// A page of users.
#[derive(Clone, Debug, Default)]
pub struct UserPage {
    /// The users, most recently seen first.
    pub users: Vec<(UserRow, UserCursor)>,
    /// Whether users follow.
    pub has_next: bool,
}

impl Store {
    /// The users with these ids (those that appear in the log), in two statements.
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, UserRow>, StoreError> {
        let mut out = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        // WITH u(id) AS (SELECT * FROM (VALUES (id1), (id2), ...)): one row per id asked for,
        // each read by correlated subqueries that walk the user's index.
        let listed = Query::select()
            .column(Asterisk)
            .from_values(ids.iter().map(|id| self.dialect.uuid(*id)), Alias::new("v"))
            .to_owned();
        let asked = WithClause::new()
            .cte(
                CommonTableExpression::new()
                    .query(listed)
                    .column(Alias::new(ID))
                    .table_name(Alias::new(U))
                    .to_owned(),
            )
            .to_owned();
        let asked_id = || Expr::col((Alias::new(U), Alias::new(ID)));
        let per_user = |aggregate: Expr| -> Expr {
            let select = Query::select()
                .expr(aggregate)
                .from_as(UserEvents, Alias::new(E))
                .and_where(of_user(asked_id()))
                .to_owned();
            sub_query(select)
        };
        let created_at = || Expr::col((Alias::new(E), Column::CreatedAt));
        let select = Query::select()
            .expr(asked_id())
            .expr(per_user(Func::min(created_at()).into()))
            .expr(per_user(Func::max(created_at()).into()))
            .expr(match self.dialect {
                // The key counts hold every user's events over all time, exactly.
                Dialect::Postgres => {
                    sub_query(Store::user_total(&format!("CAST({U}.{ID} AS TEXT)")))
                }
                Dialect::Sqlite => per_user(Func::count(Expr::col(Asterisk)).into()),
            })
            .expr(sub_query(self.newest_key("username", None, asked_id())))
            .expr(sub_query(self.newest_key(
                "user_type",
                Some(&["NORMAL", "ADMIN"]),
                asked_id(),
            )))
            .from(Alias::new(U))
            .to_owned();
        let statement = self.dialect.backend().build(&select.with(asked));
        let rows = self.reads().query_all_raw(statement).await?;
        for row in &rows {
            if let Some(user) = self.decode_user(row)? {
                out.insert(user.id, user);
            }
        }
        let names: Vec<String> = out.values().filter_map(|u| u.username.clone()).collect();
        let banned = self.banned_usernames(&names).await?;
        for user in out.values_mut() {
            user.banned = user
                .username
                .as_ref()
                .is_some_and(|name| banned.contains_key(name) && banned[name]);
        }
        Ok(out)
    }

    /// Users most recently seen first (then by id, descending), optionally those whose username
    /// contains `search` (ASCII case-insensitive).
    pub async fn users_page(
        &self,
        search: Option<&str>,
        first: u64,
        after: Option<&UserCursor>,
    ) -> Result<UserPage, StoreError> {
        // One row per user: (id, last_seen), found by skipping along the (user_id, created_at,
        // id) index from one user to the next and reading each one's newest time at the end of
        // its run: two index probes a user, however many events each has.
        let (ids, id_col) = (Alias::new(IDS), Alias::new(ID));
        let ids_id = || Expr::col((Alias::new(IDS), Alias::new(ID)));
        let user_id = || Expr::col((Alias::new(E), Column::UserId));
        // The smallest user id above `above` (any, when None), as a scalar subquery: an index
        // probe (PostgreSQL has no MIN over uuid).
        let smallest = |above: Option<Expr>| {
            let mut select = Query::select()
                .expr(user_id())
                .from_as(UserEvents, Alias::new(E))
                .and_where(user_id().is_not_null())
                .order_by((Alias::new(E), Column::UserId), Order::Asc)
                .limit(1)
                .to_owned();
            if let Some(above) = above {
                select.and_where(user_id().gt(above));
            }
            sub_query(select)
        };
        let mut lowest = Query::select().expr(smallest(None)).to_owned();
        let next = Query::select()
            .expr(smallest(Some(ids_id())))
            .from(ids.clone())
            .and_where(ids_id().is_not_null())
            .to_owned();
        let walk = WithClause::new()
            .recursive(true)
            .cte(
                CommonTableExpression::new()
                    .query(lowest.union(UnionType::All, next).to_owned())
                    .column(id_col)
                    .table_name(ids.clone())
                    .to_owned(),
            )
            .to_owned();
        let newest = Query::select()
            .expr(Func::max(Expr::col((Alias::new(E), Column::CreatedAt))))
            .from_as(UserEvents, Alias::new(E))
            .and_where(of_user(ids_id()))
            .to_owned();
        let seen = Query::select()
            .expr_as(ids_id(), Alias::new(ID))
            .expr_as(sub_query(newest), Alias::new(LAST_SEEN))
            .from(ids)
            .and_where(ids_id().is_not_null())
            .to_owned();
        let id = || Expr::col((Alias::new(S), Alias::new(ID)));
        let last_seen = || Expr::col((Alias::new(S), Alias::new(LAST_SEEN)));
        let mut select = Query::select()
            .expr(id())
            .expr(last_seen())
            .from_subquery(seen, Alias::new(S))
            .order_by_expr(last_seen(), Order::Desc)
            .order_by_expr(id(), Order::Desc)
            .limit(Ord::min(first.saturating_add(1), i64::MAX as u64))
            .to_owned();
        if let Some(after) = after {
            let at = parse_db_time(&after.last_seen_text).unwrap_or_default();
            select.and_where(Expr::tuple([last_seen(), id()]).lt(Expr::tuple([
                Expr::val(self.dialect.position(at, &after.last_seen_text)),
                Expr::val(self.dialect.uuid(after.id)),
            ])));
        }
        if let Some(needle) = search {
            // The user's newest username, folded, contains the folded needle.
            let username = sub_query(self.newest_key("username", None, id()));
            select.and_where(self.dialect.contains_folded(username, needle));
        }
        let rows = self
            .reads()
            .query_all_raw(self.dialect.backend().build(&select.with(walk)))
            .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            let id = row.try_get_by_index::<StoredUuid>(0)?.0;
            let last_seen_text = row.try_get_by_index::<StoredTime>(1)?.text();
            keys.push(UserCursor { last_seen_text, id });
        }
        let has_next = keys.len() as u64 > first;
        keys.truncate(usize::try_from(first).unwrap_or(usize::MAX));
        let ids: Vec<Uuid> = keys.iter().map(|k| k.id).collect();
        let mut found = self.users_by_ids(&ids).await?;
        let users = keys
            .into_iter()
            .filter_map(|key| found.remove(&key.id).map(|user| (user, key)))
            .collect();
        Ok(UserPage { users, has_next })
    }

    /// The newest `update user` event per target username among `names`: whether it bans.
    async fn banned_usernames(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, bool>, StoreError> {
        self.bans_from(names, CountSource::Auto).await
    }

    /// The newest `update user` event per target username among `names`, and whether it bans,
    /// read from the source asked for (both give the same answer): on PostgreSQL the parsed
    /// updates of `user_events_user_updates`, one index probe a name; otherwise the events.
    pub async fn bans_from(
        &self,
        names: &[String],
        source: CountSource,
    ) -> Result<HashMap<String, bool>, StoreError> {
        let mut out = HashMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        if source == CountSource::Auto && self.dialect == Dialect::Postgres {
            // The columns `newest_first_per` orders by have the names of the events' own.
            let updates = Query::select()
                .columns([
                    UpdateColumn::Id,
                    UpdateColumn::CreatedAt,
                    UpdateColumn::TargetUsername,
                    UpdateColumn::Banned,
                ])
                .from(Updates)
                // The index holds the username's MD5 (a name may be too long for an index row).
                .and_where(
                    Func::md5(Expr::col(UpdateColumn::TargetUsername))
                        .is_in(names.iter().map(|n| Func::md5(Expr::val(n.clone())))),
                )
                .and_where(Expr::col(UpdateColumn::TargetUsername).is_in(names.iter().cloned()))
                .to_owned();
            let ranked = newest_first_per(updates, &[UpdateColumn::TargetUsername.as_str()]);
            let select = Query::select()
                .column(UpdateColumn::TargetUsername)
                .column(UpdateColumn::Banned)
                .from_subquery(ranked, Alias::new("n"))
                .and_where(Expr::col(Alias::new(RANK)).eq(1))
                .to_owned();
            let statement = self.dialect.backend().build(&select);
            for row in self.reads().query_all_raw(statement).await? {
                out.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            }
            return Ok(out);
        }
        let target = || Expr::col(Alias::new(TARGET));
        // Each `update user` event: its target username and whether it bans.
        let mut updates = Query::select()
            .column((Alias::new(E), Column::Id))
            .column((Alias::new(E), Column::CreatedAt))
            .expr_as(
                Expr::cust(self.dialect.json_string("e.description", "target_username")),
                Alias::new(TARGET),
            )
            .expr_as(
                Expr::cust(self.dialect.json_is_true("e.description", "banned")),
                Alias::new(BANS),
            )
            .from_as(UserEvents, Alias::new(E))
            .to_owned();
        self.dialect
            .join_parsed_description(&mut updates, "e.description", None, "p");
        updates.and_where(Expr::col((Alias::new(E), Column::EventName)).eq("update user"));
        // A cheap text test before the parse: a description can name one of `names` only if it
        // holds the name as it is, or holds an escape (a JSON string may spell it with escapes).
        let description = || Expr::col((Alias::new(E), Column::Description));
        let mut may_name = Condition::any().add(self.dialect.contains(description(), "\\"));
        for name in names {
            may_name = may_name.add(self.dialect.contains(description(), name));
        }
        updates.cond_where(may_name);
        // The newest of each target among `names`.
        let ranked = newest_first_per(updates, &[TARGET])
            .and_where(target().is_in(names.iter().cloned()))
            .to_owned();
        let select = Query::select()
            .column(Alias::new(TARGET))
            .column(Alias::new(BANS))
            .from_subquery(ranked, Alias::new("n"))
            .and_where(Expr::col(Alias::new(RANK)).eq(1))
            .to_owned();
        let statement = self.dialect.backend().build(&select);
        for row in self.reads().query_all_raw(statement).await? {
            let name: String = row.try_get_by_index(0)?;
            let banned: bool = row.try_get_by_index(1)?;
            out.insert(name, banned);
        }
        Ok(out)
    }

    /// `SELECT key FROM the newest event of user` (a column of the enclosing statement) that
    /// has it; with `allowed`, only values that are one of these (compared upper-cased).
    fn newest_key(&self, key: &str, allowed: Option<&[&str]>, user: Expr) -> SelectStatement {
        let value = self.dialect.json_string("e.description", key);
        let mut select = Query::select()
            .expr(Expr::cust(value.clone()))
            .from_as(UserEvents, Alias::new(E))
            .to_owned();
        self.dialect
            .join_parsed_description(&mut select, "e.description", None, "p");
        // A cheap text test before the parse.
        let present = match allowed {
            None => Expr::cust(value).is_not_null(),
            Some(values) => Expr::cust(format!("upper({value})")).is_in(values.iter().copied()),
        };
        select
            .and_where(of_user(user))
            .and_where(Expr::cust(
                self.dialect.may_have_keys("e.description", &[key]),
            ))
            .and_where(present)
            .order_by((Alias::new(E), Column::CreatedAt), Order::Desc)
            .order_by((Alias::new(E), Column::Id), Order::Desc)
            .limit(1)
            .to_owned()
    }

    fn decode_user(&self, row: &QueryResult) -> Result<Option<UserRow>, StoreError> {
        let id = row.try_get_by_index::<StoredUuid>(0)?.0;
        let count: i64 = row.try_get_by_index(3)?;
        if count == 0 {
            return Ok(None);
        }
        let time = |i: usize| -> Result<NaiveDateTime, StoreError> {
            Ok(row.try_get_by_index::<StoredTime>(i)?.at)
        };
        let user_type = row.try_get_by_index::<Option<String>>(5)?.and_then(|t| {
            match t.to_ascii_uppercase().as_str() {
                "NORMAL" => Some(UserType::Normal),
                "ADMIN" => Some(UserType::Admin),
                _ => None,
            }
        });
        Ok(Some(UserRow {
            id,
            username: row.try_get_by_index(4)?,
            user_type,
            first_seen: time(1)?,
            last_seen: time(2)?,
            event_count: count,
            banned: false,
        }))
    }
}

/// Names of the statements' tables and columns of their own: the events read per user (`e`),
/// the users asked for (`u`), the users seen (`s`) and found (`ids`), and their columns.
const E: &str = "e";
const U: &str = "u";
const S: &str = "s";
const IDS: &str = "ids";
const ID: &str = "id";
const LAST_SEEN: &str = "last_seen";
const TARGET: &str = "t";
const BANS: &str = "b";

/// `e.user_id = user`: the events of a user of the enclosing statement.
fn of_user(user: Expr) -> Expr {
    Expr::col((Alias::new(E), Column::UserId)).eq(user)
}

/// A subquery as an expression.
fn sub_query(select: SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(select.into()))
}

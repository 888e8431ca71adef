//! Users: everyone who appears as `user_id`, with what the log says of them.
//!
//! A user's username and type come from their newest event whose description has them; `banned`
//! from the newest `update user` event naming their username as its target. Both are read by
//! correlated subqueries that walk the `(user_id, created_at, id)` index backwards and stop at the
//! first match, so a batch of users costs two statements whatever its size.

use entity::stored::{StoredTime, StoredUuid};
use std::collections::HashMap;

use chrono::NaiveDateTime;
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use super::cursor::{open, seal};
use super::sql::Sql;
use super::time::parse_db_time;
use super::{CursorError, Store, StoreError};
use crate::details::UserType;

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
        let mut sql = Sql::new(self.dialect);
        sql.push("WITH u(id) AS (VALUES ");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.push("(").bind(self.dialect.uuid(*id)).push(")");
        }
        sql.push(
            ") SELECT u.id, \
             (SELECT MIN(created_at) FROM user_events e WHERE e.user_id = u.id), \
             (SELECT MAX(created_at) FROM user_events e WHERE e.user_id = u.id), \
             (SELECT COUNT(*) FROM user_events e WHERE e.user_id = u.id), ",
        );
        self.push_newest_key(&mut sql, "username", None);
        sql.push(", ");
        self.push_newest_key(&mut sql, "user_type", Some(&["NORMAL", "ADMIN"]));
        sql.push(" FROM u");
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
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
        let mut sql = Sql::new(self.dialect);
        sql.push(
            "SELECT id, last_seen FROM (SELECT user_id AS id, MAX(created_at) AS last_seen \
             FROM user_events WHERE user_id IS NOT NULL GROUP BY user_id) AS s WHERE 1 = 1",
        );
        if let Some(after) = after {
            sql.push(" AND (last_seen, id) < (");
            let at = parse_db_time(&after.last_seen_text).unwrap_or_default();
            sql.bind(self.dialect.position(at, &after.last_seen_text));
            sql.push(", ").bind(self.dialect.uuid(after.id)).push(")");
        }
        if let Some(needle) = search {
            sql.push(" AND ");
            let mut newest = Sql::new(self.dialect);
            newest.push("(SELECT ");
            self.push_key_value(&mut newest, "username");
            newest.push(" FROM user_events e");
            self.push_json_join(&mut newest);
            newest.push(" WHERE e.user_id = s.id AND ");
            self.push_key_present(&mut newest, "username", None);
            newest.push(" ORDER BY e.created_at DESC, e.id DESC LIMIT 1)");
            let username = self.dialect.fold_ascii(&newest.into_text());
            sql.push(self.dialect.position_function())
                .push("(")
                .push(&username)
                .push(", ")
                .bind(needle.to_ascii_lowercase())
                .push(") > 0");
        }
        sql.push(" ORDER BY last_seen DESC, id DESC LIMIT ")
            .bind(i64::try_from(first.saturating_add(1)).unwrap_or(i64::MAX));
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
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
        let mut out = HashMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT t, b FROM (SELECT t, b, ROW_NUMBER() OVER (PARTITION BY t ORDER BY created_at DESC, id DESC) AS rn FROM (SELECT e.id, e.created_at, ");
        self.push_key_value(&mut sql, "target_username");
        sql.push(" AS t, ");
        sql.push(&self.dialect.json_is_true("e.description", "banned"));
        sql.push(" AS b FROM user_events e");
        self.push_json_join(&mut sql);
        sql.push(" WHERE e.event_name = 'update user') AS c WHERE t IN ")
            .bind_list(names.iter().cloned());
        sql.push(") AS n WHERE rn = 1");
        for row in self.db.query_all_raw(sql.into_statement()).await? {
            let name: String = row.try_get_by_index(0)?;
            let banned: bool = row.try_get_by_index(1)?;
            out.insert(name, banned);
        }
        Ok(out)
    }

    /// `(SELECT key FROM the user's newest event that has it)`; with `allowed`, only values
    /// that are one of these (compared upper-cased).
    fn push_newest_key(&self, sql: &mut Sql, key: &str, allowed: Option<&[&str]>) {
        sql.push("(SELECT ");
        self.push_key_value(sql, key);
        sql.push(" FROM user_events e");
        self.push_json_join(sql);
        sql.push(" WHERE e.user_id = u.id AND ");
        self.push_key_present(sql, key, allowed);
        sql.push(" ORDER BY e.created_at DESC, e.id DESC LIMIT 1)");
    }

    /// On PostgreSQL, the guarded parse of `e.description` as `j`.
    fn push_json_join(&self, sql: &mut Sql) {
        sql.push(&self.dialect.parsed_description("e.description", None, "p"));
    }

    /// A string key of `e.description` (NULL when absent or not a string).
    fn push_key_value(&self, sql: &mut Sql, key: &str) {
        sql.push(&self.dialect.json_string("e.description", key));
    }

    /// Whether `e.description` has a string under `key` (one of `allowed`, upper-cased).
    fn push_key_present(&self, sql: &mut Sql, key: &str, allowed: Option<&[&str]>) {
        // A cheap text test before the parse.
        sql.push(&self.dialect.may_have_keys("e.description", &[key]))
            .push(" AND ");
        match allowed {
            None => {
                self.push_key_value(sql, key);
                sql.push(" IS NOT NULL");
            }
            Some(values) => {
                sql.push("upper(");
                self.push_key_value(sql, key);
                let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
                sql.push(&format!(") IN ({})", list.join(", ")));
            }
        }
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

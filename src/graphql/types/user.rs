//! `User`, the users connection, and the loader that batches `Event.user`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::SimpleObject;
use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::PageInfo;
use crate::details::UserType;
use crate::graphql::scalars::{DateTime, UuidValue};
use crate::store::{Store, StoreError, UserPage, UserRow};

/// Someone who appears as `user_id` in the log.
#[derive(SimpleObject, Clone)]
pub struct User {
    /// The user id.
    pub id: UuidValue,
    /// From the newest event whose description has a username.
    pub username: Option<String>,
    /// From the newest event whose description has a user type.
    pub user_type: Option<UserType>,
    /// The first event.
    pub first_seen: DateTime,
    /// The last event.
    pub last_seen: DateTime,
    /// Events in all.
    pub event_count: i64,
    /// Whether the newest `update user` event naming this username says `banned: true`.
    pub banned: bool,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UuidValue(row.id),
            username: row.username,
            user_type: row.user_type,
            first_seen: DateTime(row.first_seen),
            last_seen: DateTime(row.last_seen),
            event_count: row.event_count,
            banned: row.banned,
        }
    }
}

/// A user and their cursor.
#[derive(SimpleObject)]
pub struct UserEdge {
    /// Where this user stands, for `after`.
    pub cursor: String,
    /// The user.
    pub node: User,
}

/// A page of users, most recently seen first.
#[derive(SimpleObject)]
pub struct UserConnection {
    /// The page's users with their cursors.
    pub edges: Vec<UserEdge>,
    /// The page's users.
    pub nodes: Vec<User>,
    /// Where this page stands.
    pub page_info: PageInfo,
}

impl UserConnection {
    /// Wraps a page; `after_given` says whether users precede it.
    pub fn new(page: UserPage, after_given: bool) -> Self {
        let edges: Vec<UserEdge> = page
            .users
            .into_iter()
            .map(|(row, cursor)| UserEdge {
                cursor: cursor.encode(),
                node: row.into(),
            })
            .collect();
        UserConnection {
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: after_given,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        }
    }
}

/// Batches the users that a response needs into one load (two statements) per batch.
pub struct UserLoader(pub Store);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        let users = self.0.users_by_ids(keys).await.map_err(Arc::new)?;
        Ok(users
            .into_iter()
            .map(|(id, row)| (id, row.into()))
            .collect())
    }
}

//! Who is asking: API tokens, their roles, and the scope a role gives.
//!
//! A token is `ue_` followed by 43 characters of base64url (32 random bytes); the store keeps its
//! SHA-256 hash only. A server that starts while no token was ever created answers everyone as
//! an administrator, and `serve` then listens on a loopback address only (unless told
//! `--allow-anonymous`); once a token exists, every request must carry an active one, for good:
//! revoking every token does not open the server again.

use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{NewToken, Store, StoreError, TokenRow};

/// What a token may do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Everything, mutations included.
    Admin,
    /// Read everything, change nothing.
    Analyst,
    /// Record events only.
    Ingest,
    /// Read one user's own events only (the token's `--user-id`).
    #[value(name = "self")]
    SelfUser,
}

impl Role {
    /// The role's name as stored and typed.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Ingest => "ingest",
            Role::SelfUser => "self",
        }
    }

    fn from_name(name: &str) -> Option<Role> {
        [Role::Admin, Role::Analyst, Role::Ingest, Role::SelfUser]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

/// The one asking, as the edges see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The token's name (`None` when the server runs without tokens).
    pub token: Option<String>,
    /// What it may do.
    pub role: Role,
    /// The user a `self` token is bound to.
    pub user_id: Option<Uuid>,
}

impl Principal {
    /// Whoever asks a server that has no token: an administrator.
    pub fn anonymous() -> Principal {
        Principal {
            token: None,
            role: Role::Admin,
            user_id: None,
        }
    }

    /// Whether it may read events and reports (some of them, for `self`).
    pub fn may_read(&self) -> bool {
        self.role != Role::Ingest
    }

    /// Whether it may record events.
    pub fn may_write(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Ingest)
    }

    /// Whether it may read every user's events.
    pub fn reads_everything(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Analyst)
    }

    /// The only user whose events it may see, when it is bound to one.
    pub fn scope(&self) -> Option<Uuid> {
        match self.role {
            Role::SelfUser => Some(self.user_id.unwrap_or(Uuid::nil())),
            _ => None,
        }
    }

    /// The users a read may cover, given the users it asks for (`None`: every user): the one
    /// rule of a token bound to a user, as row-level security would give it. For such a token
    /// the log holds its own user's events only, so asking for anyone else finds nothing (an
    /// empty list) rather than an error.
    pub fn visible_users(&self, asked: Option<Vec<Uuid>>) -> Option<Vec<Uuid>> {
        match (self.scope(), asked) {
            (None, asked) => asked,
            (Some(own), None) => Some(vec![own]),
            (Some(own), Some(ids)) => Some(if ids.contains(&own) {
                vec![own]
            } else {
                Vec::new()
            }),
        }
    }

    /// Whether the events of `user_id` exist for it (see [`Principal::visible_users`]).
    pub fn sees_user(&self, user_id: Uuid) -> bool {
        self.scope().is_none_or(|own| own == user_id)
    }

    /// Whether an event of `user_id` (none: an internal component's) exists for it.
    pub fn sees_event_of(&self, user_id: Option<Uuid>) -> bool {
        match user_id {
            Some(user_id) => self.sees_user(user_id),
            None => self.scope().is_none(),
        }
    }
}

/// Why a request is not let in.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token, or one that is not active.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The tokens could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is in use.
    #[error("a token named {0:?} exists already (names stay taken after revoke)")]
    NameTaken(String),
    /// The name is empty or too long.
    #[error("a token name is 1 to 100 characters")]
    BadName,
    /// `self` needs a user, the other roles take none.
    #[error("{0}")]
    BadUser(&'static str),
    /// The system's random source failed.
    #[error("no randomness for a token: {0}")]
    Random(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The hash stored for a token's secret.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes and stores a token; returns its secret (shown once, never stored).
pub async fn create_token(
    store: &Store,
    name: &str,
    role: Role,
    user_id: Option<Uuid>,
) -> Result<String, TokenError> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(TokenError::BadName);
    }
    match (role, user_id) {
        (Role::SelfUser, None) => {
            return Err(TokenError::BadUser("the self role needs --user-id"));
        }
        (Role::Admin | Role::Analyst | Role::Ingest, Some(_)) => {
            return Err(TokenError::BadUser(
                "--user-id goes with the self role only",
            ));
        }
        _ => {}
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TokenError::Random(e.to_string()))?;
    let secret = format!(
        "ue_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let stored = store
        .insert_token(&NewToken {
            name: name.to_string(),
            role: role.name().to_string(),
            user_id: user_id.map(|u| u.hyphenated().to_string()),
            hash: hash(&secret),
        })
        .await?;
    if !stored {
        return Err(TokenError::NameTaken(name.to_string()));
    }
    Ok(secret)
}

/// Whether requests without a token are answered (as an administrator): decided once, when the
/// server starts, by whether no token was ever created; left for good as soon as one is.
#[derive(Debug, Default)]
pub struct AnonymousMode(std::sync::atomic::AtomicU8);

const UNDECIDED: u8 = 0;
const OPEN: u8 = 1;
const CLOSED: u8 = 2;

impl AnonymousMode {
    /// Decides at start: open when no token exists.
    pub fn decide(&self, open: bool) {
        let state = if open { OPEN } else { CLOSED };
        let _ = self.0.compare_exchange(
            UNDECIDED,
            state,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Acquire,
        );
    }

    /// Whether a request without a token is let in now. Never true again once false.
    async fn allows(&self, store: &Store) -> Result<bool, StoreError> {
        use std::sync::atomic::Ordering;
        if self.0.load(Ordering::Acquire) == CLOSED {
            return Ok(false);
        }
        let exists = store.any_token().await?;
        // Not decided at start (a server built without `serve`): decided by the first ask.
        self.decide(!exists);
        if exists {
            self.0.store(CLOSED, Ordering::Release);
            return Ok(false);
        }
        Ok(self.0.load(Ordering::Acquire) == OPEN)
    }
}

/// Who sends `authorization` (the `Authorization` header's value, or the `connection_init`
/// payload's `authorization`).
pub async fn authenticate(
    store: &Store,
    anonymous: &AnonymousMode,
    authorization: Option<&str>,
) -> Result<Principal, AuthError> {
    let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
        return if anonymous.allows(store).await? {
            Ok(Principal::anonymous())
        } else {
            Err(AuthError::Unauthenticated(
                "this server needs a token: send Authorization: Bearer TOKEN",
            ))
        };
    };
    let Some(secret) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Err(AuthError::Unauthenticated(
            "the authorization must read Bearer TOKEN",
        ));
    };
    match store.active_token(&hash(secret.trim())).await? {
        Some(row) => principal_of(&row).ok_or(AuthError::Unauthenticated(
            "the token is not valid or was revoked",
        )),
        None => Err(AuthError::Unauthenticated(
            "the token is not valid or was revoked",
        )),
    }
}

fn principal_of(row: &TokenRow) -> Option<Principal> {
    let role = Role::from_name(&row.role)?;
    let user_id = match &row.user_id {
        Some(text) => Some(Uuid::parse_str(text).ok()?),
        None => None,
    };
    Some(Principal {
        token: Some(row.name.clone()),
        role,
        user_id,
    })
}

/// How long a token check may be reused on PostgreSQL, where a notification from the database
/// also ends it at once when any token is created or revoked.
pub const CHECK_REUSED_FOR: std::time::Duration = std::time::Duration::from_millis(250);

/// Entries kept at most; the cache starts over beyond.
const CACHED_CHECKS: usize = 10_000;

/// Token checks kept for a moment, so that a PostgreSQL server does not ask the database about
/// the same token on every request. SQLite, in the process, is asked every time.
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedCheck>>,
    /// Whether requests without a token are let in.
    pub anonymous: AnonymousMode,
}

#[derive(Clone, Debug)]
struct CachedCheck {
    generation: u64,
    at: std::time::Instant,
    result: Result<Principal, &'static str>,
}

impl AuthCache {
    /// [`authenticate`], reusing a check made under the same token `generation` within
    /// [`CHECK_REUSED_FOR`].
    pub async fn authenticate(
        &self,
        store: &Store,
        generation: u64,
        authorization: Option<&str>,
    ) -> Result<Principal, AuthError> {
        if store.dialect() == crate::store::Dialect::Sqlite {
            return authenticate(store, &self.anonymous, authorization).await;
        }
        let key = authorization.map(hash).unwrap_or_default();
        if let Some(hit) = self.lookup(&key, generation) {
            return hit.map_err(AuthError::Unauthenticated);
        }
        let result = authenticate(store, &self.anonymous, authorization).await;
        let kept = match &result {
            Ok(principal) => Some(Ok(principal.clone())),
            Err(AuthError::Unauthenticated(message)) => Some(Err(*message)),
            Err(AuthError::Store(_)) => None,
        };
        if let Some(result) = kept {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= CACHED_CHECKS {
                entries.clear();
            }
            entries.insert(
                key,
                CachedCheck {
                    generation,
                    at: std::time::Instant::now(),
                    result,
                },
            );
        }
        result
    }

    fn lookup(&self, key: &str, generation: u64) -> Option<Result<Principal, &'static str>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        (entry.generation == generation && entry.at.elapsed() < CHECK_REUSED_FOR)
            .then(|| entry.result.clone())
    }
}

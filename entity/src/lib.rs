//! sea-orm entities of the `user_events` store: the platform's table and the server's own.
//!
//! `user_events` belongs to the platform that writes it: the server maps it exactly as the
//! platform defines it and never adds columns to it.

pub mod access_log;
pub mod api_tokens;
pub mod stored;
pub mod user_events;
pub mod user_events_daily;
pub mod user_events_hourly;
pub mod user_events_keys_daily;
pub mod user_events_keys_monthly;
pub mod user_events_login_ordinals;
pub mod user_events_login_sets;
pub mod user_events_logins_hourly;
pub mod user_events_sharing;
pub mod user_events_usage_daily;
pub mod user_events_usage_hourly;
pub mod user_events_user_updates;

/// Everything a caller usually needs: the entity, its model and its columns.
pub mod prelude {
    pub use crate::access_log::{
        ActiveModel as AccessLogActiveModel, Column as AccessLogColumn, Entity as AccessLog,
        Model as AccessLogEntry,
    };
    pub use crate::api_tokens::{
        ActiveModel as ApiTokenActiveModel, Column as ApiTokenColumn, Entity as ApiTokens,
        Model as ApiToken,
    };
    pub use crate::user_events::{
        ActiveModel as UserEventActiveModel, Column as UserEventColumn, Entity as UserEvents,
        Model as UserEvent,
    };
}

//! sea-orm entities of the `user_events` store.
//!
//! `user_events` belongs to the platform that writes it: the server maps it exactly as the
//! platform defines it and never adds columns to it.

pub mod user_events;

/// Everything a caller usually needs: the entity, its model and its columns.
pub mod prelude {
    pub use crate::user_events::{
        ActiveModel as UserEventActiveModel, Column as UserEventColumn, Entity as UserEvents,
        Model as UserEvent,
    };
}

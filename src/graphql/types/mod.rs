//! GraphQL object and input types, built from store rows and catalog entries.

mod activity;
mod catalog;
mod connection;
mod details;
mod event;
mod filter;
mod flat;
pub mod leaf;
mod report;
mod sharing;
mod user;

pub use activity::{AuthMethodCount, LoginBucket, TimelineBucket, UserTimeline};
pub use catalog::{CategoryCount, EventTypeInfo};
pub use connection::{EventConnection, EventEdge, PageInfo, cursor as event_cursor};
pub use details::EventDetails;
pub use event::Event;
pub use filter::{EventFilterInput, SortOrderInput};
pub use flat::{Flat, FlatOne, Plain};
pub use report::{
    EventCountRow, EventGroupKeyInput, ResourceUsageRow, TimeBucketInput, grouping,
    time_zone_argument,
};
pub use sharing::{SharingChange, SharingChangeConnection, SharingChangeEdge, SharingExposure};
pub use user::{User, UserConnection, UserEdge, UserLoader};

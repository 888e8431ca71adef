//! The GraphQL API: schema, types built from store rows, and resolvers.
//!
//! Resolvers take the store from the context, call one store function and map its error once
//! (see [`error`]). Nothing here knows about HTTP.

pub mod access;
pub mod audit;
pub mod error;
pub mod fast;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use async_graphql::Schema;
use async_graphql::dataloader::DataLoader;

use crate::live::Live;
use crate::store::Store;

/// The server's schema.
pub type AppSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// The deepest selection a query may nest (GraphiQL's introspection needs about 13).
pub const MAX_DEPTH: usize = 20;
/// The most fields a query may select in all, aliases included.
pub const MAX_COMPLEXITY: usize = 5_000;

/// Builds the schema over a store and the live feed of new events.
pub fn build_schema(store: Store, live: Live) -> AppSchema {
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .data(live)
    .data(DataLoader::new(
        types::UserLoader(store.clone()),
        tokio::spawn,
    ))
    .data(store)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(access::Access)
    .extension(audit::Audit)
    .extension(error::ErrorCodes)
    .finish()
}

/// The schema's SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot,
        subscription::SubscriptionRoot,
    )
    .finish()
    .sdl()
}

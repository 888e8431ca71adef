//! The GraphQL API: schema, types built from store rows, and resolvers.
//!
//! Resolvers take the store from the context, call one store function and map its error once
//! (see [`error`]). Nothing here knows about HTTP.

pub mod error;
pub mod fast;
pub mod mutation;
pub mod query;
pub mod scalars;
pub mod types;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};

use crate::store::Store;

/// The server's schema.
pub type AppSchema = Schema<query::QueryRoot, mutation::MutationRoot, EmptySubscription>;

/// Builds the schema over a store.
pub fn build_schema(store: Store) -> AppSchema {
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot,
        EmptySubscription,
    )
    .data(DataLoader::new(
        types::UserLoader(store.clone()),
        tokio::spawn,
    ))
    .data(store)
    .extension(error::ErrorCodes)
    .finish()
}

/// The schema's SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        query::QueryRoot::default(),
        mutation::MutationRoot,
        EmptySubscription,
    )
    .finish()
    .sdl()
}

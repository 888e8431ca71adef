//! The GraphQL API: schema, types built from store rows, and resolvers.
//!
//! Resolvers take the store from the context, call one store function and map its error once
//! (see [`error`]). Every request passes through one [`pipeline`]: the access log, persisted
//! queries, the document limits, field order, access checks. Nothing here knows about HTTP.

pub mod access;
pub mod audit;
pub mod documents;
pub mod error;
pub mod fast;
pub mod limits;
pub mod mutation;
pub mod order;
pub mod persisted;
pub mod pipeline;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;
pub mod variables;

use async_graphql::Schema;
use async_graphql::dataloader::DataLoader;

use crate::config::Limits;
use crate::live::Live;
use crate::store::Store;

/// The server's schema.
pub type AppSchema =
    Schema<query::QueryRoot, mutation::MutationRoot, subscription::SubscriptionRoot>;

/// Builds the schema over a store and the live feed of new events, with the default limits and
/// every operation allowed.
pub fn build_schema(store: Store, live: Live) -> AppSchema {
    build_schema_with(
        store,
        live,
        &Limits::default(),
        std::sync::Arc::new(persisted::Persisted::open()),
    )
}

/// Builds the schema with `limits` and the operations `persisted` knows (the same the HTTP
/// edge is given).
pub fn build_schema_with(
    store: Store,
    live: Live,
    limits: &Limits,
    persisted: std::sync::Arc<persisted::Persisted>,
) -> AppSchema {
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
    .data(limits::ReportRowBudget(limits.max_report_rows))
    .data(query::PageLimit(
        i32::try_from(limits.max_page_size).unwrap_or(i32::MAX),
    ))
    .extension(pipeline::Pipeline {
        persisted,
        documents: std::sync::Arc::new(documents::Documents::new(limits::DocumentLimit {
            max_bytes: limits.max_document_bytes,
            max_fields: limits.max_fields,
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
        })),
        max_aliases: limits.max_aliases,
        report_rows: limits::ReportRowBudget(limits.max_report_rows),
        introspection: !limits.no_introspection,
        deadline: limits::Deadline(limits.request_timeout()),
    })
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
    .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

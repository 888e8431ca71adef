//! HTTP: the router, built apart from any listener so that tests drive it without a port.

mod graphiql;
mod graphql;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::graphql::AppSchema;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The GraphQL schema (holds its own handle on the store).
    pub schema: AppSchema,
    /// The store, for the handlers that are not GraphQL.
    pub store: Store,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}

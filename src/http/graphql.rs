//! GraphQL over HTTP: POST with a JSON body (single or batched), GET with query parameters.
//! A browser's GET (`Accept: text/html`, no query) gets the GraphiQL playground instead.

use async_graphql_axum::{GraphQLBatchRequest, GraphQLResponse};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::graphiql;

/// `POST /graphql`.
pub async fn post_graphql(
    State(state): State<AppState>,
    request: GraphQLBatchRequest,
) -> GraphQLResponse {
    state
        .schema
        .execute_batch(request.into_inner())
        .await
        .into()
}

/// `GET /graphql`: the playground for browsers, a query for everyone else.
pub async fn get_graphql(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html && uri.query().is_none_or(|q| !q.contains("query=")) {
        return graphiql::page().into_response();
    }
    match async_graphql::http::parse_query_string(uri.query().unwrap_or_default()) {
        Ok(request) if request.query.trim().is_empty() => {
            bad_request("missing the \"query\" parameter")
        }
        Ok(request) => GraphQLResponse::from(state.schema.execute(request).await).into_response(),
        Err(error) => bad_request(&error.to_string()),
    }
}

/// A request that is not GraphQL at all: 400 with a GraphQL-shaped error body.
fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": "BAD_USER_INPUT" } }]
    });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

//! Who sends a request: the `Authorization` header checked against the tokens, answered with
//! `UNAUTHENTICATED` (401) when it does not let the request in.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, Principal, authenticate};
use crate::store::Store;

/// The principal of a request, or the response that refuses it.
pub async fn principal(store: &Store, headers: &HeaderMap) -> Result<Principal, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    authenticate(store, authorization)
        .await
        .map_err(|error| refusal(&error))
}

/// The response for a request that is not let in.
pub fn refusal(error: &AuthError) -> Response {
    match error {
        AuthError::Unauthenticated(message) => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({ "errors": [{
                "message": message, "extensions": { "code": "UNAUTHENTICATED" } }] })),
        )
            .into_response(),
        AuthError::Store(cause) => {
            tracing::error!(error = %cause, "cannot read the tokens");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "errors": [{
                    "message": "internal error", "extensions": { "code": "INTERNAL" } }] })),
            )
                .into_response()
        }
    }
}

/// `FORBIDDEN` (403): the token is valid but its role may not do this.
pub fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(serde_json::json!({ "errors": [{
            "message": message, "extensions": { "code": "FORBIDDEN" } }] })),
    )
        .into_response()
}

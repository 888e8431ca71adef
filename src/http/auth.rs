//! Who sends a request: the `Authorization` header checked against the tokens, answered with
//! `UNAUTHENTICATED` (401) when it does not let the request in.

use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use super::error::HttpError;
use super::{AppState, Peer};
use crate::auth::{AuthError, Principal};

/// The principal of a request, or the response that refuses it. A refused token is recorded
/// in the access log.
pub async fn principal(
    state: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    kind: &str,
) -> Result<Principal, Response> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state
        .auth_cache
        .authenticate(&state.store, state.live.tokens_generation(), authorization)
        .await
        .map_err(|error| {
            if authorization.is_some() && matches!(error, AuthError::Unauthenticated(_)) {
                state.access_log.record(crate::audit::Request {
                    principal: None,
                    kind,
                    operation_name: None,
                    variables: serde_json::Value::Null,
                    address: peer.0.as_ref(),
                    outcome: "UNAUTHENTICATED".into(),
                });
            }
            refusal(&error)
        })
}

/// The response for a request that is not let in.
pub fn refusal(error: &AuthError) -> Response {
    match error {
        AuthError::Unauthenticated(message) => HttpError::Unauthenticated(message),
        AuthError::Store(cause) => {
            tracing::error!(error = %cause, "cannot read the tokens");
            HttpError::Internal
        }
    }
    .into_response()
}

/// `FORBIDDEN` (403): the token is valid but its role may not do this.
pub fn forbidden(message: &str) -> Response {
    HttpError::Forbidden(message.to_string()).into_response()
}

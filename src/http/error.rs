//! The one error type of the HTTP edge: every refusal that is not a GraphQL answer becomes a
//! status and a GraphQL-shaped JSON body whose error carries `extensions.code`.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::graphql::error::{BAD_USER_INPUT, INTERNAL, LIMIT_EXCEEDED};

/// Why the edge answers a request itself.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request is not one the server can read (400).
    #[error("{0}")]
    BadRequest(String),
    /// A query-string parameter cannot be read (400); `extensions.argument` names it.
    #[error("invalid value for parameter \"{parameter}\": {message}")]
    BadParameter {
        /// The parameter.
        parameter: String,
        /// Why.
        message: String,
    },
    /// No token, or one that is not active (401).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The token's role may not do this, or the request comes from a page or host the server
    /// does not serve (403).
    #[error("{0}")]
    Forbidden(String),
    /// A mutation or subscription sent with GET (405).
    #[error("mutations and subscriptions need POST")]
    PostOnly,
    /// Not a JSON body (415).
    #[error("a GraphQL request is a JSON body: send Content-Type: application/json")]
    UnsupportedMediaType,
    /// The body is larger than allowed (413).
    #[error("the request body may hold at most {0} bytes")]
    TooLarge(usize),
    /// A batch holds more operations than allowed (400).
    #[error("a batch holds at most {max} operations")]
    BatchTooLarge {
        /// The limit.
        max: usize,
    },
    /// Another limit (503 when the server is full, 400 for a request too large).
    #[error("{message}")]
    Limit {
        /// The status.
        status: StatusCode,
        /// What was exceeded.
        message: String,
    },
    /// The request ran out of time (503).
    #[error("the request took longer than {} ms", .0.as_millis())]
    TimedOut(std::time::Duration),
    /// The server is at fault; the cause is logged, never sent (500).
    #[error("internal error")]
    Internal,
}

impl HttpError {
    /// The `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::BadRequest(_)
            | HttpError::BadParameter { .. }
            | HttpError::UnsupportedMediaType
            | HttpError::PostOnly => BAD_USER_INPUT,
            HttpError::Unauthenticated(_) => "UNAUTHENTICATED",
            HttpError::Forbidden(_) => crate::graphql::access::FORBIDDEN,
            HttpError::TooLarge(_)
            | HttpError::BatchTooLarge { .. }
            | HttpError::Limit { .. }
            | HttpError::TimedOut(_) => LIMIT_EXCEEDED,
            HttpError::Internal => INTERNAL,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            HttpError::BadRequest(_)
            | HttpError::BadParameter { .. }
            | HttpError::BatchTooLarge { .. } => StatusCode::BAD_REQUEST,
            HttpError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::PostOnly => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::Limit { status, .. } => *status,
            HttpError::TimedOut(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for HttpError {
    /// The status, and a GraphQL-shaped body whose one error carries the code and a request id
    /// (also logged, with the reason, so that the refusal can be found).
    fn into_response(self) -> Response {
        let request_id = crate::graphql::error::new_request_id();
        let status = self.status();
        let message = self.to_string();
        tracing::info!(request_id = %request_id, status = status.as_u16(), code = self.code(), %message, "request refused");
        let mut extensions = serde_json::json!({ "code": self.code(), "requestId": request_id });
        if let HttpError::BadParameter { parameter, .. } = &self {
            extensions["argument"] = serde_json::Value::from(parameter.as_str());
        }
        let body =
            serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] });
        let mut response = (status, Json(body)).into_response();
        match self {
            HttpError::Unauthenticated(_) => {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            HttpError::PostOnly => {
                response
                    .headers_mut()
                    .insert(header::ALLOW, header::HeaderValue::from_static("POST"));
            }
            _ => {}
        }
        response
    }
}

//! The audit console at `GET /` and `/console`: a page in the binary that looks at the log through
//! the public GraphQL API only (queries and the `eventCreated` subscription). Its scripts, styles
//! and libraries (uPlot for charts, graphql-ws for the live feed) are embedded; the page's CSP
//! lets it reach this server only.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::AppState;
use super::graphiql::{CSP, serve_asset};

const TEXT_JS: &str = "text/javascript; charset=utf-8";
const TEXT_CSS: &str = "text/css; charset=utf-8";
const FAVICON_TYPE: &str = "image/svg+xml";

/// Every GraphQL operation the console sends, by name (JSON): the page loads it, and a server
/// with an allow-list adds these to it.
const OPERATIONS: &str = include_str!("../../assets/console/operations.json");

/// The console's operations, for an allow-list.
pub fn operations() -> Vec<String> {
    let parsed: std::collections::BTreeMap<String, String> =
        serde_json::from_str(OPERATIONS).unwrap_or_default();
    parsed.into_values().collect()
}

/// Embedded files: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "console.js",
        TEXT_JS,
        include_bytes!("../../assets/console/console.js"),
    ),
    (
        "console.css",
        TEXT_CSS,
        include_bytes!("../../assets/console/console.css"),
    ),
    (
        "uPlot.iife.min.js",
        TEXT_JS,
        include_bytes!("../../assets/vendor/console/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        TEXT_CSS,
        include_bytes!("../../assets/vendor/console/uPlot.min.css"),
    ),
    ("operations.json", "application/json", OPERATIONS.as_bytes()),
    (
        "favicon.svg",
        FAVICON_TYPE,
        include_bytes!("../../assets/console/favicon.svg"),
    ),
    (
        "graphql-ws.min.js",
        TEXT_JS,
        include_bytes!("../../assets/vendor/console/graphql-ws.min.js"),
    ),
];

/// `GET /` and `GET /console`: the page (404 when GraphiQL and the console are switched off).
pub async fn page(State(state): State<AppState>) -> Response {
    if state.limits.no_graphiql {
        return (
            StatusCode::NOT_FOUND,
            "the console is switched off on this server\n",
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(include_str!("../../assets/console/index.html")),
    )
        .into_response()
}

/// `GET /console/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve_asset(ASSETS, &file)
}

/// `GET /favicon.ico`: the console's icon, for browsers and tools that ask for it by that name.
pub async fn favicon() -> Response {
    serve_asset(ASSETS, "favicon.svg")
}

#[cfg(test)]
mod tests {
    /// The embedded file is an object of operation texts, one per view and the live feed.
    #[test]
    fn the_console_operations_parse() {
        let operations = super::operations();
        assert_eq!(operations.len(), 8);
        assert!(
            operations
                .iter()
                .any(|q| q.starts_with("subscription Live"))
        );
    }
}

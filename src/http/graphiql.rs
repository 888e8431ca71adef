//! The GraphiQL playground, served entirely from the binary (no CDN: it works air-gapped).
//!
//! The page's Content-Security-Policy allows scripts, styles and connections to this server
//! only, so a browser would refuse anything that tried to reach elsewhere.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// The query the playground opens with.
pub const EXAMPLE_QUERY: &str = r#"# Welcome to user-events. Press the run button (or Ctrl-Enter).
# The newest session events, with what their descriptions say:
query NewestSessionEvents {
  events(filter: { categories: [SESSIONS] }, first: 5) {
    totalCount
    edges {
      node {
        id
        createdAt
        eventName
        kind
        userId
        ipAddress
        details { username userType resourceUsage { cpu memoryGib gpu } sharing { from to } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
  categoryCounts { category count }
}
"#;

/// The Content-Security-Policy of the pages served from the binary: this server only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Embedded files: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/react-dom.production.min.js"),
    ),
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/graphiql-init.js"),
    ),
];

/// The playground page.
pub fn page() -> Response {
    // The example travels as JSON inside the page; `<` is escaped so it cannot end the tag.
    let example = serde_json::to_string(EXAMPLE_QUERY)
        .unwrap_or_default()
        .replace('<', "\\u003c");
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>user-events · GraphiQL</title>
<link rel="icon" href="/console/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="example-query" type="application/json">{example}</script>
<script src="/graphiql/react.production.min.js"></script>
<script src="/graphiql/react-dom.production.min.js"></script>
<script src="/graphiql/graphiql.min.js"></script>
<script src="/graphiql/init.js"></script>
</body>
</html>
"#
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Html(html),
    )
        .into_response()
}

/// `GET /graphiql/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    serve_asset(ASSETS, &file)
}

/// One of `assets` by name, or 404.
pub fn serve_asset(
    assets: &'static [(&'static str, &'static str, &'static [u8])],
    file: &str,
) -> Response {
    match assets.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

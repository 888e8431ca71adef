//! Reading a GraphQL POST body: JSON only, read only once the token is known to be good, at
//! most `--max-body-bytes`, and a batch counted while it is read, so that neither a large body
//! nor a batch of many small requests costs more memory than the limits allow.

use async_graphql::{BatchRequest, Request};
use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};

use super::error::HttpError;

/// JSON values one body may hold at most (each costs some 100 bytes once parsed, whatever its
/// size in the body).
const MAX_JSON_VALUES: usize = 200_000;

/// Whether the body is declared JSON (`application/json`, any parameters). Anything else,
/// no `Content-Type` included, is what a page of another site may send without asking
/// (a CORS "simple" request), so it is refused.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads and parses the body of an admitted request.
pub async fn read(
    body: Body,
    max_bytes: usize,
    max_batch: usize,
) -> Result<BatchRequest, HttpError> {
    let bytes = axum::body::to_bytes(body, max_bytes)
        .await
        .map_err(|_| HttpError::TooLarge(max_bytes))?;
    parse(&bytes, max_batch)
}

/// Parses a single request or a batch of at most `max_batch`.
pub fn parse(bytes: &[u8], max_batch: usize) -> Result<BatchRequest, HttpError> {
    if json_values(bytes) > MAX_JSON_VALUES {
        return Err(HttpError::Limit {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the request body may hold at most {MAX_JSON_VALUES} JSON values"),
        });
    }
    let unreadable = |error: serde_json::Error| {
        HttpError::BadRequest(format!("the body is not a GraphQL request: {error}"))
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'[') {
        return serde_json::from_slice::<Request>(bytes)
            .map(BatchRequest::Single)
            .map_err(unreadable);
    }
    let over = std::cell::Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let batch = Batch {
        max: max_batch,
        over: &over,
    }
    .deserialize(&mut deserializer)
    .and_then(|batch| deserializer.end().map(|()| batch));
    match batch {
        _ if over.get() => Err(HttpError::BatchTooLarge { max: max_batch }),
        Ok(batch) if batch.is_empty() => Err(HttpError::BadRequest(
            "a batch holds at least one request".into(),
        )),
        Ok(batch) => Ok(BatchRequest::Batch(batch)),
        Err(error) => Err(unreadable(error)),
    }
}

/// A rough count of the values in a JSON text: its opening brackets and commas outside strings.
fn json_values(bytes: &[u8]) -> usize {
    let (mut count, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' | b',' => count += 1,
                _ => {}
            }
        }
    }
    count
}

/// A JSON array of requests, refused as soon as it holds more than `max`.
struct Batch<'a> {
    max: usize,
    over: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Batch<'_> {
    type Value = Vec<Request>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Batch<'_> {
    type Value = Vec<Request>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            formatter,
            "an array of at most {} GraphQL requests",
            self.max
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        let mut batch = Vec::new();
        while let Some(request) = items.next_element::<Request>()? {
            if batch.len() == self.max {
                self.over.set(true);
                return Err(A::Error::custom("the batch is too large"));
            }
            batch.push(request);
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_counted_while_read() {
        let two = br#"[{"query":"{ a }"},{"query":"{ b }"}]"#;
        assert!(matches!(parse(two, 2), Ok(BatchRequest::Batch(b)) if b.len() == 2));
        assert!(matches!(
            parse(two, 1),
            Err(HttpError::BatchTooLarge { max: 1 })
        ));
        assert!(matches!(parse(b" []", 2), Err(HttpError::BadRequest(_))));
        assert!(matches!(
            parse(br#"{"query":"{ a }"}"#, 2),
            Ok(BatchRequest::Single(_))
        ));
        assert!(matches!(parse(b"{", 2), Err(HttpError::BadRequest(_))));
        assert_eq!(json_values(br#"{"a":"[,{","b":[1,2]}"#), 4);
    }
}

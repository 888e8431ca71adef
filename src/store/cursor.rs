//! Opaque keyset cursors over `(created_at, id)`.
//!
//! A cursor carries the row's id and its `created_at` exactly as the database compares it: on
//! SQLite the stored text itself (so that rows written with another spelling of the same instant,
//! `10:00:00` and `10:00:00.000`, still page without a gap or a duplicate), on PostgreSQL the
//! timestamp to the microsecond.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;

use super::time::parse_db_time;
use entity::stored::EARLIEST_STORED;

/// A position in an ordered list of events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The row id.
    pub id: i64,
    /// `created_at` as parsed.
    pub at: NaiveDateTime,
    /// `created_at` as the database compares it.
    pub at_text: String,
}

/// Why a cursor could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this server issued")]
pub struct CursorError;

const VERSION: &str = "v1";

/// Seals a position as opaque text: `tag:key:time`, base64url.
pub(crate) fn seal(tag: &str, key: &str, time: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}:{key}:{time}"))
}

/// Opens text made by [`seal`] with the same tag: the key and the time as stored.
pub(crate) fn open(tag: &str, text: &str) -> Result<(String, String), CursorError> {
    if text.len() > 256 {
        return Err(CursorError);
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
    let raw = String::from_utf8(bytes).map_err(|_| CursorError)?;
    let mut parts = raw.splitn(3, ':');
    if parts.next() != Some(tag) {
        return Err(CursorError);
    }
    let key = parts.next().ok_or(CursorError)?.to_owned();
    let time = parts.next().ok_or(CursorError)?.to_owned();
    // A time no stored row can have is no position this server issued (and PostgreSQL would
    // refuse to compare with it).
    parse_db_time(&time)
        .filter(|at| *at >= EARLIEST_STORED)
        .ok_or(CursorError)?;
    Ok((key, time))
}

impl Cursor {
    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        seal(VERSION, &self.id.to_string(), &self.at_text)
    }

    /// Reads a cursor produced by [`Cursor::encode`].
    pub fn decode(text: &str) -> Result<Cursor, CursorError> {
        let (id, at_text) = open(VERSION, text)?;
        let id = id.parse::<i64>().map_err(|_| CursorError)?;
        let at = parse_db_time(&at_text).ok_or(CursorError)?;
        Ok(Cursor { id, at, at_text })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            id: 42,
            at: parse_db_time("2026-01-02 03:04:05.5").expect("time"),
            at_text: "2026-01-02 03:04:05.5".into(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        for bad in ["", "abc", "djE6eDp5", "!!!", &"A".repeat(300)] {
            assert_eq!(Cursor::decode(bad), Err(CursorError), "{bad}");
        }
    }
}

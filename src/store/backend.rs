//! Everything in the store's SQL that differs between SQLite and PostgreSQL.
//!
//! Values whose storage differs (UUIDs, times) are the value types of [`entity::stored`]; this
//! module holds the expressions: reading a key of a `description`, ASCII case folding, the
//! parsed-description lateral. Statements are written once over these, for both backends.

use chrono::NaiveDateTime;
use entity::stored::{StoredTime, StoredUuid};
use sea_orm::DbBackend;
use sea_orm::sea_query::{Alias, Asterisk, Expr, Func, JoinType, Query, SelectStatement};
use uuid::Uuid;

use super::events::NewEventRow;
use super::report::TimeBucket;
use super::time::{format_db_time, truncate_to_micros};

/// The two supported backends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: `user_id` and `created_at` are TEXT.
    Sqlite,
    /// PostgreSQL: `user_id` is `uuid`, `created_at` is `timestamp`.
    Postgres,
}

/// `A-Z` and `a-z`, for PostgreSQL's `translate`, whose `lower` folds by the database's locale.
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";

impl Dialect {
    /// sea-orm's name for this backend.
    pub fn backend(self) -> DbBackend {
        match self {
            Dialect::Sqlite => DbBackend::Sqlite,
            Dialect::Postgres => DbBackend::Postgres,
        }
    }

    /// A UUID as this backend stores it.
    pub(crate) fn uuid(self, id: Uuid) -> sea_orm::Value {
        StoredUuid::bind(id, self.backend())
    }

    /// A UTC time as a bound to compare stored times with ([`StoredTime::bound`]).
    pub(crate) fn bound(self, t: NaiveDateTime) -> sea_orm::Value {
        StoredTime::bound(t, self.backend())
    }

    /// A UTC time as this backend stores it.
    pub(crate) fn time(self, t: NaiveDateTime) -> sea_orm::Value {
        StoredTime::bind(t, self.backend())
    }

    /// A stored time as keyset positions compare it: on SQLite the stored text itself (so that
    /// another spelling of the same instant neither skips nor repeats a row), else the instant.
    pub(crate) fn position(self, at: NaiveDateTime, text: &str) -> sea_orm::Value {
        match self {
            Dialect::Sqlite => sea_orm::Value::String(Some(text.to_owned())),
            Dialect::Postgres => sea_orm::Value::ChronoDateTime(Some(at)),
        }
    }

    /// A new event's values in the order `user_id, ipaddr, user_agent, event_name,
    /// description, created_at`, as this backend stores them.
    pub(crate) fn event_values(self, row: &NewEventRow) -> [sea_orm::Value; 6] {
        let user_id = match row.user_id {
            Some(id) => self.uuid(id),
            None => StoredUuid::null(self.backend()),
        };
        [
            user_id,
            row.ipaddr.clone().into(),
            row.user_agent.clone().into(),
            row.event_name.clone().into(),
            row.description.clone().into(),
            self.time(truncate_to_micros(row.created_at)),
        ]
    }

    /// Whether `needle`, folded to ASCII lower case, occurs in `haystack` folded alike: the
    /// same answer on both backends, whatever the database's locale.
    pub(crate) fn contains_folded(self, haystack: Expr, needle: &str) -> Expr {
        let needle = Expr::val(needle.to_ascii_lowercase());
        match self {
            Dialect::Sqlite => Expr::cust_with_exprs("instr(lower(?), ?) > 0", [haystack, needle]),
            Dialect::Postgres => Expr::cust_with_exprs(
                format!("strpos(translate($1, '{UPPER}', '{LOWER}'), $2) > 0"),
                [haystack, needle],
            ),
        }
    }

    /// Whether `haystack` holds `needle` as it is (case and all).
    pub(crate) fn contains(self, haystack: Expr, needle: &str) -> Expr {
        let needle = Expr::val(needle);
        match self {
            Dialect::Sqlite => Expr::cust_with_exprs("instr(?, ?) > 0", [haystack, needle]),
            Dialect::Postgres => Expr::cust_with_exprs("strpos($1, $2) > 0", [haystack, needle]),
        }
    }

    /// The string value of `key` in the JSON object held by `column` as text; NULL when the
    /// text is not a JSON object or the value is not a string. On PostgreSQL a cheap text test
    /// runs first, so that the guarded parse runs only where the key may be.
    pub(crate) fn json_text_where_present(self, column: &str, key: &str) -> Expr {
        match self {
            Dialect::Sqlite => Expr::cust(format!(
                "(CASE WHEN json_valid({column}) AND json_type({column}, '$.{key}') = 'text' \
                 THEN json_extract({column}, '$.{key}') END)"
            )),
            Dialect::Postgres => Expr::cust(format!(
                "(CASE WHEN {} THEN user_events_json_text({column}, '{key}') END)",
                migration::may_have_keys(column, &[key])
            )),
        }
    }

    // Readers of one key of a description. Each gives NULL when the description is not a JSON
    // object or the key holds another type. On SQLite they read the text; on PostgreSQL they
    // read the row's parsed description `j`, which `join_parsed_description` brings into scope.

    /// The string under `key` of `column`.
    pub(crate) fn json_string(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(CASE WHEN json_valid({column}) THEN CASE \
                 WHEN json_type({column}, '$.{key}') = 'text' \
                 THEN json_extract({column}, '$.{key}') END END)"
            ),
            Dialect::Postgres => migration::pg_json_string("j", key),
        }
    }

    /// The string under `key` of `column`, trimmed and upper-cased: how a word-like value (an
    /// auth method, a sharing status) is compared.
    pub(crate) fn json_word(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!("upper(trim({}))", self.json_string(column, key)),
            Dialect::Postgres => migration::pg_json_word("j", key),
        }
    }

    /// The string or the integer under `key` of `column`, as text (an identifier).
    pub(crate) fn json_id(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(CASE WHEN json_valid({column}) THEN CASE \
                 WHEN json_type({column}, '$.{key}') IN ('integer', 'text') \
                 THEN CAST(json_extract({column}, '$.{key}') AS TEXT) END END)"
            ),
            Dialect::Postgres => migration::pg_json_id("j", key),
        }
    }

    /// What an event's description reports of `measure`, as an expression over the event's row
    /// (after [`Dialect::join_usage`]): null where it reports none. A number under `cpu` or
    /// `memory` counts; `gpu` counts when it is a whole number. On PostgreSQL this is a column
    /// of the migrations' `user_events_usage` function, the one definition the usage rollups'
    /// triggers also call; on SQLite the JSON readers inline.
    pub(crate) fn usage(self, measure: Usage) -> String {
        let key = measure.key();
        match (self, measure) {
            (Dialect::Postgres, _) => format!("{USAGE}.{key}"),
            (Dialect::Sqlite, Usage::Cpu | Usage::Memory) => format!(
                "(CASE WHEN json_valid(description) THEN CASE \
                 WHEN json_type(description, '$.{key}') IN ('integer', 'real') \
                 THEN json_extract(description, '$.{key}') END END)"
            ),
            (Dialect::Sqlite, Usage::Gpu) => format!(
                "(CASE WHEN json_valid(description) THEN CASE \
                 WHEN json_type(description, '$.{key}') = 'integer' \
                 THEN json_extract(description, '$.{key}') \
                 WHEN json_type(description, '$.{key}') = 'real' \
                 AND json_extract(description, '$.{key}') = CAST(json_extract(description, '$.{key}') AS INTEGER) \
                 THEN CAST(json_extract(description, '$.{key}') AS INTEGER) END END)"
            ),
        }
    }

    /// Joins what each event's description reports of its usage (see [`Dialect::usage`]):
    /// PostgreSQL calls `user_events_usage` once per row; SQLite needs no join.
    pub(crate) fn join_usage(self, select: &mut SelectStatement) {
        if self == Dialect::Postgres {
            select.join_lateral(
                JoinType::InnerJoin,
                Query::select()
                    .column(Asterisk)
                    .from_function(
                        Func::cust(Alias::new("user_events_usage"))
                            .arg(Expr::col(Alias::new("description"))),
                        Alias::new("reported"),
                    )
                    .to_owned(),
                Alias::new(USAGE),
                Expr::cust("TRUE"),
            );
        }
    }

    /// Whether `key` of `column` holds `true`, as a boolean.
    pub(crate) fn json_is_true(self, column: &str, key: &str) -> String {
        match self {
            Dialect::Sqlite => format!(
                "(CASE WHEN json_valid({column}) THEN \
                 COALESCE(json_type({column}, '$.{key}') = 'true', 0) ELSE 0 END)"
            ),
            Dialect::Postgres => migration::pg_json_is_true("j", key),
        }
    }

    /// The sum of a float expression over a group, 0 for none.
    pub(crate) fn float_total(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite => format!("TOTAL({expression})"),
            Dialect::Postgres => format!("COALESCE(SUM({expression}), 0)::float8"),
        }
    }

    /// The sum of an integer expression over a group, 0 for none.
    pub(crate) fn integer_total(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite => format!("COALESCE(SUM({expression}), 0)"),
            Dialect::Postgres => format!("COALESCE(SUM({expression}), 0)::bigint"),
        }
    }

    /// Whether the description may hold one of `keys`, as a cheap test before the parse: on
    /// PostgreSQL, [`migration::may_have_keys`]; always true on SQLite, whose readers need no parse.
    pub(crate) fn may_have_keys(self, column: &str, keys: &[&str]) -> String {
        match self {
            Dialect::Sqlite => "1 = 1".into(),
            Dialect::Postgres => migration::may_have_keys(column, keys),
        }
    }

    /// An integer expression read back as 64 bits (integer literals are 32-bit on PostgreSQL).
    pub(crate) fn bigint(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite => expression.to_owned(),
            Dialect::Postgres => format!("({expression})::bigint"),
        }
    }

    /// `=` that holds for two NULLs too.
    pub(crate) fn same(self) -> &'static str {
        match self {
            Dialect::Sqlite => " IS ",
            Dialect::Postgres => " IS NOT DISTINCT FROM ",
        }
    }

    /// What follows a text sort key so that text sorts by bytes, as SQLite does.
    pub(crate) fn byte_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " COLLATE \"C\"",
        }
    }

    /// A time as an SQL literal compared with stored times (the server's own formatting:
    /// digits and separators only).
    pub(crate) fn time_literal(self, t: NaiveDateTime) -> String {
        let text = format_db_time(t);
        match self {
            Dialect::Sqlite => format!("'{text}'"),
            Dialect::Postgres => format!("TIMESTAMP '{text}'"),
        }
    }

    /// The local start of the bucket of `time` shifted by `offset` seconds (an SQL
    /// expression, or `None` when every offset is 0): text `YYYY-MM-DD[ HH:MM:SS]` on SQLite, a
    /// timestamp on PostgreSQL.
    pub(crate) fn bucket_start(
        self,
        bucket: TimeBucket,
        time: &str,
        offset: Option<&str>,
    ) -> String {
        match self {
            Dialect::Sqlite => {
                let (head, tail) = match bucket {
                    TimeBucket::Hour => ("strftime('%Y-%m-%d %H:00:00', ", ")"),
                    TimeBucket::Day => ("date(", ")"),
                    TimeBucket::Week => ("date(", ", '-6 days', 'weekday 1')"),
                    TimeBucket::Month => ("strftime('%Y-%m-01', ", ")"),
                };
                let offset = offset.unwrap_or("0");
                format!("{head}datetime({time}, {offset} || ' seconds'){tail}")
            }
            Dialect::Postgres => {
                let unit = match bucket {
                    TimeBucket::Hour => "hour",
                    TimeBucket::Day => "day",
                    TimeBucket::Week => "week",
                    TimeBucket::Month => "month",
                };
                match offset {
                    None => format!("date_trunc('{unit}', {time})"),
                    Some(offset) => {
                        format!("date_trunc('{unit}', {time} + {offset} * interval '1 second')")
                    }
                }
            }
        }
    }

    /// On PostgreSQL, joins each row of `select` with its description parsed as `j` (NULL when
    /// it is not a JSON object), under `alias`, parsed only where `when` holds if given:
    /// `INNER JOIN LATERAL (SELECT ... AS j OFFSET 0) AS alias ON TRUE`. Nothing on SQLite,
    /// whose JSON functions read the text directly.
    ///
    /// `OFFSET 0` keeps the subquery from being pulled up into the outer query: pulled up,
    /// PostgreSQL parses the description again for every expression that uses `j`, which
    /// measured 2.7x slower for the login report on 1M events.
    pub(crate) fn join_parsed_description(
        self,
        select: &mut SelectStatement,
        column: &str,
        when: Option<&str>,
        alias: &str,
    ) {
        if self == Dialect::Postgres {
            let parse = format!("user_events_jsonb({column})");
            let parsed = match when {
                Some(condition) => format!("CASE WHEN {condition} THEN {parse} END"),
                None => parse,
            };
            let parsed = Query::select()
                .expr_as(Expr::cust(parsed), Alias::new("j"))
                .offset(0)
                .to_owned();
            select.join_lateral(
                JoinType::InnerJoin,
                parsed,
                Alias::new(alias),
                Expr::cust("TRUE"),
            );
        }
    }
}

/// The alias of what an event's description reports of its usage (see [`Dialect::usage`]).
const USAGE: &str = "u";

/// A measure of resource usage an event's description may report.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Usage {
    /// vCPUs.
    Cpu,
    /// Memory, GiB.
    Memory,
    /// Whole GPUs.
    Gpu,
}

impl Usage {
    /// Every measure.
    pub(crate) const ALL: [Usage; 3] = [Usage::Cpu, Usage::Memory, Usage::Gpu];

    /// Its key in a description, and its column in the usage rollups.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Usage::Cpu => "cpu",
            Usage::Memory => "memory",
            Usage::Gpu => "gpu",
        }
    }
}

//! A small SQL text builder that numbers placeholders for the backend at hand.
//!
//! The store writes its SQL by hand where the shape of a statement decides its plan (keyset
//! conditions, one placeholder per list value rather than one array, which PostgreSQL's generic
//! plans handle badly), and binds values through sea-orm.

use sea_orm::{Statement, Value};

use super::Dialect;

/// SQL text with its bound values.
#[derive(Debug)]
pub(crate) struct Sql {
    text: String,
    values: Vec<Value>,
    dialect: Dialect,
}

impl Sql {
    pub(crate) fn new(dialect: Dialect) -> Sql {
        Sql {
            text: String::with_capacity(256),
            values: Vec::new(),
            dialect,
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.values.push(value.into());
        match self.dialect {
            Dialect::Sqlite => self.text.push('?'),
            Dialect::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
        }
        self
    }

    /// On PostgreSQL, appends ` CROSS JOIN LATERAL (...) AS {alias}` that gives each row its
    /// description parsed as `j` (NULL when it is not a JSON object), parsed only where `when`
    /// holds if given; nothing on SQLite, whose JSON functions read the text directly.
    ///
    /// `OFFSET 0` keeps the subquery from being pulled up into the outer query: pulled up,
    /// PostgreSQL parses the description again for every expression that uses `j`, which
    /// measured 2.7x slower for the login report on 1M events.
    pub(crate) fn push_parsed_description(
        &mut self,
        column: &str,
        when: Option<&str>,
        alias: &str,
    ) -> &mut Sql {
        if self.dialect == Dialect::Postgres {
            let parse = format!("user_events_jsonb({column})");
            let parsed = match when {
                Some(condition) => format!("CASE WHEN {condition} THEN {parse} END"),
                None => parse,
            };
            self.text.push_str(&format!(
                " CROSS JOIN LATERAL (SELECT {parsed} AS j OFFSET 0) AS {alias}"
            ));
        }
        self
    }

    /// PostgreSQL: appends a cheap text test that holds for every description that may have
    /// one of `keys` as a JSON key, so that the costly guarded parse runs only there. A key is
    /// either spelled out in the text or written with `\u` escapes; both pass.
    pub(crate) fn push_may_have_keys(&mut self, column: &str, keys: &[&str]) -> &mut Sql {
        self.text.push('(');
        for key in keys {
            self.text
                .push_str(&format!("strpos({column}, '{key}') > 0 OR "));
        }
        self.text
            .push_str(&format!("strpos({column}, E'\\\\u') > 0)"));
        self
    }

    /// Appends `(p1, p2, ...)` with one placeholder a value; `values` must not be empty.
    pub(crate) fn bind_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Sql {
        self.text.push('(');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(value);
        }
        self.text.push(')');
        self
    }

    pub(crate) fn into_statement(self) -> Statement {
        Statement::from_sql_and_values(self.dialect.backend(), self.text, self.values)
    }
}

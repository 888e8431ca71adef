//! A small SQL text builder that numbers placeholders for the backend at hand.
//!
//! The store writes its SQL by hand where the shape of a statement decides its plan (keyset
//! conditions, one placeholder per list value rather than one array, which PostgreSQL's generic
//! plans handle badly), and binds values through sea-orm.

use std::fmt;

use sea_orm::sea_query::{
    Condition, Expr, PostgresQueryBuilder, QueryBuilder, SqlWriter, SqliteQueryBuilder,
};
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

    /// Appends ` AND condition`; nothing when the condition is empty.
    pub(crate) fn push_and(&mut self, condition: Condition) -> &mut Sql {
        if !condition.is_empty() {
            self.text.push_str(" AND ");
            let expr = Expr::from(condition);
            match self.dialect {
                Dialect::Sqlite => SqliteQueryBuilder.prepare_expr(&expr, self),
                Dialect::Postgres => PostgresQueryBuilder.prepare_expr(&expr, self),
            }
        }
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

    /// The text of SQL that binds no value, to be embedded in another statement.
    pub(crate) fn into_text(self) -> String {
        debug_assert!(self.values.is_empty(), "embedded SQL binds no value");
        self.text
    }

    pub(crate) fn into_statement(self) -> Statement {
        Statement::from_sql_and_values(self.dialect.backend(), self.text, self.values)
    }
}

/// Lets sea-query write an expression into the text, its values bound here.
impl SqlWriter for Sql {
    fn push_param<T: QueryBuilder>(&mut self, value: Value, _: &T) {
        self.bind(value);
    }

    fn as_writer(&mut self) -> &mut dyn fmt::Write {
        self
    }
}

impl fmt::Write for Sql {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.text.push_str(text);
        Ok(())
    }
}

impl fmt::Display for Sql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

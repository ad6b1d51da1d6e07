//! Several PostgreSQL statements as one, so that they cost one round trip: PostgreSQL cannot
//! prepare several statements as one query, as SQLite can, but it runs data-modifying statements
//! inside a WITH clause as parts of one.

use sea_orm::{DbBackend, Statement, Value};

/// `statements` as one: every one but the last as a part of its WITH clause, the last as its
/// body, whose rows it returns (the others' are not). Each part sees the database as it was
/// before the statement began — none sees what another writes — so they must not depend on
/// one another's work or touch the same rows. `None` for fewer than two statements, or when
/// one of them cannot be nested so: a part that is not an INSERT, UPDATE or DELETE (PostgreSQL
/// skips a read nothing uses, and nests nothing else), a WITH of its own, or SQL this cannot
/// renumber the parameters of safely.
pub(super) fn as_one(statements: &[Statement]) -> Option<Statement> {
    if statements.len() < 2 {
        return None;
    }
    nested(statements, |i| format!("together_{i}"))
}

/// `statements` as one whose parts all run and whose body returns the rows the first returns:
/// the first (an update returning its row) as the WITH clause's part [`UPDATED`], the others
/// as parts after it, which read that row there — none sees the others' work in the tables.
/// `None` when one of them cannot be nested (see [`as_one`]).
pub(super) fn chained(mut statements: Vec<Statement>) -> Option<Statement> {
    if statements.is_empty() {
        return None;
    }
    statements.push(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT * FROM {UPDATED}"),
    ));
    nested(&statements, |i| match i {
        0 => UPDATED.to_owned(),
        _ => format!("together_{i}"),
    })
}

/// The name under which the parts of a [`chained`] statement read the row its first updated.
pub(crate) const UPDATED: &str = "updated";

/// Every statement but the last as a part of the WITH clause, named by `name`, the last as its
/// body.
fn nested(statements: &[Statement], name: impl Fn(usize) -> String) -> Option<Statement> {
    let count = statements.len();
    let mut sql = String::from("WITH ");
    let mut values: Vec<Value> = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let own = statement.sql.trim_start();
        let starts = |word: &str| {
            own.get(..word.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(word))
        };
        let last = i + 1 == count;
        let writes = ["INSERT", "UPDATE", "DELETE"].into_iter().any(starts);
        if starts("WITH") || (!last && !writes) {
            return None;
        }
        let renumbered = renumbered(own, values.len())?;
        match last {
            true => {
                // The last part's ", ".
                sql.truncate(sql.len() - 2);
                sql.push(' ');
                sql.push_str(&renumbered);
            }
            false => sql.push_str(&format!("{} AS ({renumbered}), ", name(i))),
        }
        values.extend(statement.values.iter().flat_map(|v| v.0.iter().cloned()));
    }
    Some(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// `sql` with each parameter `$n` made `$(n + offset)`, quoted names and plain string literals
/// left as they are. `None` for SQL this does not read with certainty: a dollar-quoted string,
/// a string with backslash escapes (`E'…'`), a comment, a `$` that is not a parameter (or is
/// part of a name), an unclosed quote.
fn renumbered(sql: &str, offset: usize) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    // The quote a name ('"') or a literal ('\'') is open in, if any. A doubled quote inside
    // either closes it and opens it again, which reads the same.
    let mut open: Option<char> = None;
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        match (open, c) {
            (Some(quote), _) if c == quote => open = None,
            (Some(_), _) => {}
            (None, '"') => open = Some('"'),
            (None, '\'') if previous.eq_ignore_ascii_case(&'e') => return None,
            (None, '\'') => open = Some('\''),
            (None, '-') if previous == '-' => return None,
            (None, '*') if previous == '/' => return None,
            (None, '$') if previous.is_alphanumeric() || previous == '_' => return None,
            (None, '$') => {
                let mut n: usize = 0;
                let mut digits = 0;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n.checked_mul(10)?.checked_add(d as usize)?;
                    digits += 1;
                    chars.next();
                }
                if digits == 0 || n == 0 {
                    return None;
                }
                out.push('$');
                out.push_str(&n.checked_add(offset)?.to_string());
                previous = '0';
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
        previous = c;
    }
    open.is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }

    #[test]
    fn parts_go_in_the_with_clause_their_parameters_numbered_on() {
        let one = as_one(&[
            statement(
                r#"INSERT INTO "notes" ("id", "body") VALUES ($1, $2)"#,
                vec![1i64.into(), "one".into()],
            ),
            statement(
                r#"UPDATE "notes" SET "body" = $1 WHERE "id" = $2"#,
                vec!["uno".into(), 2i64.into()],
            ),
            statement(
                r#"SELECT "id" FROM "notes" WHERE "id" IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
                (0..10i64).map(Value::from).collect(),
            ),
        ])
        .unwrap();
        assert_eq!(
            one.sql,
            r#"WITH together_0 AS (INSERT INTO "notes" ("id", "body") VALUES ($1, $2)), together_1 AS (UPDATE "notes" SET "body" = $3 WHERE "id" = $4) SELECT "id" FROM "notes" WHERE "id" IN ($5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"#
        );
        let values = one.values.unwrap().0;
        assert_eq!(values.len(), 14);
        assert_eq!(values[2], Value::from("uno"));
    }

    #[test]
    fn a_chain_names_its_first_part_and_returns_its_rows() {
        let one = chained(vec![
            statement(
                r#"UPDATE "chat" SET "n" = "n" + 1 WHERE "id" = $1 RETURNING *"#,
                vec![1i64.into()],
            ),
            statement(
                r#"INSERT INTO "message" ("seq") SELECT "n" + $1 FROM "updated""#,
                vec![0i64.into()],
            ),
        ])
        .unwrap();
        assert_eq!(
            one.sql,
            r#"WITH updated AS (UPDATE "chat" SET "n" = "n" + 1 WHERE "id" = $1 RETURNING *), together_1 AS (INSERT INTO "message" ("seq") SELECT "n" + $2 FROM "updated") SELECT * FROM updated"#
        );
        assert_eq!(one.values.unwrap().0.len(), 2);
        assert!(chained(Vec::new()).is_none());
        let read_first = vec![statement("SELECT 1", vec![])];
        assert!(chained(read_first).is_none(), "a read first would not run");
    }

    #[test]
    fn a_queue_s_job_row_nests_in_a_chain() {
        use sea_orm::sea_query::{Alias, Expr, Func, IntoTableRef, OnConflict, Query};
        let job = crate::outbox::JobRow {
            table: ("apalis", "jobs").into_table_ref(),
            columns: vec!["id", "job", "status", "run_at", "idempotency_key"],
            values: vec![
                Expr::val("01J"),
                Expr::val(vec![1u8, 2]),
                Expr::val("Pending"),
                Func::cust("to_timestamp").arg(7i64).into(),
                Expr::val("unread:7"),
            ],
            on_conflict: Some(
                OnConflict::columns(["job_type", "idempotency_key"])
                    .do_nothing()
                    .to_owned(),
            ),
        };
        let from = Query::select().from(Alias::new(UPDATED)).to_owned();
        let insert = job.inserted_from(DbBackend::Postgres, from).unwrap();
        let update = statement(r#"UPDATE "chat" SET "n" = 1 RETURNING *"#, vec![]);
        assert!(chained(vec![update, insert]).is_some());
    }

    #[test]
    fn quoted_names_and_literals_keep_what_looks_like_a_parameter() {
        let one = as_one(&[
            statement(
                r#"INSERT INTO "a$1" (id, status) VALUES ($1, 'Pending $1 ''$2''')"#,
                vec![1i64.into()],
            ),
            statement("SELECT $1", vec![2i64.into()]),
        ])
        .unwrap();
        assert_eq!(
            one.sql,
            r#"WITH together_0 AS (INSERT INTO "a$1" (id, status) VALUES ($1, 'Pending $1 ''$2''')) SELECT $2"#
        );
    }

    #[test]
    fn sql_that_is_not_read_with_certainty_is_left_alone() {
        for sql in [
            r"SELECT E'it\'s'",
            "SELECT 'unclosed",
            r#"SELECT "unclosed"#,
            "SELECT $$text$$",
            "SELECT $x",
            "SELECT $0",
            "SELECT a$1 FROM t",
            "SELECT $1 -- it's",
            "SELECT $1 /* it's */",
            "WITH a AS (SELECT 1) SELECT * FROM a",
        ] {
            let statements = [
                statement(r#"DELETE FROM "notes""#, vec![]),
                statement(sql, vec![]),
            ];
            assert!(as_one(&statements).is_none(), "{sql}");
        }
        let read_first = [
            statement("SELECT 1", vec![]),
            statement(r#"DELETE FROM "notes""#, vec![]),
        ];
        assert!(
            as_one(&read_first).is_none(),
            "a part nothing reads would not run"
        );
        assert!(as_one(&[statement("SELECT 1", vec![])]).is_none());
        let values_first = [
            statement("VALUES (1)", vec![]),
            statement(r#"DELETE FROM "notes""#, vec![]),
        ];
        assert!(as_one(&values_first).is_none(), "only writes are parts");
    }
}

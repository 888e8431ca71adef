//! Summaries forget the events of partitions that are dropped or detached (PostgreSQL, when
//! `user_events` is partitioned by range of `created_at`, as pg_partman makes it).
//!
//! Dropping or detaching a partition removes its events without firing a trigger, so the
//! summaries would go on counting them. `user_events_partitions_seen` keeps the time ranges the
//! partitions covered when last looked at; `user_events_forget_dropped()`, run by the server's
//! maintenance under the folds' lock (and once here), compares them with the partitions of now
//! and deletes the summary rows of every range no partition covers any more: hours, days and
//! the two summaries of single events by their start or time, and months wholly inside. A month
//! partly dropped is rebuilt from its days already folded, exactly what was carried into it.
//! Exact for partitions of whole UTC days (daily, weekly, monthly); the daily rows of a day
//! partly dropped (hourly partitions) are not rebuilt. A range that the default partition (if
//! any) holds events of is left as it is, with a warning, and looked at again each time. A
//! partition attached with events in it is not counted (a warning says so). Not noticed: the
//! default partition dropped, partitions of a partition, rows removed from a partition
//! directly. A table that is not partitioned by `created_at` covers every time.
//!
//! Raw SQL: PostgreSQL's catalog (`pg_inherits`, partition bounds) and a function of its own.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Installs the record of covered ranges and the function that forgets dropped ones.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// What the server's maintenance runs.
pub const POSTGRES_FORGET_DROPPED: &str = "SELECT user_events_forget_dropped()";

const UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS user_events_partitions_seen (
         one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
         covered TSMULTIRANGE NOT NULL
     )",
    // The time ranges the partitions of user_events cover now.
    r"CREATE OR REPLACE FUNCTION user_events_covered() RETURNS tsmultirange
     LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
     SELECT CASE
         WHEN (SELECT relkind FROM pg_class WHERE oid = 'user_events'::regclass) <> 'p'
           OR pg_get_partkeydef('user_events'::regclass) <> 'RANGE (created_at)'
         THEN '{(,)}'::tsmultirange
         ELSE coalesce((
             SELECT range_agg(tsrange(
                 CASE WHEN b[1] = 'MINVALUE' THEN NULL ELSE b[1]::timestamp END,
                 CASE WHEN b[2] = 'MAXVALUE' THEN NULL ELSE b[2]::timestamp END))
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid,
             regexp_match(pg_get_expr(c.relpartbound, c.oid),
                          'FROM \(''?([^'')]*)''?\) TO \(''?([^'')]*)''?\)') AS b
             WHERE i.inhparent = 'user_events'::regclass AND b IS NOT NULL), '{}'::tsmultirange)
     END
     $$",
    r"CREATE OR REPLACE FUNCTION user_events_forget_dropped() RETURNS void
     LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     DECLARE
         now_covered tsmultirange := user_events_covered();
         was tsmultirange;
         gone tsrange;
         added tsrange;
         kept_back tsmultirange := '{}'::tsmultirange;
         fallback regclass;
         kept boolean;
         lo timestamp;
         hi timestamp;
         m timestamp;
     BEGIN
         SELECT covered INTO was FROM user_events_partitions_seen;
         IF was IS NULL THEN
             INSERT INTO user_events_partitions_seen (covered) VALUES (now_covered);
             RETURN;
         END IF;
         IF was = now_covered THEN
             RETURN;
         END IF;
         SELECT c.oid::regclass INTO fallback FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'user_events'::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
         FOR gone IN SELECT unnest(was - now_covered) LOOP
             lo := coalesce(lower(gone), '-infinity'::timestamp);
             hi := coalesce(upper(gone), 'infinity'::timestamp);
             -- Events of the range that the default partition holds are still there: their
             -- summaries cannot be told from the dropped ones', so the range is left as it is.
             IF fallback IS NOT NULL THEN
                 EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE created_at >= $1 AND created_at < $2)', fallback)
                     INTO kept USING lo, hi;
                 IF kept THEN
                     RAISE WARNING 'user_events: the default partition holds events from % to %, '
                         'so the summaries of that range still count the events dropped there', lo, hi;
                     -- Looked at again next time, until the default partition holds none.
                     kept_back := kept_back + tsmultirange(gone);
                     CONTINUE;
                 END IF;
             END IF;
             DELETE FROM user_events_hourly WHERE hour_start >= lo AND hour_start < hi;
             DELETE FROM user_events_usage_hourly WHERE hour_start >= lo AND hour_start < hi;
             DELETE FROM user_events_logins_hourly WHERE hour_start >= lo AND hour_start < hi;
             DELETE FROM user_events_login_sets WHERE hour_start >= lo AND hour_start < hi;
             DELETE FROM user_events_daily WHERE day_start >= lo AND day_start < hi;
             DELETE FROM user_events_usage_daily WHERE day_start >= lo AND day_start < hi;
             DELETE FROM user_events_keys_daily WHERE day_start >= lo AND day_start < hi;
             DELETE FROM user_events_sharing WHERE created_at >= lo AND created_at < hi;
             DELETE FROM user_events_user_updates WHERE created_at >= lo AND created_at < hi;
             DELETE FROM user_events_keys_monthly
                 WHERE month_start >= lo AND month_start + INTERVAL '1 month' <= hi;
             -- The months the range cuts: their days already folded are what was carried.
             FOR m IN SELECT DISTINCT date_trunc('month', t) FROM unnest(ARRAY[lo, hi]) AS t
                      WHERE isfinite(t) AND date_trunc('month', t) <> t LOOP
                 DELETE FROM user_events_keys_monthly WHERE month_start = m;
                 INSERT INTO user_events_keys_monthly
                     (month_start, origin, user_key, ipaddr, user_agent, n, fresh)
                 SELECT m, origin, user_key, ipaddr, user_agent, SUM(n), false
                 FROM user_events_keys_daily
                 WHERE NOT fresh AND day_start >= m AND day_start < m + INTERVAL '1 month'
                 GROUP BY origin, user_key, ipaddr, user_agent
                 HAVING SUM(n) <> 0;
             END LOOP;
         END LOOP;
         -- A partition attached with events in it was never counted by the triggers.
         FOR added IN SELECT unnest(now_covered - was) LOOP
             IF EXISTS (SELECT 1 FROM user_events
                        WHERE created_at >= coalesce(lower(added), '-infinity'::timestamp)
                          AND created_at < coalesce(upper(added), 'infinity'::timestamp)) THEN
                 RAISE WARNING 'user_events: a partition attached from % to % holds events that '
                     'the summaries do not count; insert them through user_events instead',
                     lower(added), upper(added);
             END IF;
         END LOOP;
         UPDATE user_events_partitions_seen SET covered = now_covered + kept_back;
     END
     $$",
    POSTGRES_FORGET_DROPPED,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for statement in UP {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared(
            "DROP FUNCTION IF EXISTS user_events_forget_dropped(); \
             DROP FUNCTION IF EXISTS user_events_covered(); \
             DROP TABLE IF EXISTS user_events_partitions_seen",
        )
        .await?;
        Ok(())
    }
}

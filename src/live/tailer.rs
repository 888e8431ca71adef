//! The tailer: reads rows above the watermark in id order and publishes them.
//!
//! On SQLite one writer at a time commits, so ids become visible in order and a missing id
//! (a rolled-back insert, a deleted row) is simply gone.
//!
//! On PostgreSQL a transaction that took id 100 may commit after the one that took 101. When a
//! read shows a gap below a visible id `h`, every transaction that took one of the missing ids
//! called `nextval` before the one that took `h`, which had committed: so each was either
//! running when the gap was seen, or already over. The tailer notes the transactions running
//! then (their virtual transaction ids, which every transaction has from its first statement,
//! written or not) and publishes nothing past the gap until all of them have ended; it then reads
//! the range again, publishes what committed, and only then treats what is still missing as
//! never to appear. This assumes the id sequence hands out values in order across sessions
//! (PostgreSQL's default sequence cache of 1).
//!
//! With a standby, rows are read there, and only once it has replayed everything the primary
//! had when the tailer was woken (or, past the standby's lag bound, from the primary, after
//! which reads stay on the primary until the standby has replayed as far). A standby replays
//! commits in the primary's order, so what it shows is what the primary showed at some moment,
//! and the reasoning above holds; the running transactions are always the primary's.

use std::time::Duration;

use tokio::sync::watch;

use super::{Live, SAFETY_NET, SQLITE_POLL, stopped};
use crate::store::{Dialect, EventFilter, StandbyWait, Store, StoreError};

/// Rows read, and published as one batch, at a time.
pub const BATCH: u64 = 256;
/// How soon to look again while a gap waits for transactions to end, or the standby for
/// replay.
const GAP_RETRY: Duration = Duration::from_millis(5);
/// The longest a catch-up may take before its reads are given up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The channel the notify trigger signals on.
pub const CHANNEL: &str = "user_events_created";
/// The channel PostgreSQL notifies when a token is created or revoked.
pub const TOKENS_CHANNEL: &str = "api_tokens_changed";

/// What the tailer waits for between two reads.
struct State {
    /// A gap it may not publish past yet.
    gap: Option<Gap>,
    /// The standby's replay of what the primary had when the catch-up began.
    standby: Option<StandbyWait>,
    /// Whether to look again soon: notifications may have come while it waited.
    again: bool,
}

/// A gap below `horizon`, waiting for the transactions that were running when it was seen.
struct Gap {
    horizon: i64,
    running: Vec<String>,
    /// Whether every one of them has ended.
    over: bool,
}

/// Starts the tailer task; on PostgreSQL it listens first, so no wake-up is lost.
pub(super) async fn spawn(
    live: Live,
    store: Store,
    database_url: String,
) -> Result<(), StoreError> {
    let listener = match store.dialect() {
        Dialect::Postgres => {
            let mut listener = sea_orm::sqlx::postgres::PgListener::connect(&database_url)
                .await
                .map_err(|e| StoreError::Unreachable(e.to_string()))?;
            listener
                .listen_all([CHANNEL, TOKENS_CHANNEL])
                .await
                .map_err(|e| StoreError::Unreachable(e.to_string()))?;
            Some(listener)
        }
        Dialect::Sqlite => None,
    };
    tokio::spawn(run(live, store, listener));
    Ok(())
}

async fn run(live: Live, store: Store, mut listener: Option<sea_orm::sqlx::postgres::PgListener>) {
    let mut stop: watch::Receiver<bool> = live.inner.stop.subscribe();
    let mut state = State {
        gap: None,
        standby: None,
        again: false,
    };
    let idle = match store.dialect() {
        Dialect::Sqlite => SQLITE_POLL,
        Dialect::Postgres => SAFETY_NET,
    };
    loop {
        let wait = match state.gap.is_some() || state.standby.is_some() || state.again {
            true => GAP_RETRY,
            false => idle,
        };
        tokio::select! {
            () = stopped(&mut stop) => break,
            () = live.inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            notification = recv(&mut listener) => {
                match notification {
                    Ok(channel) if channel == TOKENS_CHANNEL => {
                        live.tokens_changed();
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        // Notifications may have been missed meanwhile.
                        live.tokens_changed();
                        tracing::warn!(%error, "listening for new events failed; reading on a timer until it is back");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
        // A standby host that stops answering leaves a read hanging with no error: past the
        // bound, the read is given up and reads go to the primary.
        match tokio::time::timeout(READ_TIMEOUT, catch_up(&live, &store, &mut state)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading new events failed; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(_) => {
                tracing::warn!("reading new events took over 10 s; reading the primary");
                store.standby_stalled();
            }
        }
    }
}

/// The channel of the next notification.
async fn recv(
    listener: &mut Option<sea_orm::sqlx::postgres::PgListener>,
) -> Result<String, sea_orm::sqlx::Error> {
    match listener {
        Some(listener) => listener.recv().await.map(|n| n.channel().to_string()),
        None => std::future::pending().await,
    }
}

/// Publishes every row that can be published now, in id order. With a standby, rows are read
/// there once it has replayed what the primary had when the catch-up began (or from the
/// primary if it lags past its bound), all of one catch-up from the same server, and each
/// batch is noted before it is published so that a read never shows less than a subscriber
/// was sent.
async fn catch_up(live: &Live, store: &Store, state: &mut State) -> Result<(), StoreError> {
    if let Some(waiting) = &mut state.gap {
        if !waiting.over {
            if store.any_still_running(&waiting.running).await? {
                return Ok(());
            }
            // Everyone who could fill the gap is done. The reads below see what the primary
            // had after this, so what committed is visible to them, and what is still missing
            // below the horizon never will be.
            waiting.over = true;
        }
    }
    let waited = state.standby.is_some();
    let Some(reads) = store.feed_reads(&mut state.standby).await? else {
        return Ok(());
    };
    // Woken while waiting for the standby: what committed since is looked for again soon.
    state.again = waited;
    if let Some(waiting) = state.gap.take() {
        let mut from = live.watermark();
        loop {
            let rows = reads
                .store
                .events_between(from, waiting.horizon, BATCH)
                .await?;
            let Some(tail) = rows.last().map(|r| r.id) else {
                break;
            };
            store.before_publishing(&reads).await?;
            live.publish(rows);
            from = tail;
        }
        live.advance(waiting.horizon);
    }
    loop {
        let watermark = live.watermark();
        let rows = reads
            .store
            .events_after(watermark, &EventFilter::default(), BATCH)
            .await?;
        let full = rows.len() as u64 == BATCH;
        let horizon = rows.last().map_or(watermark, |r| r.id);
        let mut expected = watermark + 1;
        let mut ready = Vec::with_capacity(rows.len());
        let mut gap_seen = false;
        for row in rows {
            if row.id != expected && store.dialect() == Dialect::Postgres {
                gap_seen = true;
                break;
            }
            expected = row.id + 1;
            ready.push(row);
        }
        if !ready.is_empty() {
            store.before_publishing(&reads).await?;
            live.publish(ready);
        }
        if gap_seen {
            state.gap = Some(Gap {
                horizon,
                running: store.running_transactions().await?,
                over: false,
            });
            return Ok(());
        }
        if !full {
            return Ok(());
        }
    }
}

//! The UTC offsets a bucketed report works with: the zone's segments over the filter's range,
//! cut to the stored range and, over long ranges, to the segments that hold rows.

use chrono::{Duration, NaiveDateTime};
use entity::stored::StoredTime;
use entity::user_events::{Column, Entity as UserEvents};
use jiff::tz::TimeZone;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::MAX_SEGMENTS;
use crate::store::filter::EventFilter;
use crate::store::time::{FIRST_INSTANT, LAST_INSTANT};
use crate::store::zone::{Segment, segments};
use crate::store::{Store, StoreError};

impl Store {
    /// The UTC offsets over the filter's range, within the accepted range of instants and the
    /// stored range. Where that spans more than a few changes of offset, only the segments that
    /// hold rows are kept, found by jumping along the `created_at` index from one segment to
    /// the next row: the segments handed to SQL are bounded by the data, not by the range.
    pub(crate) async fn zone_segments(
        &self,
        filter: &EventFilter,
        zone: &TimeZone,
    ) -> Result<Vec<Segment>, StoreError> {
        /// Segments handed to SQL without asking which hold rows.
        const FEW: usize = 64;
        let within = |from: NaiveDateTime, to: NaiveDateTime| {
            let from = from.clamp(FIRST_INSTANT, LAST_INSTANT);
            (from, to.clamp(FIRST_INSTANT, LAST_INSTANT).max(from))
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            let (from, to) = within(from, to);
            let asked = segments(zone, from, to);
            if asked.len() <= FEW {
                return Ok(asked);
            }
        }
        let (lo, hi) = self.stored_range().await?;
        let (from, to) = within(
            filter.from.map_or(lo, |from| from.max(lo)),
            filter.to.map_or(hi, |to| to.min(hi)),
        );
        let all = segments(zone, from, to);
        if all.len() <= FEW {
            return Ok(all);
        }
        let mut kept: Vec<Segment> = Vec::new();
        let mut at = from;
        while let Some(row) = self.first_stored_from(at, to).await? {
            let index = all.partition_point(|s| s.start <= row).saturating_sub(1);
            if kept.len() == MAX_SEGMENTS {
                return Err(StoreError::TooManyOffsets { most: MAX_SEGMENTS });
            }
            kept.extend(all.get(index).copied());
            match all.get(index + 1) {
                Some(next) => at = next.start,
                None => break,
            }
        }
        if kept.is_empty() {
            kept.extend(all.first().copied());
        }
        Ok(kept)
    }

    /// The oldest `created_at` in `[from, to]`, by the keyset index.
    async fn first_stored_from(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        // MIN alone: with MAX beside it SQLite reads the whole range instead of one index end.
        let first = UserEvents::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::CreatedAt)))
            .filter(Column::CreatedAt.gte(self.dialect.bound(from)))
            .filter(Column::CreatedAt.lte(self.dialect.time(to)))
            .into_tuple::<Option<StoredTime>>()
            .one(self.reads())
            .await?;
        Ok(first.flatten().map(|t| t.at))
    }

    /// The oldest and newest `created_at` (now and now when empty), by the keyset index.
    async fn stored_range(&self) -> Result<(NaiveDateTime, NaiveDateTime), StoreError> {
        let now = chrono::Utc::now().naive_utc();
        let range = UserEvents::find()
            .select_only()
            .expr(Func::min(Expr::col(Column::CreatedAt)))
            .expr(Func::max(Expr::col(Column::CreatedAt)))
            .into_tuple::<(Option<StoredTime>, Option<StoredTime>)>()
            .one(self.reads())
            .await?;
        let (lo, hi) = range.unwrap_or_default();
        let lo = lo.map_or(now, |t| t.at);
        let hi = hi.map_or(now, |t| t.at);
        let hi = hi.checked_add_signed(Duration::seconds(1)).unwrap_or(hi);
        Ok((lo, hi))
    }
}

//! Page-view summaries.

use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;

#[derive(Debug, Serialize, ToSchema)]
pub struct SlugViews {
    pub slug: String,
    pub views: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayViews {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub views: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferrerViews {
    pub referrer: String,
    pub views: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Summary {
    pub days: u32,
    pub total_views: i64,
    /// Views per post, most viewed first (top 50).
    pub posts: Vec<SlugViews>,
    /// Views per day, oldest first.
    pub daily: Vec<DayViews>,
    /// Top referrers (top 20).
    pub referrers: Vec<ReferrerViews>,
}

pub fn summary(conn: &Connection, days: u32, now: i64) -> Result<Summary, StoreError> {
    let since = now - i64::from(days) * 86_400;
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pageviews WHERE time >= ?1",
        [since],
        |r| r.get(0),
    )?;
    let collect = |sql: &str, limit: i64| -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![since, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let posts = collect(
        "SELECT slug, COUNT(*) AS n FROM pageviews WHERE time >= ?1 AND slug IS NOT NULL GROUP BY slug ORDER BY n DESC, slug LIMIT ?2",
        50,
    )?;
    let daily = collect(
        "SELECT date(time, 'unixepoch') AS d, COUNT(*) FROM pageviews WHERE time >= ?1 GROUP BY d ORDER BY d LIMIT ?2",
        i64::from(days) + 1,
    )?;
    let referrers = collect(
        "SELECT referrer, COUNT(*) AS n FROM pageviews WHERE time >= ?1 AND referrer IS NOT NULL GROUP BY referrer ORDER BY n DESC, referrer LIMIT ?2",
        20,
    )?;
    Ok(Summary {
        days,
        total_views: total,
        posts: posts
            .into_iter()
            .map(|(slug, views)| SlugViews { slug, views })
            .collect(),
        daily: daily
            .into_iter()
            .map(|(date, views)| DayViews { date, views })
            .collect(),
        referrers: referrers
            .into_iter()
            .map(|(referrer, views)| ReferrerViews { referrer, views })
            .collect(),
    })
}

/// One accepted page view, as stored.
#[derive(Debug, Clone)]
pub struct PageView {
    pub time: i64,
    pub path: String,
    pub slug: Option<String>,
    pub referrer: Option<String>,
}

/// Stores a batch of page views (in the caller's transaction).
pub fn insert_batch(conn: &Connection, views: &[PageView]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO pageviews (time, path, slug, referrer) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for v in views {
        stmt.execute(params![v.time, v.path, v.slug, v.referrer])?;
    }
    Ok(())
}

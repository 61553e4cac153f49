//! Queries over the evidence clusters gave of builds: ready periods and failures per
//! (cluster, component, digest), and the promotions made on it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::models_observed::{EvidenceRow, NewPromotionRow, PromotionRow};
use crate::db::schema::{build_evidence, clusters, promotions};
use crate::db::DbConnection;

/// A cluster reported `digest` of `component` applied and ready at `at`: a new ready period
/// begins unless one is running (not failed, not moved on); other digests' periods end.
pub fn record_ready(
    conn: &mut DbConnection,
    cluster: &str,
    component: &str,
    digest: &str,
    tag: Option<&str>,
    at: NaiveDateTime,
) -> Result<()> {
    let mine = build_evidence::table
        .filter(build_evidence::cluster.eq(cluster))
        .filter(build_evidence::component.eq(component));
    diesel::update(
        mine.filter(build_evidence::digest.ne(digest))
            .filter(build_evidence::ready_until.is_null()),
    )
    .set(build_evidence::ready_until.eq(Some(at)))
    .execute(conn)?;
    let found: Option<EvidenceRow> = mine
        .filter(build_evidence::digest.eq(digest))
        .select(EvidenceRow::as_select())
        .first(conn)
        .optional()?;
    match found {
        None => diesel::insert_into(build_evidence::table)
            .values(EvidenceRow {
                cluster: cluster.to_owned(),
                component: component.to_owned(),
                digest: digest.to_owned(),
                tag: tag.map(str::to_owned),
                ready_since: at,
                ready_until: None,
                failed_at: None,
            })
            .execute(conn)
            .map(drop),
        Some(row) if row.ready_until.is_some() || row.failed_at.is_some() => {
            diesel::update(mine.filter(build_evidence::digest.eq(digest)))
                .set((
                    build_evidence::ready_since.eq(at),
                    build_evidence::ready_until.eq(None::<NaiveDateTime>),
                    build_evidence::failed_at.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)
                .map(drop)
        }
        Some(_) => Ok(()),
    }
}

/// A cluster reported `component` failed at `at`, at `digest` or (without one) at the digest
/// it runs now: that digest's evidence is withdrawn.
pub fn record_failed(
    conn: &mut DbConnection,
    cluster: &str,
    component: &str,
    digest: Option<&str>,
    at: NaiveDateTime,
) -> Result<()> {
    let mine = build_evidence::table
        .filter(build_evidence::cluster.eq(cluster))
        .filter(build_evidence::component.eq(component))
        .filter(build_evidence::failed_at.is_null())
        .into_boxed();
    let target = match digest {
        Some(d) => mine.filter(build_evidence::digest.eq(d.to_owned())),
        None => mine.filter(build_evidence::ready_until.is_null()),
    };
    let keys: Vec<String> = target.select(build_evidence::digest).load(conn)?;
    diesel::update(
        build_evidence::table
            .filter(build_evidence::cluster.eq(cluster))
            .filter(build_evidence::component.eq(component))
            .filter(build_evidence::digest.eq_any(keys)),
    )
    .set(build_evidence::failed_at.eq(Some(at)))
    .execute(conn)
    .map(drop)
}

/// What the clusters of `tier` proved of `digest` of `component`.
pub fn of_tier(conn: &mut DbConnection, tier: &str, component: &str, digest: &str) -> Result<Vec<EvidenceRow>> {
    let names = clusters::table.filter(clusters::tier.eq(tier)).select(clusters::name);
    build_evidence::table
        .filter(build_evidence::component.eq(component))
        .filter(build_evidence::digest.eq(digest))
        .filter(build_evidence::cluster.eq_any(names))
        .order(build_evidence::cluster)
        .select(EvidenceRow::as_select())
        .load(conn)
}

/// What `cluster` proved of `component`, newest period first.
pub fn of_cluster(conn: &mut DbConnection, cluster: &str, component: &str) -> Result<Vec<EvidenceRow>> {
    build_evidence::table
        .filter(build_evidence::cluster.eq(cluster))
        .filter(build_evidence::component.eq(component))
        .order(build_evidence::ready_since.desc())
        .select(EvidenceRow::as_select())
        .load(conn)
}

/// Stores a promotion; its id.
pub fn insert_promotion(conn: &mut DbConnection, row: &NewPromotionRow) -> Result<i64> {
    diesel::insert_into(promotions::table)
        .values(row.clone())
        .execute(conn)?;
    promotions::table
        .select(diesel::dsl::max(promotions::id))
        .first::<Option<i64>>(conn)?
        .ok_or(diesel::result::Error::NotFound)
}

pub fn promotion(conn: &mut DbConnection, id: i64) -> Result<Option<PromotionRow>> {
    promotions::table
        .find(id)
        .select(PromotionRow::as_select())
        .first(conn)
        .optional()
}

/// Promotions older than `before` (all without it), newest first, at most `limit`.
pub fn promotions_page(conn: &mut DbConnection, before: Option<i64>, limit: i64) -> Result<Vec<PromotionRow>> {
    let mut q = promotions::table
        .order(promotions::id.desc())
        .limit(limit)
        .select(PromotionRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(promotions::id.lt(before));
    }
    q.load(conn)
}

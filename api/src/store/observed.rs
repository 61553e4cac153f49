//! Queries over what clusters report: observed objects, the event history, event secrets.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::models_observed::{EventSecretRow, FluxEventRow, NewFluxEventRow, ObservedRow};
use crate::db::schema::{cluster_event_secrets, flux_events, observed};
use crate::db::DbConnection;

/// Runs `$body` on the backend's own connection: `ON CONFLICT DO NOTHING` exists on both
/// backends but not on diesel's multi-backend, and a conflict-free insert is what makes a
/// retried event cost one statement instead of a read and a write.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Sqlite($c) => $body,
            DbConnection::Postgresql($c) => $body,
        }
    };
}

/// Stores an event unless the same one is stored already; whether it was new.
fn insert_event(conn: &mut DbConnection, row: &NewFluxEventRow) -> Result<bool> {
    let n = on_backend!(conn, |c| diesel::insert_into(flux_events::table)
        .values(row)
        .on_conflict((flux_events::cluster, flux_events::event_key))
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Creates an object's observed row unless it exists; whether it was created.
fn insert_observed(conn: &mut DbConnection, row: &ObservedRow) -> Result<bool> {
    let n = on_backend!(conn, |c| diesel::insert_into(observed::table)
        .values(row)
        .on_conflict((observed::cluster, observed::kind, observed::namespace, observed::name))
        .do_nothing()
        .execute(c))?;
    Ok(n == 1)
}

/// Moves an object's observed row to `row`: its state unless a later event is stored already
/// (events can arrive out of order), its applied revision when `row` has one, unless a later
/// success is stored already; `received_at` with either, so what reads changed rows sees the
/// change. Conditional statements, so concurrent posts cannot regress it.
fn update_observed(conn: &mut DbConnection, row: &ObservedRow) -> Result<()> {
    let object = || {
        observed::table
            .filter(observed::cluster.eq(&row.cluster))
            .filter(observed::kind.eq(&row.kind))
            .filter(observed::namespace.eq(&row.namespace))
            .filter(observed::name.eq(&row.name))
    };
    diesel::update(object().filter(observed::event_at.le(row.event_at)))
        .set((
            observed::component.eq(&row.component),
            observed::state.eq(&row.state),
            observed::reason.eq(&row.reason),
            observed::message.eq(&row.message),
            observed::last_revision.eq(&row.last_revision),
            observed::event_at.eq(row.event_at),
            observed::received_at.eq(row.received_at),
        ))
        .execute(conn)?;
    if let Some(at) = row.applied_at {
        let earlier = observed::applied_at.is_null().or(observed::applied_at.le(at));
        diesel::update(object().filter(earlier))
            .set((
                observed::applied_revision.eq(&row.applied_revision),
                observed::applied_tag.eq(&row.applied_tag),
                observed::applied_digest.eq(&row.applied_digest),
                observed::applied_at.eq(at),
                observed::received_at.eq(row.received_at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Stores many events, skipping those stored already; the (cluster, key) of each new one.
/// PostgreSQL takes them in one statement; SQLite, in process, one statement each.
pub fn insert_events(conn: &mut DbConnection, rows: &[NewFluxEventRow]) -> Result<Vec<(String, String)>> {
    match conn {
        DbConnection::Postgresql(c) => super::observed_pg::insert_events(c, rows),
        DbConnection::Sqlite(_) => {
            let mut new = Vec::with_capacity(rows.len());
            for row in rows {
                if insert_event(conn, row)? {
                    new.push((row.cluster.clone(), row.event_key.clone()));
                }
            }
            Ok(new)
        }
    }
}

/// Creates or moves the observed rows of distinct objects, as [`update_observed`] does.
pub fn upsert_observed(conn: &mut DbConnection, rows: &[ObservedRow]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => super::observed_pg::upsert_observed(c, rows),
        DbConnection::Sqlite(_) => {
            for row in rows {
                if !insert_observed(conn, row)? {
                    update_observed(conn, row)?;
                }
            }
            Ok(())
        }
    }
}

/// Every observed object of one cluster.
pub fn observed_of(conn: &mut DbConnection, cluster: &str) -> Result<Vec<ObservedRow>> {
    observed::table
        .filter(observed::cluster.eq(cluster))
        .order((observed::kind, observed::namespace, observed::name))
        .select(ObservedRow::as_select())
        .load(conn)
}

/// Observed objects taken in at or after `since` (all of them without it).
pub fn observed_since(conn: &mut DbConnection, since: Option<NaiveDateTime>) -> Result<Vec<ObservedRow>> {
    let mut q = observed::table.select(ObservedRow::as_select()).into_boxed();
    if let Some(since) = since {
        q = q.filter(observed::received_at.ge(since));
    }
    q.load(conn)
}

/// The observed objects of `kind` on these clusters.
pub fn observed_on(conn: &mut DbConnection, clusters: &[&str], kind: &str) -> Result<Vec<ObservedRow>> {
    observed::table
        .filter(observed::cluster.eq_any(clusters))
        .filter(observed::kind.eq(kind))
        .select(ObservedRow::as_select())
        .load(conn)
}

/// A cluster's events, newest first, older than the event `before` when given.
pub fn events(conn: &mut DbConnection, cluster: &str, before: Option<i64>, limit: i64) -> Result<Vec<FluxEventRow>> {
    let mut q = flux_events::table
        .filter(flux_events::cluster.eq(cluster))
        .select(FluxEventRow::as_select())
        .order(flux_events::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(flux_events::id.lt(before));
    }
    q.load(conn)
}

/// Deletes all but the newest `keep` events of a cluster, in one statement; how many went.
pub fn prune_events(conn: &mut DbConnection, cluster: &str, keep: i64) -> Result<usize> {
    let kept = diesel::alias!(flux_events as kept);
    let oldest_kept = kept
        .filter(kept.field(flux_events::cluster).eq(cluster))
        .select(kept.field(flux_events::id))
        .order(kept.field(flux_events::id).desc())
        .offset(keep - 1)
        .single_value();
    diesel::delete(
        flux_events::table
            .filter(flux_events::cluster.eq(cluster))
            .filter(flux_events::id.nullable().lt(oldest_kept)),
    )
    .execute(conn)
}

pub fn event_secret(conn: &mut DbConnection, cluster: &str) -> Result<Option<String>> {
    cluster_event_secrets::table
        .find(cluster)
        .select(cluster_event_secrets::secret)
        .first(conn)
        .optional()
}

/// Sets a cluster's event secret, replacing the one it had.
pub fn put_event_secret(conn: &mut DbConnection, row: &EventSecretRow) -> Result<()> {
    delete_event_secret(conn, &row.cluster)?;
    diesel::insert_into(cluster_event_secrets::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn delete_event_secret(conn: &mut DbConnection, cluster: &str) -> Result<usize> {
    diesel::delete(cluster_event_secrets::table.find(cluster)).execute(conn)
}

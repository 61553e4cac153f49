//! Queries over what clusters report: observed objects, the event history, event secrets.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::Result;
use crate::db::models_observed::{EventSecretRow, FluxEventRow, NewFluxEventRow, ObservedRow};
use crate::db::schema::{cluster_event_secrets, flux_events, observed};
use crate::db::DbConnection;
use crate::service::observed::readiness;

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

/// Creates an object's observed row, or merges `row` into it by the readiness model's rule
/// (see `service::observed::readiness`): one conditional statement, so concurrent posts cannot
/// regress it.
fn upsert_observed_sqlite(c: &mut diesel::SqliteConnection, row: &ObservedRow) -> Result<()> {
    use diesel::sql_types::{Nullable, Text, Timestamp};
    let sql = format!(
        "INSERT INTO observed (cluster, kind, namespace, name, component, state, reason, message, last_revision, \
         applied_revision, applied_tag, applied_digest, event_at, received_at, applied_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?){}",
        readiness::upsert_clause()
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(&row.cluster)
        .bind::<Text, _>(&row.kind)
        .bind::<Text, _>(&row.namespace)
        .bind::<Text, _>(&row.name)
        .bind::<Nullable<Text>, _>(&row.component)
        .bind::<Text, _>(&row.state)
        .bind::<Text, _>(&row.reason)
        .bind::<Text, _>(&row.message)
        .bind::<Nullable<Text>, _>(&row.last_revision)
        .bind::<Nullable<Text>, _>(&row.applied_revision)
        .bind::<Nullable<Text>, _>(&row.applied_tag)
        .bind::<Nullable<Text>, _>(&row.applied_digest)
        .bind::<Timestamp, _>(row.event_at)
        .bind::<Timestamp, _>(row.received_at)
        .bind::<Nullable<Timestamp>, _>(row.applied_at)
        .execute(c)
        .map(drop)
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

/// Creates or merges the observed rows of distinct objects by the readiness model's rule.
pub fn upsert_observed(conn: &mut DbConnection, rows: &[ObservedRow]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => super::observed_pg::upsert_observed(c, rows),
        DbConnection::Sqlite(c) => {
            for row in rows {
                upsert_observed_sqlite(c, row)?;
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

/// The ids of the error events `clusters` sent at or after `since` (their own timestamps),
/// oldest first: the evidence a rollback names.
pub fn failure_events(conn: &mut DbConnection, clusters: &[&str], since: NaiveDateTime) -> Result<Vec<i64>> {
    flux_events::table
        .filter(flux_events::cluster.eq_any(clusters))
        .filter(flux_events::severity.eq("error"))
        .filter(flux_events::event_at.ge(since))
        .select(flux_events::id)
        .order(flux_events::id)
        .limit(100)
        .load(conn)
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

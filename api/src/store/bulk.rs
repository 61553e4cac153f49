//! Writes of many rows at once, for writes that reach a whole fleet: PostgreSQL takes each
//! batch as one `unnest` statement (one round trip, planned once per connection); SQLite, in
//! process, runs one cached prepared statement per row, which costs no round trip. Beside
//! them, the fleet-wide reads (every cluster's head or newest revision) such writes and
//! fleet-wide reports start from.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::observed_pg::{optional, text, Column, Shape, Unnest};
use super::Result;
use crate::db::models::{AssignmentInput, AssignmentRow, ClusterRevisionRow, ClusterRow, NewAuditRow};
use crate::db::schema::{assignments, audit_clusters, audit_log, cluster_revisions, clusters};
use crate::db::DbConnection;

/// Rows per PostgreSQL statement: large enough that round trips do not count, small enough
/// that one statement's arrays stay a few megabytes.
const PG_BATCH: usize = 500;

struct InsertRevisions;

impl Shape for InsertRevisions {
    const BEFORE: &'static str = "INSERT INTO cluster_revisions (cluster, revision, effective, sha256, \
        catalog_revision, actor, reason, created_at)";
    fn after() -> &'static str {
        ""
    }
}

struct InsertAudit;

impl Shape for InsertAudit {
    const BEFORE: &'static str = "INSERT INTO audit_log (at, actor, action, target, before, after, request_id)";
    fn after() -> &'static str {
        ""
    }
}

struct InsertAuditLinks;

impl Shape for InsertAuditLinks {
    const BEFORE: &'static str = "INSERT INTO audit_clusters (audit_id, cluster)";
    fn after() -> &'static str {
        ""
    }
}

/// Links an audit entry to the clusters it changed (a release: every cluster it moved).
pub fn insert_audit_links(conn: &mut DbConnection, audit_id: i64, clusters: &[&str]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            for batch in clusters.chunks(PG_BATCH) {
                let columns = vec![Column::BigInt(vec![audit_id; batch.len()]), text(batch, |name| name)];
                Unnest::<InsertAuditLinks>::new(columns).execute(c)?;
            }
            Ok(())
        }
        DbConnection::Sqlite(c) => {
            for batch in clusters.chunks(SQLITE_BATCH) {
                let rows: Vec<_> = batch
                    .iter()
                    .map(|name| (audit_clusters::audit_id.eq(audit_id), audit_clusters::cluster.eq(*name)))
                    .collect();
                diesel::insert_into(audit_clusters::table).values(rows).execute(c)?;
            }
            Ok(())
        }
    }
}

/// Stores new cluster revisions and points each cluster at its new one.
pub fn insert_revisions(conn: &mut DbConnection, rows: &[ClusterRevisionRow], at: NaiveDateTime) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            for batch in rows.chunks(PG_BATCH) {
                let columns = vec![
                    text(batch, |r| &r.cluster),
                    Column::BigInt(batch.iter().map(|r| r.revision).collect()),
                    text(batch, |r| &r.effective),
                    text(batch, |r| &r.sha256),
                    Column::BigInt(batch.iter().map(|r| r.catalog_revision).collect()),
                    text(batch, |r| &r.actor),
                    text(batch, |r| &r.reason),
                    Column::Time(batch.iter().map(|r| r.created_at).collect()),
                ];
                Unnest::<InsertRevisions>::new(columns).execute(c)?;
                let names = text(batch, |r| &r.cluster);
                let revisions = Column::BigInt(batch.iter().map(|r| r.revision).collect());
                Unnest::<SetRevisions>::new(vec![names, revisions, Column::Time(vec![at; batch.len()])]).execute(c)?;
            }
            Ok(())
        }
        DbConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(cluster_revisions::table).values(row).execute(c)?;
                diesel::update(clusters::table.find(&row.cluster))
                    .set((clusters::revision.eq(row.revision), clusters::updated_at.eq(at)))
                    .execute(c)?;
            }
            Ok(())
        }
    }
}

/// `UPDATE … FROM unnest(…)`: each cluster's revision in one statement.
struct SetRevisions;

impl Shape for SetRevisions {
    const BEFORE: &'static str = "UPDATE clusters SET revision = v.revision, updated_at = v.at FROM (";
    fn after() -> &'static str {
        ") AS v(name, revision, at) WHERE clusters.name = v.name"
    }
}

/// Appends audit entries in order.
pub fn insert_audit(conn: &mut DbConnection, rows: &[NewAuditRow]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            for batch in rows.chunks(PG_BATCH) {
                let columns = vec![
                    Column::Time(batch.iter().map(|r| r.at).collect()),
                    text(batch, |r| &r.actor),
                    text(batch, |r| &r.action),
                    text(batch, |r| &r.target),
                    optional(batch, |r| r.before.as_deref()),
                    optional(batch, |r| r.after.as_deref()),
                    text(batch, |r| &r.request_id),
                ];
                // `unnest` keeps the arrays' order, and `WITH ORDINALITY` is not needed: ids
                // come from the sequence in the order rows are inserted.
                Unnest::<InsertAudit>::new(columns).execute(c)?;
            }
            Ok(())
        }
        DbConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(audit_log::table).values(row).execute(c)?;
            }
            Ok(())
        }
    }
}

/// Each cluster's current revision and its fingerprint, without the stored config: what a write
/// re-resolving many clusters compares against before it reads any config.
pub fn current_heads(conn: &mut DbConnection) -> Result<Vec<(String, i64, String)>> {
    cluster_revisions::table
        .inner_join(
            clusters::table.on(clusters::name
                .eq(cluster_revisions::cluster)
                .and(clusters::revision.eq(cluster_revisions::revision))),
        )
        .select((
            cluster_revisions::cluster,
            cluster_revisions::revision,
            cluster_revisions::sha256,
        ))
        .load(conn)
}

/// The current stored config of each named cluster, as (cluster, config JSON).
pub fn current_configs_of(conn: &mut DbConnection, names: &[&str]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(names.len());
    // One statement per few hundred clusters: bounded parameter lists on both backends.
    for batch in names.chunks(PG_BATCH) {
        let rows: Vec<(String, String)> = cluster_revisions::table
            .filter(cluster_revisions::cluster.eq_any(batch))
            .inner_join(
                clusters::table.on(clusters::name
                    .eq(cluster_revisions::cluster)
                    .and(clusters::revision.eq(cluster_revisions::revision))),
            )
            .select((cluster_revisions::cluster, cluster_revisions::effective))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Rows per SQLite multi-row `INSERT`: well under its limit of bound parameters.
const SQLITE_BATCH: usize = 200;

struct InsertClusters;

impl Shape for InsertClusters {
    const BEFORE: &'static str = "INSERT INTO clusters (name, tier, labels, enabled, flux_namespace, oci_tag, \
        revision, created_at, updated_at)";
    fn after() -> &'static str {
        ""
    }
}

struct InsertAssignments;

impl Shape for InsertAssignments {
    const BEFORE: &'static str = "INSERT INTO assignments (cluster, component, enabled, oci_tag, component_path, \
        reason, author, created_at, expires_at)";
    fn after() -> &'static str {
        ""
    }
}

/// Stores new clusters (none of them may exist).
pub fn insert_clusters(conn: &mut DbConnection, rows: &[ClusterRow]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            for batch in rows.chunks(PG_BATCH) {
                let columns = vec![
                    text(batch, |r| &r.name),
                    text(batch, |r| &r.tier),
                    text(batch, |r| &r.labels),
                    Column::Bool(batch.iter().map(|r| r.enabled).collect()),
                    text(batch, |r| &r.flux_namespace),
                    optional(batch, |r| r.oci_tag.as_deref()),
                    Column::BigInt(batch.iter().map(|r| r.revision).collect()),
                    Column::Time(batch.iter().map(|r| r.created_at).collect()),
                    Column::Time(batch.iter().map(|r| r.updated_at).collect()),
                ];
                Unnest::<InsertClusters>::new(columns).execute(c)?;
            }
            Ok(())
        }
        DbConnection::Sqlite(c) => {
            for batch in rows.chunks(SQLITE_BATCH) {
                diesel::insert_into(clusters::table).values(batch).execute(c)?;
            }
            Ok(())
        }
    }
}

/// Stores new assignments (none of them may exist).
pub fn insert_assignments(conn: &mut DbConnection, rows: &[AssignmentRow]) -> Result<()> {
    match conn {
        DbConnection::Postgresql(c) => {
            for batch in rows.chunks(PG_BATCH * 4) {
                let columns = vec![
                    text(batch, |r| &r.cluster),
                    text(batch, |r| &r.component),
                    Column::Bool(batch.iter().map(|r| r.enabled).collect()),
                    optional(batch, |r| r.oci_tag.as_deref()),
                    optional(batch, |r| r.component_path.as_deref()),
                    optional(batch, |r| r.reason.as_deref()),
                    text(batch, |r| &r.author),
                    Column::Time(batch.iter().map(|r| r.created_at).collect()),
                    Column::OptionalTime(batch.iter().map(|r| r.expires_at).collect()),
                ];
                Unnest::<InsertAssignments>::new(columns).execute(c)?;
            }
            Ok(())
        }
        DbConnection::Sqlite(c) => {
            for batch in rows.chunks(SQLITE_BATCH) {
                diesel::insert_into(assignments::table).values(batch).execute(c)?;
            }
            Ok(())
        }
    }
}

/// The newest revision number stored for each cluster name, including clusters since deleted
/// (a cluster made again under the same name goes on from there).
pub fn newest_revisions(conn: &mut DbConnection) -> Result<Vec<(String, Option<i64>)>> {
    cluster_revisions::table
        .group_by(cluster_revisions::cluster)
        .select((
            cluster_revisions::cluster,
            diesel::dsl::max(cluster_revisions::revision),
        ))
        .load(conn)
}

/// What resolution reads of the named clusters' assignments, by cluster then component.
pub fn assignments_of(conn: &mut DbConnection, names: &[&str]) -> Result<Vec<AssignmentInput>> {
    assignments::table
        .filter(assignments::cluster.eq_any(names))
        .order((assignments::cluster, assignments::component))
        .select(AssignmentInput::as_select())
        .load(conn)
}

/// Every revision a cluster ran from `since` on: those stored after it, and each cluster's
/// newest stored at or before it (what it ran when `since` came). As `(cluster, revision,
/// effective)`.
pub fn revisions_live_since(conn: &mut DbConnection, since: NaiveDateTime) -> Result<Vec<(String, i64, String)>> {
    let mut rows: Vec<(String, i64, String)> = cluster_revisions::table
        .filter(cluster_revisions::created_at.gt(since))
        .select((
            cluster_revisions::cluster,
            cluster_revisions::revision,
            cluster_revisions::effective,
        ))
        .load(conn)?;
    let live_at_since: Vec<(String, Option<i64>)> = cluster_revisions::table
        .filter(cluster_revisions::created_at.le(since))
        .group_by(cluster_revisions::cluster)
        .select((
            cluster_revisions::cluster,
            diesel::dsl::max(cluster_revisions::revision),
        ))
        .load(conn)?;
    for (cluster, revision) in live_at_since {
        if let Some(row) = revision
            .map(|r| super::revision(conn, &cluster, r))
            .transpose()?
            .flatten()
        {
            rows.push((row.cluster, row.revision, row.effective));
        }
    }
    Ok(rows)
}

//! Queries over either backend, in terms of rows. One function per question; no business rules.

pub mod bulk;
pub mod effective;
pub mod evidence;
pub mod holds;
pub mod observed;
mod observed_pg;
pub mod registry;
pub mod rollouts;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::models::{
    ArtifactTagRow, AssignmentRow, AuditRow, CatalogRevisionRow, ClusterRevisionRow, ClusterRow, NewAuditRow,
    NewTokenRow, TokenRow,
};
use crate::db::schema::{
    api_tokens, applied_files, artifact_tags, assignments, audit_clusters, audit_log, catalog_revisions,
    cluster_revisions, clusters,
};
use crate::db::DbConnection;

pub type Result<T> = std::result::Result<T, diesel::result::Error>;

pub fn current_catalog(conn: &mut DbConnection) -> Result<Option<CatalogRevisionRow>> {
    catalog_revisions::table
        .order(catalog_revisions::revision.desc())
        .select(CatalogRevisionRow::as_select())
        .first(conn)
        .optional()
}

pub fn current_catalog_revision(conn: &mut DbConnection) -> Result<Option<i64>> {
    catalog_revisions::table
        .select(diesel::dsl::max(catalog_revisions::revision))
        .first(conn)
}

pub fn insert_catalog(conn: &mut DbConnection, row: &CatalogRevisionRow) -> Result<()> {
    diesel::insert_into(catalog_revisions::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn tags(conn: &mut DbConnection, artifact: &str) -> Result<Vec<ArtifactTagRow>> {
    artifact_tags::table
        .filter(artifact_tags::artifact_id.eq(artifact))
        .select(ArtifactTagRow::as_select())
        .load(conn)
}

pub fn tag(conn: &mut DbConnection, artifact: &str, tag: &str) -> Result<Option<ArtifactTagRow>> {
    artifact_tags::table
        .find((artifact, tag))
        .select(ArtifactTagRow::as_select())
        .first(conn)
        .optional()
}

/// How many builds are registered for an artifact.
pub fn tag_count(conn: &mut DbConnection, artifact: &str) -> Result<i64> {
    artifact_tags::table
        .filter(artifact_tags::artifact_id.eq(artifact))
        .count()
        .get_result(conn)
}

pub fn all_tags(conn: &mut DbConnection) -> Result<Vec<ArtifactTagRow>> {
    artifact_tags::table.select(ArtifactTagRow::as_select()).load(conn)
}

pub fn insert_tag(conn: &mut DbConnection, row: &ArtifactTagRow) -> Result<()> {
    diesel::insert_into(artifact_tags::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn set_tag_digest(conn: &mut DbConnection, artifact: &str, tag: &str, digest: &str) -> Result<()> {
    diesel::update(artifact_tags::table.find((artifact, tag)))
        .set(artifact_tags::digest.eq(digest))
        .execute(conn)
        .map(drop)
}

pub fn clusters(conn: &mut DbConnection) -> Result<Vec<ClusterRow>> {
    clusters::table
        .order(clusters::name)
        .select(ClusterRow::as_select())
        .load(conn)
}

pub fn cluster(conn: &mut DbConnection, name: &str) -> Result<Option<ClusterRow>> {
    clusters::table
        .find(name)
        .select(ClusterRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_cluster(conn: &mut DbConnection, row: &ClusterRow) -> Result<()> {
    diesel::insert_into(clusters::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn update_cluster(conn: &mut DbConnection, row: &ClusterRow) -> Result<()> {
    diesel::update(clusters::table.find(&row.name))
        .set(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn set_cluster_revision(conn: &mut DbConnection, name: &str, revision: i64, at: NaiveDateTime) -> Result<()> {
    diesel::update(clusters::table.find(name))
        .set((clusters::revision.eq(revision), clusters::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}

pub fn delete_cluster(conn: &mut DbConnection, name: &str) -> Result<()> {
    rollouts::delete_pins_of_cluster(conn, name)?;
    diesel::delete(assignments::table.filter(assignments::cluster.eq(name))).execute(conn)?;
    diesel::delete(clusters::table.find(name)).execute(conn).map(drop)
}

pub fn assignments(conn: &mut DbConnection, cluster: &str) -> Result<Vec<AssignmentRow>> {
    assignments::table
        .filter(assignments::cluster.eq(cluster))
        .order(assignments::component)
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn all_assignments(conn: &mut DbConnection) -> Result<Vec<AssignmentRow>> {
    assignments::table
        .order((assignments::cluster, assignments::component))
        .select(AssignmentRow::as_select())
        .load(conn)
}

/// The enabled assignments whose tag is decided on the cluster: those with a tag override, and
/// every one on a cluster pinned to a tag. A fleet's plain assignments are not read.
pub fn tag_deciding_assignments(conn: &mut DbConnection) -> Result<Vec<AssignmentRow>> {
    let pinned = clusters::table
        .filter(clusters::oci_tag.is_not_null())
        .select(clusters::name);
    assignments::table
        .filter(assignments::enabled.eq(true))
        .filter(
            assignments::oci_tag
                .is_not_null()
                .or(assignments::cluster.eq_any(pinned)),
        )
        .order((assignments::cluster, assignments::component))
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn assignment(conn: &mut DbConnection, cluster: &str, component: &str) -> Result<Option<AssignmentRow>> {
    assignments::table
        .find((cluster, component))
        .select(AssignmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn clusters_using(conn: &mut DbConnection, component: &str) -> Result<Vec<String>> {
    assignments::table
        .filter(assignments::component.eq(component))
        .filter(assignments::enabled.eq(true))
        .select(assignments::cluster)
        .order(assignments::cluster)
        .load(conn)
}

/// Inserts or replaces an assignment (the pair is the key).
pub fn put_assignment(conn: &mut DbConnection, row: &AssignmentRow) -> Result<()> {
    let exists = assignment(conn, &row.cluster, &row.component)?.is_some();
    if exists {
        diesel::update(assignments::table.find((&row.cluster, &row.component)))
            .set(row.clone())
            .execute(conn)
            .map(drop)
    } else {
        diesel::insert_into(assignments::table)
            .values(row.clone())
            .execute(conn)
            .map(drop)
    }
}

pub fn delete_assignment(conn: &mut DbConnection, cluster: &str, component: &str) -> Result<usize> {
    diesel::delete(assignments::table.find((cluster, component))).execute(conn)
}

pub fn delete_assignments_of(conn: &mut DbConnection, component: &str) -> Result<usize> {
    diesel::delete(assignments::table.filter(assignments::component.eq(component))).execute(conn)
}

pub fn latest_revision(conn: &mut DbConnection, cluster: &str) -> Result<Option<ClusterRevisionRow>> {
    cluster_revisions::table
        .filter(cluster_revisions::cluster.eq(cluster))
        .order(cluster_revisions::revision.desc())
        .select(ClusterRevisionRow::as_select())
        .first(conn)
        .optional()
}

pub fn revision(conn: &mut DbConnection, cluster: &str, revision: i64) -> Result<Option<ClusterRevisionRow>> {
    cluster_revisions::table
        .find((cluster, revision))
        .select(ClusterRevisionRow::as_select())
        .first(conn)
        .optional()
}

/// Revisions newest first, only those older than `before` when given.
pub fn revisions(
    conn: &mut DbConnection,
    cluster: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ClusterRevisionRow>> {
    let mut q = cluster_revisions::table
        .filter(cluster_revisions::cluster.eq(cluster))
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(cluster_revisions::revision.lt(before));
    }
    q.order(cluster_revisions::revision.desc())
        .limit(limit)
        .select(ClusterRevisionRow::as_select())
        .load(conn)
}

pub fn insert_revision(conn: &mut DbConnection, row: &ClusterRevisionRow) -> Result<()> {
    diesel::insert_into(cluster_revisions::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

/// Appends an audit entry and links it to the clusters it concerns; its id is the newest, as
/// writers hold the write lock (`.returning()` does not compile on the multi-backend connection).
pub fn insert_audit(conn: &mut DbConnection, row: &NewAuditRow, clusters: &[&str]) -> Result<()> {
    diesel::insert_into(audit_log::table)
        .values(row.clone())
        .execute(conn)?;
    if clusters.is_empty() {
        return Ok(());
    }
    let id: Option<i64> = audit_log::table.select(diesel::dsl::max(audit_log::id)).first(conn)?;
    let Some(id) = id else { return Ok(()) };
    bulk::insert_audit_links(conn, id, clusters)
}

/// Filters for the audit log; entries come newest first, `before` is the cursor.
#[derive(Debug, Default, Clone)]
pub struct AuditQuery {
    pub target: Option<String>,
    /// Entries that changed what this cluster runs, or were about it.
    pub cluster: Option<String>,
    pub actor: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub fn audit(conn: &mut DbConnection, q: &AuditQuery) -> Result<Vec<AuditRow>> {
    let mut query = audit_log::table.into_boxed();
    if let Some(target) = &q.target {
        query = query.filter(audit_log::target.eq(target.clone()));
    }
    if let Some(cluster) = &q.cluster {
        let linked = audit_clusters::table
            .filter(audit_clusters::cluster.eq(cluster.clone()))
            .select(audit_clusters::audit_id);
        query = query.filter(audit_log::id.eq_any(linked));
    }
    if let Some(actor) = &q.actor {
        query = query.filter(audit_log::actor.eq(actor.clone()));
    }
    if let Some(since) = q.since {
        query = query.filter(audit_log::at.ge(since));
    }
    if let Some(before) = q.before {
        query = query.filter(audit_log::id.lt(before));
    }
    query
        .order(audit_log::id.desc())
        .limit(q.limit)
        .select(AuditRow::as_select())
        .load(conn)
}

/// Overrides whose expiry fell in `(after, until]` (all expired ones when `after` is `None`).
pub fn expired_overrides(
    conn: &mut DbConnection,
    after: Option<NaiveDateTime>,
    until: NaiveDateTime,
) -> Result<Vec<AssignmentRow>> {
    let mut q = assignments::table
        .filter(assignments::expires_at.le(until))
        .filter(
            assignments::oci_tag
                .is_not_null()
                .or(assignments::component_path.is_not_null()),
        )
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(assignments::expires_at.gt(after));
    }
    q.order((assignments::cluster, assignments::component))
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn tokens(conn: &mut DbConnection) -> Result<Vec<TokenRow>> {
    api_tokens::table
        .order(api_tokens::name)
        .select(TokenRow::as_select())
        .load(conn)
}

pub fn token_count(conn: &mut DbConnection) -> Result<i64> {
    api_tokens::table.count().get_result(conn)
}

pub fn token_by_token_id(conn: &mut DbConnection, token_id: &str) -> Result<Option<TokenRow>> {
    api_tokens::table
        .filter(api_tokens::token_id.eq(token_id))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

pub fn token_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<TokenRow>> {
    api_tokens::table
        .filter(api_tokens::name.eq(name))
        .select(TokenRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_token(conn: &mut DbConnection, row: &NewTokenRow) -> Result<()> {
    diesel::insert_into(api_tokens::table)
        .values(row.clone())
        .execute(conn)
        .map(drop)
}

pub fn delete_token(conn: &mut DbConnection, name: &str) -> Result<usize> {
    diesel::delete(api_tokens::table.filter(api_tokens::name.eq(name))).execute(conn)
}

pub fn touch_token(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> Result<()> {
    diesel::update(api_tokens::table.find(id))
        .set(api_tokens::last_used_at.eq(Some(at)))
        .execute(conn)
        .map(drop)
}

/// Each cluster's current revision (the one `clusters.revision` names), in one query: what a
/// write that re-resolves many clusters compares against.
pub fn current_revisions(conn: &mut DbConnection) -> Result<Vec<ClusterRevisionRow>> {
    cluster_revisions::table
        .inner_join(
            clusters::table.on(clusters::name
                .eq(cluster_revisions::cluster)
                .and(clusters::revision.eq(cluster_revisions::revision))),
        )
        .select(ClusterRevisionRow::as_select())
        .load(conn)
}

/// The fingerprint of the start-up file of `kind` last seeded or applied.
pub fn applied_file(conn: &mut DbConnection, kind: &str) -> Result<Option<String>> {
    applied_files::table
        .find(kind)
        .select(applied_files::sha256)
        .first(conn)
        .optional()
}

/// Records the start-up file of `kind` as applied (replacing the one before).
pub fn record_applied_file(
    conn: &mut DbConnection,
    kind: &str,
    sha256: &str,
    source: &str,
    at: NaiveDateTime,
) -> Result<()> {
    diesel::delete(applied_files::table.find(kind)).execute(conn)?;
    diesel::insert_into(applied_files::table)
        .values((
            applied_files::kind.eq(kind),
            applied_files::sha256.eq(sha256),
            applied_files::source.eq(source),
            applied_files::applied_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

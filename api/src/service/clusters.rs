//! Clusters and their component assignments.

use catalog::{ComponentId, OciTag};
use chrono::NaiveDateTime;

pub use super::cluster_model::{
    parse_expiry, parse_reason, AssignmentKey, AssignmentSettings, AssignmentView, ClusterSettings, ClusterView,
    CreateCluster, DeleteCluster, Labels, PutAssignment, UpdateCluster,
};
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::error::{Error, Field};
use crate::store;

/// Filters for listing clusters.
#[derive(Debug, Default, Clone)]
pub struct ClusterFilter {
    pub tier: Option<String>,
    pub label: Option<(String, String)>,
    pub component: Option<String>,
}

pub fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "cluster",
        name: name.to_owned(),
    }
}

pub fn list(state: &AppState, filter: &ClusterFilter) -> Result<Vec<ClusterView>, Error> {
    rows(state, filter)?.iter().map(ClusterView::try_from).collect()
}

/// The stored clusters the filter keeps, by name: for views built inside the service.
pub(super) fn rows(state: &AppState, filter: &ClusterFilter) -> Result<Vec<ClusterRow>, Error> {
    let mut conn = state.conn()?;
    let mut rows = store::clusters(&mut conn)?;
    if let Some(tier) = &filter.tier {
        rows.retain(|r| &r.tier == tier);
    }
    if let Some((k, v)) = &filter.label {
        let mut kept = Vec::new();
        for r in rows {
            if super::domain::labels_of(&r)?.get(k) == Some(v) {
                kept.push(r);
            }
        }
        rows = kept;
    }
    if let Some(component) = &filter.component {
        let users = store::clusters_using(&mut conn, component)?;
        rows.retain(|r| users.contains(&r.name));
    }
    Ok(rows)
}

pub fn get(state: &AppState, name: &str) -> Result<ClusterView, Error> {
    let mut conn = state.conn()?;
    ClusterView::try_from(&store::cluster(&mut conn, name)?.ok_or_else(|| not_found(name))?)
}

/// Checks cluster settings against the catalog and builds the cluster's row.
fn cluster_row(
    ctx: &mut Ctx<'_>,
    settings: &ClusterSettings,
    revision: i64,
    created_at: NaiveDateTime,
) -> Result<ClusterRow, Error> {
    let tier = ctx
        .catalog()
        .tier(settings.tier.as_str())
        .map_err(|e| Error::refused("tier", e.to_string()))?
        .clone();
    if let Some(tag) = &settings.oci_tag {
        check_tag_for_tier(ctx, &tier, tag, None)?;
    }
    Ok(ClusterRow {
        name: settings.name.to_string(),
        tier: settings.tier.to_string(),
        labels: serde_json::to_string(settings.labels.as_map()).map_err(|e| Error::Internal(e.to_string()))?,
        enabled: settings.enabled,
        flux_namespace: settings.flux_namespace.to_string(),
        oci_tag: settings.oci_tag.as_ref().map(ToString::to_string),
        revision,
        created_at,
        updated_at: ctx.now,
    })
}

/// A tag on a cluster of `tier` must be admitted (see `admission`): a cluster-wide pin for
/// every artifact, an override for its component's artifact.
fn check_tag_for_tier(
    ctx: &mut Ctx<'_>,
    tier: &catalog::Tier,
    tag: &OciTag,
    artifact: Option<&str>,
) -> Result<(), Error> {
    let artifacts: Vec<String> = match artifact {
        Some(a) => vec![a.to_owned()],
        None => ctx.catalog().artifacts().iter().map(|a| a.id.to_string()).collect(),
    };
    for artifact in artifacts {
        super::admission::admit(ctx, tier, &artifact, tag)?;
    }
    Ok(())
}

/// Creates a cluster with the given components (default: every enabled catalog component).
pub fn create(
    state: &AppState,
    caller: &Caller,
    command: CreateCluster,
    dry_run: bool,
) -> Result<Outcome<ClusterView>, Error> {
    let reason = format!("cluster {} created", command.settings.name);
    state.write(caller, dry_run, &reason, |ctx| {
        ClusterView::try_from(&create_in(ctx, &command)?)
    })
}

/// Creates a cluster inside a write.
fn create_in(ctx: &mut Ctx<'_>, command: &CreateCluster) -> Result<ClusterRow, Error> {
    let name = command.settings.name.as_str();
    if store::cluster(ctx.conn, name)?.is_some() {
        return Err(Error::Conflict(format!("cluster {name:?} exists already")));
    }
    let previous = store::latest_revision(ctx.conn, name)?.map(|r| r.revision).unwrap_or(0);
    let row = cluster_row(ctx, &command.settings, previous, ctx.now)?;
    store::insert_cluster(ctx.conn, &row)?;
    let ids: Vec<ComponentId> = match &command.components {
        Some(ids) => ids.clone(),
        None => ctx
            .catalog()
            .components()
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.id.clone())
            .collect(),
    };
    for (i, id) in ids.iter().enumerate() {
        if ctx.catalog().component(id.as_str()).is_none() {
            return Err(unknown_component(Field::new("components").index(i), id.as_str()));
        }
        let assignment = assignment_row(ctx, &row, id, &AssignmentSettings::enabled(), None)?;
        store::put_assignment(ctx.conn, &assignment)?;
    }
    created(ctx, &row);
    Ok(row)
}

/// A component the catalog does not have, named at `field` of a command.
pub fn unknown_component(field: Field, id: &str) -> Error {
    Error::refused(field, format!("unknown component {id:?}"))
}

/// Creates many new clusters in one go, each running every enabled catalog component, with the
/// same checks and audit entries as [`create_in`] but stored in a few bulk statements: how a
/// fleet is seeded. Each spec comes with the revisions it is taken to have had already (an
/// import of a full export goes on with the numbering), and `at` names the entry an error
/// belongs to.
pub(super) fn create_many_in(
    ctx: &mut Ctx<'_>,
    specs: &[(usize, ClusterSettings, i64)],
    at: impl Fn(usize, Error) -> Error,
) -> Result<(), Error> {
    let existing: std::collections::HashSet<String> = store::clusters(ctx.conn)?.into_iter().map(|r| r.name).collect();
    let previous: std::collections::HashMap<String, i64> = store::bulk::newest_revisions(ctx.conn)?
        .into_iter()
        .map(|(name, rev)| (name, rev.unwrap_or(0)))
        .collect();
    let ids: Vec<ComponentId> = ctx
        .catalog()
        .components()
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.id.clone())
        .collect();
    let mut rows = Vec::with_capacity(specs.len());
    let mut assignments = Vec::with_capacity(specs.len() * ids.len());
    let mut templates: std::collections::HashMap<String, Vec<AssignmentRow>> = std::collections::HashMap::new();
    for (i, settings, before) in specs {
        let name = settings.name.as_str();
        if existing.contains(name) {
            return Err(at(*i, Error::Conflict(format!("cluster {name:?} exists already"))));
        }
        let revision = previous.get(name).copied().unwrap_or(0).max(*before);
        let row = cluster_row(ctx, settings, revision, ctx.now).map_err(|e| at(*i, e))?;
        let enabled = AssignmentSettings::enabled();
        // The default assignment is the same on every cluster of a tier but for the cluster's
        // name: checked once per tier, then copied.
        if !templates.contains_key(&row.tier) {
            let made = ids
                .iter()
                .map(|id| assignment_row(ctx, &row, id, &enabled, None))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| at(*i, e))?;
            templates.insert(row.tier.clone(), made);
        }
        for template in templates.get(&row.tier).into_iter().flatten() {
            assignments.push(AssignmentRow {
                cluster: row.name.clone(),
                ..template.clone()
            });
        }
        created(ctx, &row);
        rows.push(row);
    }
    store::bulk::insert_clusters(ctx.conn, &rows)?;
    store::bulk::insert_assignments(ctx.conn, &assignments)?;
    Ok(())
}

/// Replaces a cluster's settings, if it is at the version the command expects.
pub fn update(
    state: &AppState,
    caller: &Caller,
    command: UpdateCluster,
    dry_run: bool,
) -> Result<Outcome<ClusterView>, Error> {
    let reason = format!("cluster {} changed", command.settings.name);
    state.write(caller, dry_run, &reason, |ctx| {
        ClusterView::try_from(&update_in(ctx, &command)?)
    })
}

/// Replaces a cluster's settings inside a write.
pub(super) fn update_in(ctx: &mut Ctx<'_>, command: &UpdateCluster) -> Result<ClusterRow, Error> {
    let name = command.settings.name.as_str();
    let before = store::cluster(ctx.conn, name)?.ok_or_else(|| not_found(name))?;
    command.expected.check(&ClusterView::try_from(&before)?.version())?;
    let row = cluster_row(ctx, &command.settings, before.revision, before.created_at)?;
    store::update_cluster(ctx.conn, &row)?;
    ctx.touch(&row.name);
    ctx.audit(
        "cluster.update",
        &format!("cluster/{}", row.name),
        Some(&audit_view(&before)),
        Some(&audit_view(&row)),
    );
    Ok(row)
}

/// Removes a cluster, if it is at the version the command expects.
pub fn delete(state: &AppState, caller: &Caller, command: DeleteCluster, dry_run: bool) -> Result<Outcome<()>, Error> {
    let name = command.name.as_str();
    state.write(caller, dry_run, &format!("cluster {name} deleted"), |ctx| {
        let before = store::cluster(ctx.conn, name)?.ok_or_else(|| not_found(name))?;
        command.expected.check(&ClusterView::try_from(&before)?.version())?;
        store::delete_cluster(ctx.conn, name)?;
        ctx.audit(
            "cluster.delete",
            &format!("cluster/{name}"),
            Some(&audit_view(&before)),
            None::<&serde_json::Value>,
        );
        Ok(())
    })
}

pub fn assignments(state: &AppState, cluster: &str) -> Result<Vec<AssignmentView>, Error> {
    let mut conn = state.conn()?;
    store::cluster(&mut conn, cluster)?.ok_or_else(|| not_found(cluster))?;
    Ok(store::assignments(&mut conn, cluster)?
        .iter()
        .map(AssignmentView::from)
        .collect())
}

/// Refuses a write when the assignment (or its absence) is not at the version expected.
pub(super) fn check_assignment(expected: &super::Expected, current: Option<&AssignmentRow>) -> Result<(), Error> {
    let version = current.map(|row| AssignmentView::from(row).version());
    expected.check_optional(version.as_deref(), "assignment")
}

/// Checks assignment settings and builds the assignment's row. With `kept`, the assignment as it stands: a
/// tag or expiry equal to the one it has is not checked again (a merge patch that leaves the
/// tag alone must not be refused because the tier's policy tightened since it was set).
pub(super) fn assignment_row(
    ctx: &mut Ctx<'_>,
    cluster: &ClusterRow,
    component: &ComponentId,
    settings: &AssignmentSettings,
    kept: Option<&AssignmentRow>,
) -> Result<AssignmentRow, Error> {
    let c = ctx
        .catalog()
        .component(component.as_str())
        .cloned()
        .ok_or(Error::NotFound {
            kind: "component",
            name: component.to_string(),
        })?;
    let tier = ctx.catalog().tier(&cluster.tier)?.clone();
    let oci_tag = settings.oci_tag.as_ref();
    let same_tag = kept.is_some_and(|k| k.oci_tag.as_deref() == oci_tag.map(OciTag::as_str));
    if let Some(tag) = oci_tag.filter(|_| !same_tag) {
        check_tag_for_tier(ctx, &tier, tag, Some(c.artifact.as_str()))?;
    }
    let same_expiry = kept.is_some_and(|k| k.expires_at == settings.expires_at);
    if let Some(at) = settings.expires_at.filter(|_| !same_expiry) {
        super::time::check_expiry("expires_at", at, ctx.now)?;
    }
    Ok(AssignmentRow {
        cluster: cluster.name.clone(),
        component: c.id.to_string(),
        enabled: settings.enabled,
        oci_tag: oci_tag.map(ToString::to_string),
        component_path: settings.component_path.as_ref().map(ToString::to_string),
        reason: settings.reason.clone(),
        author: ctx.caller().actor.clone(),
        created_at: ctx.now,
        expires_at: settings.expires_at,
    })
}

/// Sets a component's assignment on a cluster.
pub fn put_assignment(
    state: &AppState,
    caller: &Caller,
    command: PutAssignment,
    dry_run: bool,
) -> Result<Outcome<AssignmentView>, Error> {
    let (cluster, component) = (&command.key.cluster, &command.key.component);
    let reason = revision_reason(command.settings.reason.as_deref(), || {
        format!("{component} on {cluster} changed")
    });
    state.write(caller, dry_run, &reason, |ctx| {
        Ok(AssignmentView::from(&put_assignment_in(ctx, &command)?))
    })
}

/// Sets a component's assignment on a cluster inside a write.
pub(super) fn put_assignment_in(ctx: &mut Ctx<'_>, command: &PutAssignment) -> Result<AssignmentRow, Error> {
    let key = &command.key;
    let (cluster, component) = (key.cluster.as_str(), key.component.as_str());
    let row = store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
    let before = store::assignment(ctx.conn, cluster, component)?;
    check_assignment(&key.expected, before.as_ref())?;
    let after = assignment_row(ctx, &row, &key.component, &command.settings, None)?;
    store::put_assignment(ctx.conn, &after)?;
    ctx.touch(cluster);
    let target = format!("cluster/{cluster}/components/{component}");
    ctx.audit(
        "assignment.put",
        &target,
        before.as_ref().map(audit_assignment).as_ref(),
        Some(&audit_assignment(&after)),
    );
    Ok(after)
}

/// Removes a component from a cluster, if its assignment is at the version expected.
pub fn delete_assignment(
    state: &AppState,
    caller: &Caller,
    command: AssignmentKey,
    dry_run: bool,
) -> Result<Outcome<()>, Error> {
    let (cluster, component) = (command.cluster.as_str(), command.component.as_str());
    state.write(caller, dry_run, &format!("{component} removed from {cluster}"), |ctx| {
        store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
        let before = store::assignment(ctx.conn, cluster, component)?.ok_or(Error::NotFound {
            kind: "assignment",
            name: format!("{cluster}/{component}"),
        })?;
        check_assignment(&command.expected, Some(&before))?;
        store::delete_assignment(ctx.conn, cluster, component)?;
        ctx.touch(cluster);
        let target = format!("cluster/{cluster}/components/{component}");
        ctx.audit(
            "assignment.delete",
            &target,
            Some(&audit_assignment(&before)),
            None::<&serde_json::Value>,
        );
        Ok(())
    })
}

/// What a write's new revisions say about why they exist: the reason the person gave, else
/// `generic` (what the write did).
pub(super) fn revision_reason(given: Option<&str>, generic: impl FnOnce() -> String) -> String {
    match given.map(str::trim) {
        Some(r) if !r.is_empty() => r.to_owned(),
        _ => generic(),
    }
}

/// A new cluster is re-resolved at the end of the write, and audited.
fn created(ctx: &mut Ctx<'_>, row: &ClusterRow) {
    ctx.touch(&row.name);
    ctx.audit(
        "cluster.create",
        &format!("cluster/{}", row.name),
        None::<&serde_json::Value>,
        Some(&audit_view(row)),
    );
}

/// What the audit log keeps of a cluster.
fn audit_view(row: &ClusterRow) -> serde_json::Value {
    serde_json::json!({
        "name": row.name, "tier": row.tier, "labels": serde_json::from_str::<serde_json::Value>(&row.labels).unwrap_or_default(),
        "enabled": row.enabled, "flux_namespace": row.flux_namespace, "oci_tag": row.oci_tag,
    })
}

pub(super) fn audit_assignment(row: &AssignmentRow) -> serde_json::Value {
    serde_json::json!({
        "enabled": row.enabled, "oci_tag": row.oci_tag, "component_path": row.component_path,
        "reason": row.reason, "expires_at": row.expires_at.map(|t| t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    })
}

//! Clusters and their component assignments.

use std::collections::BTreeMap;

use catalog::ids::{ComponentPath, Namespace};
use catalog::resolve::Cluster;
use catalog::{ClusterName, OciTag, TierName};
use chrono::{DateTime, NaiveDateTime, Utc};

use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::{AssignmentRow, ClusterRow};
use crate::error::Error;
use crate::store;

/// A cluster as a caller asks for it, before checks.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
    pub enabled: bool,
    pub flux_namespace: Option<String>,
    pub oci_tag: Option<String>,
}

/// An assignment as a caller asks for it, before checks.
#[derive(Debug, Clone, Default)]
pub struct AssignmentSpec {
    pub enabled: bool,
    pub oci_tag: Option<String>,
    pub component_path: Option<String>,
    pub reason: Option<String>,
    pub expires_at: Option<String>,
}

/// Filters for listing clusters.
#[derive(Debug, Default, Clone)]
pub struct ClusterFilter {
    pub tier: Option<String>,
    pub label: Option<(String, String)>,
    pub component: Option<String>,
}

pub(super) fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "cluster",
        name: name.to_owned(),
    }
}

fn field<T>(path: &str, r: Result<T, catalog::Error>) -> Result<T, Error> {
    r.map_err(|e| Error::field(path, e.to_string()))
}

pub fn list(state: &AppState, filter: &ClusterFilter) -> Result<Vec<ClusterRow>, Error> {
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

pub fn get(state: &AppState, name: &str) -> Result<ClusterRow, Error> {
    let mut conn = state.conn()?;
    store::cluster(&mut conn, name)?.ok_or_else(|| not_found(name))
}

/// Checks a cluster spec against the catalog and builds its row.
fn cluster_row(
    ctx: &mut Ctx<'_>,
    spec: &ClusterSpec,
    revision: i64,
    created_at: NaiveDateTime,
) -> Result<ClusterRow, Error> {
    let name = field("$.name", ClusterName::parse(&spec.name))?;
    let tier = field("$.tier", TierName::parse(&spec.tier))?;
    let tier_def = ctx
        .catalog()
        .tier(tier.as_str())
        .map_err(|e| Error::field("$.tier", e.to_string()))?
        .clone();
    let namespace = field(
        "$.flux_namespace",
        Namespace::parse(
            spec.flux_namespace
                .as_deref()
                .unwrap_or(Cluster::DEFAULT_FLUX_NAMESPACE),
        ),
    )?;
    for (key, value) in &spec.labels {
        catalog::ids::check_label(key, value).map_err(|m| Error::field(format!("$.labels[{key:?}]"), m))?;
    }
    let oci_tag = spec
        .oci_tag
        .as_deref()
        .map(|t| field("$.oci_tag", OciTag::parse(t)))
        .transpose()?;
    if let Some(tag) = &oci_tag {
        check_tag_for_tier(ctx, &tier_def, tag, None)?;
    }
    Ok(ClusterRow {
        name: name.to_string(),
        tier: tier.to_string(),
        labels: serde_json::to_string(&spec.labels).map_err(|e| Error::Internal(e.to_string()))?,
        enabled: spec.enabled,
        flux_namespace: namespace.to_string(),
        oci_tag: oci_tag.map(|t| t.to_string()),
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
    spec: ClusterSpec,
    components: Option<Vec<String>>,
    dry_run: bool,
) -> Result<Outcome<ClusterRow>, Error> {
    let reason = format!("cluster {} created", spec.name);
    state.write(caller, dry_run, &reason, |ctx| {
        create_in(ctx, &spec, components.as_deref())
    })
}

/// Creates a cluster inside a write.
pub(super) fn create_in(
    ctx: &mut Ctx<'_>,
    spec: &ClusterSpec,
    components: Option<&[String]>,
) -> Result<ClusterRow, Error> {
    if store::cluster(ctx.conn, &spec.name)?.is_some() {
        return Err(Error::Conflict(format!("cluster {:?} exists already", spec.name)));
    }
    let previous = store::latest_revision(ctx.conn, &spec.name)?
        .map(|r| r.revision)
        .unwrap_or(0);
    let row = cluster_row(ctx, spec, previous, ctx.now)?;
    store::insert_cluster(ctx.conn, &row)?;
    let ids: Vec<String> = match components {
        Some(ids) => ids.to_vec(),
        None => ctx
            .catalog()
            .components()
            .iter()
            .filter(|c| c.enabled)
            .map(|c| c.id.to_string())
            .collect(),
    };
    for (i, id) in ids.iter().enumerate() {
        if ctx.catalog().component(id).is_none() {
            return Err(Error::field(
                format!("$.components[{i}]"),
                format!("unknown component {id:?}"),
            ));
        }
        let spec = AssignmentSpec {
            enabled: true,
            ..Default::default()
        };
        let assignment = assignment_row(ctx, &row, id, &spec, None)?;
        store::put_assignment(ctx.conn, &assignment)?;
    }
    created(ctx, &row);
    Ok(row)
}

/// Creates many new clusters in one go, each running every enabled catalog component, with the
/// same checks and audit entries as [`create_in`] but stored in a few bulk statements: how a
/// fleet is seeded. Each spec comes with the revisions it is taken to have had already (an
/// import of a full export goes on with the numbering), and `at` names the entry an error
/// belongs to.
pub(super) fn create_many_in(
    ctx: &mut Ctx<'_>,
    specs: &[(usize, ClusterSpec, i64)],
    at: impl Fn(usize, Error) -> Error,
) -> Result<(), Error> {
    let existing: std::collections::HashSet<String> = store::clusters(ctx.conn)?.into_iter().map(|r| r.name).collect();
    let previous: std::collections::HashMap<String, i64> = store::bulk::newest_revisions(ctx.conn)?
        .into_iter()
        .map(|(name, rev)| (name, rev.unwrap_or(0)))
        .collect();
    let ids: Vec<String> = ctx
        .catalog()
        .components()
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.id.to_string())
        .collect();
    let mut rows = Vec::with_capacity(specs.len());
    let mut assignments = Vec::with_capacity(specs.len() * ids.len());
    let mut templates: std::collections::HashMap<String, Vec<AssignmentRow>> = std::collections::HashMap::new();
    for (i, spec, before) in specs {
        if existing.contains(&spec.name) {
            return Err(at(
                *i,
                Error::Conflict(format!("cluster {:?} exists already", spec.name)),
            ));
        }
        let revision = previous.get(&spec.name).copied().unwrap_or(0).max(*before);
        let row = cluster_row(ctx, spec, revision, ctx.now).map_err(|e| at(*i, e))?;
        let enabled = AssignmentSpec {
            enabled: true,
            ..Default::default()
        };
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

/// Replaces a cluster's settings; `check` is the `If-Match` guard.
pub fn update(
    state: &AppState,
    caller: &Caller,
    spec: ClusterSpec,
    check: impl Fn(&ClusterRow) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<ClusterRow>, Error> {
    let reason = format!("cluster {} changed", spec.name);
    state.write(caller, dry_run, &reason, |ctx| update_in(ctx, &spec, check))
}

/// Replaces a cluster's settings inside a write.
pub(super) fn update_in(
    ctx: &mut Ctx<'_>,
    spec: &ClusterSpec,
    check: impl Fn(&ClusterRow) -> Result<(), Error>,
) -> Result<ClusterRow, Error> {
    let before = store::cluster(ctx.conn, &spec.name)?.ok_or_else(|| not_found(&spec.name))?;
    check(&before)?;
    let row = cluster_row(ctx, spec, before.revision, before.created_at)?;
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

pub fn delete(
    state: &AppState,
    caller: &Caller,
    name: &str,
    check: impl FnOnce(&ClusterRow) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<()>, Error> {
    state.write(caller, dry_run, &format!("cluster {name} deleted"), |ctx| {
        let before = store::cluster(ctx.conn, name)?.ok_or_else(|| not_found(name))?;
        check(&before)?;
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

pub fn assignments(state: &AppState, cluster: &str) -> Result<Vec<AssignmentRow>, Error> {
    let mut conn = state.conn()?;
    store::cluster(&mut conn, cluster)?.ok_or_else(|| not_found(cluster))?;
    Ok(store::assignments(&mut conn, cluster)?)
}

/// Checks an assignment spec and builds its row. With `kept`, the assignment as it stands: a
/// tag or expiry equal to the one it has is not checked again (a merge patch that leaves the
/// tag alone must not be refused because the tier's policy tightened since it was set).
pub(super) fn assignment_row(
    ctx: &mut Ctx<'_>,
    cluster: &ClusterRow,
    component: &str,
    spec: &AssignmentSpec,
    kept: Option<&AssignmentRow>,
) -> Result<AssignmentRow, Error> {
    let c = ctx.catalog().component(component).cloned().ok_or(Error::NotFound {
        kind: "component",
        name: component.to_owned(),
    })?;
    let tier = ctx.catalog().tier(&cluster.tier)?.clone();
    let oci_tag = spec
        .oci_tag
        .as_deref()
        .map(|t| field("$.oci_tag", OciTag::parse(t)))
        .transpose()?;
    let same_tag = kept.is_some_and(|k| k.oci_tag.as_deref() == oci_tag.as_ref().map(OciTag::as_str));
    if let Some(tag) = oci_tag.as_ref().filter(|_| !same_tag) {
        check_tag_for_tier(ctx, &tier, tag, Some(c.artifact.as_str()))?;
    }
    let path = spec
        .component_path
        .as_deref()
        .map(|p| field("$.component_path", ComponentPath::parse(p)))
        .transpose()?;
    let expires_at = spec
        .expires_at
        .as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|d| d.with_timezone(&Utc).naive_utc())
                .map_err(|e| {
                    Error::field(
                        "$.expires_at",
                        format!("must be an RFC 3339 time like 2026-12-01T00:00:00Z: {e}"),
                    )
                })
        })
        .transpose()?;
    let same_expiry = kept.is_some_and(|k| k.expires_at == expires_at);
    if let Some(at) = expires_at.filter(|_| !same_expiry) {
        super::time::check_expiry("$.expires_at", at, ctx.now)?;
    }
    if let Some(reason) = &spec.reason {
        if reason.len() > 200 {
            return Err(Error::field("$.reason", "must be at most 200 characters"));
        }
    }
    Ok(AssignmentRow {
        cluster: cluster.name.clone(),
        component: c.id.to_string(),
        enabled: spec.enabled,
        oci_tag: oci_tag.map(|t| t.to_string()),
        component_path: path.map(|p| p.to_string()),
        reason: spec.reason.clone(),
        author: ctx.caller().actor.clone(),
        created_at: ctx.now,
        expires_at,
    })
}

/// Sets a component's assignment on a cluster.
pub fn put_assignment(
    state: &AppState,
    caller: &Caller,
    cluster: &str,
    component: &str,
    spec: AssignmentSpec,
    check: impl Fn(Option<&AssignmentRow>) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<AssignmentRow>, Error> {
    let reason = revision_reason(spec.reason.as_deref(), || format!("{component} on {cluster} changed"));
    state.write(caller, dry_run, &reason, |ctx| {
        put_assignment_in(ctx, cluster, component, &spec, check)
    })
}

/// Sets a component's assignment on a cluster inside a write.
pub(super) fn put_assignment_in(
    ctx: &mut Ctx<'_>,
    cluster: &str,
    component: &str,
    spec: &AssignmentSpec,
    check: impl Fn(Option<&AssignmentRow>) -> Result<(), Error>,
) -> Result<AssignmentRow, Error> {
    let row = store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
    let before = store::assignment(ctx.conn, cluster, component)?;
    check(before.as_ref())?;
    let after = assignment_row(ctx, &row, component, spec, None)?;
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

pub fn delete_assignment(
    state: &AppState,
    caller: &Caller,
    cluster: &str,
    component: &str,
    check: impl FnOnce(Option<&AssignmentRow>) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<()>, Error> {
    state.write(caller, dry_run, &format!("{component} removed from {cluster}"), |ctx| {
        store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
        let before = store::assignment(ctx.conn, cluster, component)?.ok_or(Error::NotFound {
            kind: "assignment",
            name: format!("{cluster}/{component}"),
        })?;
        check(Some(&before))?;
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

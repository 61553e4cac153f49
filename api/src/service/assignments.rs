//! Changing part of an assignment: a merge patch of its fields, and removing its override
//! (unpinning) while the component stays on the cluster as it was.

use catalog::ids::ComponentPath;
use catalog::OciTag;

pub use super::cluster_model::{AssignmentPatch, PatchAssignment};
use super::clusters::{
    assignment_row, audit_assignment, check_assignment, not_found, revision_reason, AssignmentKey, AssignmentSettings,
    AssignmentView,
};
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::AssignmentRow;
use crate::error::Error;
use crate::store;

/// The assignment once its override is gone (unpinned or collapsed): the tag and path follow
/// the catalog again, and the reason and expiry, which described the override, go with it. The
/// enabled state stays as it was.
pub(super) fn without_override(ctx: &Ctx<'_>, before: &AssignmentRow) -> AssignmentRow {
    AssignmentRow {
        oci_tag: None,
        component_path: None,
        reason: None,
        expires_at: None,
        author: ctx.caller().actor.clone(),
        created_at: ctx.now,
        ..before.clone()
    }
}

fn missing(cluster: &str, component: &str) -> Error {
    Error::NotFound {
        kind: "assignment",
        name: format!("{cluster}/{component}"),
    }
}

/// The settings of the assignment as it stands, with the patch applied.
fn patched(before: &AssignmentRow, patch: &AssignmentPatch) -> Result<AssignmentSettings, Error> {
    fn pick<T: Clone>(sent: &Option<Option<T>>, kept: Option<T>) -> Option<T> {
        match sent {
            Some(value) => value.clone(),
            None => kept,
        }
    }
    let stored = |what: &str, e: catalog::Error| Error::Internal(format!("stored {what} no longer parses: {e}"));
    let tag = before.oci_tag.as_deref().map(OciTag::parse).transpose();
    let path = before.component_path.as_deref().map(ComponentPath::parse).transpose();
    Ok(AssignmentSettings {
        enabled: patch.enabled.unwrap_or(before.enabled),
        oci_tag: pick(&patch.oci_tag, tag.map_err(|e| stored("override tag", e))?),
        component_path: pick(&patch.component_path, path.map_err(|e| stored("override path", e))?),
        reason: pick(&patch.reason, before.reason.clone()),
        expires_at: pick(&patch.expires_at, before.expires_at),
    })
}

/// Changes only the fields the patch sends of an existing assignment, if it is at the version
/// the command expects. The new revisions carry the reason sent, if any.
pub fn patch_assignment(
    state: &AppState,
    caller: &Caller,
    command: PatchAssignment,
    dry_run: bool,
) -> Result<Outcome<AssignmentView>, Error> {
    let key = &command.key;
    let (cluster, component) = (key.cluster.as_str(), key.component.as_str());
    let given = command.patch.reason.clone().flatten();
    let reason = revision_reason(given.as_deref(), || format!("{component} on {cluster} changed"));
    state.write(caller, dry_run, &reason, |ctx| {
        let row = store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
        let before = store::assignment(ctx.conn, cluster, component)?.ok_or_else(|| missing(cluster, component))?;
        check_assignment(&key.expected, Some(&before))?;
        let settings = patched(&before, &command.patch)?;
        let after = assignment_row(ctx, &row, &key.component, &settings, Some(&before))?;
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(cluster);
        ctx.audit(
            "assignment.patch",
            &format!("cluster/{cluster}/components/{component}"),
            Some(&audit_assignment(&before)),
            Some(&audit_assignment(&after)),
        );
        Ok(AssignmentView::from(&after))
    })
}

/// Removes an assignment's override (tag, path, and the reason and expiry that described it);
/// the component stays on the cluster, enabled or not as it was. 404 when there is none.
pub fn remove_override(
    state: &AppState,
    caller: &Caller,
    command: AssignmentKey,
    dry_run: bool,
) -> Result<Outcome<AssignmentView>, Error> {
    let (cluster, component) = (command.cluster.as_str(), command.component.as_str());
    let reason = format!("override of {component} on {cluster} removed");
    state.write(caller, dry_run, &reason, |ctx| {
        store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
        let before = store::assignment(ctx.conn, cluster, component)?.ok_or_else(|| missing(cluster, component))?;
        if before.oci_tag.is_none() && before.component_path.is_none() {
            return Err(Error::NotFound {
                kind: "override",
                name: format!("{cluster}/{component}"),
            });
        }
        check_assignment(&command.expected, Some(&before))?;
        let after = without_override(ctx, &before);
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(cluster);
        ctx.audit(
            "override.delete",
            &format!("cluster/{cluster}/components/{component}"),
            Some(&audit_assignment(&before)),
            Some(&audit_assignment(&after)),
        );
        Ok(AssignmentView::from(&after))
    })
}

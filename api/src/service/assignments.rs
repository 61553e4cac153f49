//! Changing part of an assignment: a merge patch of its fields, and removing its override
//! (unpinning) while the component stays on the cluster as it was.

use super::clusters::{assignment_row, audit_assignment, not_found, revision_reason, AssignmentSpec};
use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::AssignmentRow;
use crate::error::Error;
use crate::store;

/// The fields a merge patch of an assignment sends: `None` leaves a field as it is,
/// `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default)]
pub struct AssignmentPatch {
    pub enabled: Option<bool>,
    pub oci_tag: Option<Option<String>>,
    pub component_path: Option<Option<String>>,
    pub reason: Option<Option<String>>,
    pub expires_at: Option<Option<String>>,
}

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

fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The spec of the assignment as it stands, with the patch applied.
fn patched(before: &AssignmentRow, patch: &AssignmentPatch) -> AssignmentSpec {
    let pick = |sent: &Option<Option<String>>, kept: Option<String>| match sent {
        Some(value) => value.clone(),
        None => kept,
    };
    AssignmentSpec {
        enabled: patch.enabled.unwrap_or(before.enabled),
        oci_tag: pick(&patch.oci_tag, before.oci_tag.clone()),
        component_path: pick(&patch.component_path, before.component_path.clone()),
        reason: pick(&patch.reason, before.reason.clone()),
        expires_at: pick(&patch.expires_at, before.expires_at.map(time)),
    }
}

/// Changes only the fields `patch` sends of an existing assignment; `check` is the `If-Match`
/// guard. The new revisions carry the reason sent, if any.
pub fn patch_assignment(
    state: &AppState,
    caller: &Caller,
    cluster: &str,
    component: &str,
    patch: AssignmentPatch,
    check: impl Fn(Option<&AssignmentRow>) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<AssignmentRow>, Error> {
    let given = patch.reason.clone().flatten();
    let reason = revision_reason(given.as_deref(), || format!("{component} on {cluster} changed"));
    state.write(caller, dry_run, &reason, |ctx| {
        let row = store::cluster(ctx.conn, cluster)?.ok_or_else(|| not_found(cluster))?;
        let before = store::assignment(ctx.conn, cluster, component)?.ok_or_else(|| missing(cluster, component))?;
        check(Some(&before))?;
        let after = assignment_row(ctx, &row, component, &patched(&before, &patch), Some(&before))?;
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(cluster);
        ctx.audit(
            "assignment.patch",
            &format!("cluster/{cluster}/components/{component}"),
            Some(&audit_assignment(&before)),
            Some(&audit_assignment(&after)),
        );
        Ok(after)
    })
}

/// Removes an assignment's override (tag, path, and the reason and expiry that described it);
/// the component stays on the cluster, enabled or not as it was. 404 when there is none.
pub fn remove_override(
    state: &AppState,
    caller: &Caller,
    cluster: &str,
    component: &str,
    check: impl Fn(Option<&AssignmentRow>) -> Result<(), Error>,
    dry_run: bool,
) -> Result<Outcome<AssignmentRow>, Error> {
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
        check(Some(&before))?;
        let after = without_override(ctx, &before);
        store::put_assignment(ctx.conn, &after)?;
        ctx.touch(cluster);
        ctx.audit(
            "override.delete",
            &format!("cluster/{cluster}/components/{component}"),
            Some(&audit_assignment(&before)),
            Some(&audit_assignment(&after)),
        );
        Ok(after)
    })
}

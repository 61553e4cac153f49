//! Who a rollout moves: the clusters running what it moves, with from/to, and what planning
//! leaves out (held, pinned, or decided by a newer override).

use std::collections::{BTreeMap, BTreeSet};

use catalog::{ComponentPath, OciTag, OrderedTag};

use super::waves::Target;
use super::{CreateWave, Skipped, StepCluster, StepComponent};
use crate::error::{Error, Field};
use crate::service::holds::Holds;
use crate::service::{Ctx, TagPath};
use crate::store::{self, effective::EffectiveRecord};

/// A target cluster and its planned change.
pub(super) type Planned = (Target, StepCluster);

/// Every cluster whose current effective config runs a moved component, with from/to, and
/// what is left out: held components, and those a cluster pin or a newer override decides
/// (the rollout's pin would outrank them, and completing it would not move them).
pub(super) fn targets(
    ctx: &mut Ctx<'_>,
    components: &BTreeSet<String>,
    tag: &OciTag,
    paths: &BTreeMap<String, ComponentPath>,
) -> Result<(Vec<Planned>, Vec<Skipped>), Error> {
    let holds = Holds::load(ctx.conn, ctx.now)?;
    let ours = OrderedTag::try_from(tag.clone()).ok();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for row in store::clusters(ctx.conn)? {
        let Some(latest) = store::latest_revision(ctx.conn, &row.name)? else {
            continue;
        };
        let record = EffectiveRecord::decode(&latest.effective)?;
        let mut changes = Vec::new();
        for c in record.components.iter().filter(|c| components.contains(&c.id)) {
            let skip = |reason: &str, detail: String| Skipped {
                cluster: row.name.clone(),
                component: c.id.clone(),
                reason: reason.into(),
                detail,
            };
            if let Some(hold) = holds.covering(&row.name, &c.id) {
                skipped.push(skip("held", hold.label()));
                continue;
            }
            match c.oci_tag_source.kind.as_str() {
                "cluster_pin" => {
                    skipped.push(skip("pinned", format!("the cluster is pinned to {}", c.oci_tag)));
                    continue;
                }
                "override" if newer(&c.oci_tag, ours.as_ref()) => {
                    skipped.push(skip(
                        "override",
                        format!("an override to the newer {} decides", c.oci_tag),
                    ));
                    continue;
                }
                _ => {}
            }
            changes.push(StepComponent {
                component: c.id.clone(),
                from: Some(TagPath {
                    oci_tag: c.oci_tag.clone(),
                    component_path: c.component_path.clone(),
                }),
                to: TagPath {
                    oci_tag: tag.to_string(),
                    component_path: paths.get(&c.id).map_or(c.component_path.clone(), |p| p.to_string()),
                },
            });
        }
        if changes.is_empty() {
            continue;
        }
        let labels = crate::service::domain::labels_of(&row)?;
        out.push((
            Target {
                name: row.name.clone(),
                tier: row.tier.clone(),
                labels,
            },
            StepCluster {
                cluster: row.name,
                components: changes,
            },
        ));
    }
    Ok((out, skipped))
}

/// Whether `tag` sorts after the rollout's tag; unorderable tags are never newer.
fn newer(tag: &str, ours: Option<&OrderedTag>) -> bool {
    let theirs = OciTag::parse(tag).ok().and_then(|t| OrderedTag::try_from(t).ok());
    matches!((theirs, ours), (Some(t), Some(o)) if t.version() > o.version())
}

/// A wave naming a cluster planning left out is refused with why, rather than "does not run it".
pub(super) fn check_named_skipped(
    specs: Option<&[CreateWave]>,
    targets: &[(Target, StepCluster)],
    skipped: &[Skipped],
) -> Result<(), Error> {
    for (i, wave) in specs.unwrap_or_default().iter().enumerate() {
        for (j, name) in wave.clusters.iter().enumerate() {
            let planned = targets.iter().any(|(t, _)| t.name == name.as_str());
            if let (false, Some(s)) = (planned, skipped.iter().find(|s| s.cluster == name.as_str())) {
                return Err(Error::refused(
                    Field::new("waves").index(i).field("clusters").index(j),
                    format!("cluster {name} is skipped: {} ({})", s.reason, s.detail),
                ));
            }
        }
    }
    Ok(())
}

//! Releases: moving the catalog's default tag to a new build, the normal flow, in one write.

use std::collections::{BTreeMap, BTreeSet};

use catalog::yaml::PathSeg;
use catalog::{Artifact, ArtifactId, ComponentId, ComponentPath, OciTag};
use serde_json::{json, Value};

use super::holds::{keep_held, Holds, Kept};
use super::{findings, AppState, Caller, Ctx, Outcome};
use crate::error::{Error, Field};

/// Release a build: every value parsed; whether the artifact and components exist and every
/// tier admits the tag is for the service to say.
#[derive(Debug, Clone)]
pub struct CreateRelease {
    pub artifact: ArtifactId,
    pub oci_tag: OciTag,
    /// `None` moves the artifact's default; `Some` moves these components' own tags instead.
    pub components: Option<Vec<ReleaseComponent>>,
    /// Why, as the person said; the new revisions carry it.
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ReleaseComponent {
    pub id: ComponentId,
    pub component_path: Option<ComponentPath>,
}

/// What a release did besides its changes: the held components it kept where they were, and
/// the components it left alone with why.
#[derive(Debug, Clone, Default)]
pub struct Released {
    pub held: Vec<Kept>,
    pub left_alone: Vec<LeftAlone>,
}

/// A component a release did not move, and why: `own_tag` (it follows a tag of its own; no
/// cluster), `override` (a cluster's override decides its tag) or `pinned` (the cluster's pin
/// decides it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftAlone {
    pub component: String,
    pub cluster: Option<String>,
    pub reason: &'static str,
    pub detail: String,
}

/// Releases `spec.oci_tag`: checked against every tier's policy (a default runs everywhere),
/// then written as a new catalog revision that re-resolves every cluster. Held clusters keep
/// what they run (returned), everything else moves.
pub fn release(
    state: &AppState,
    caller: &Caller,
    spec: CreateRelease,
    dry_run: bool,
) -> Result<Outcome<Released>, Error> {
    let tag = spec.oci_tag.clone();
    if let Some(list) = &spec.components {
        if list.is_empty() {
            return Err(Error::refused(
                "components",
                "name at least one component, or leave `components` out to move the artifact's default tag",
            ));
        }
        for (i, c) in list.iter().enumerate() {
            if list[..i].iter().any(|earlier| earlier.id == c.id) {
                return Err(Error::refused(
                    Field::new("components").index(i).field("id"),
                    format!("{:?} is listed twice", c.id.as_str()),
                ));
            }
        }
    }
    if spec.reason.as_ref().is_some_and(|r| r.len() > 200) {
        return Err(Error::refused("reason", "must be at most 200 characters"));
    }
    let reason =
        super::clusters::revision_reason(spec.reason.as_deref(), || format!("release {tag} of {}", spec.artifact));
    state.write(caller, dry_run, &reason, |ctx| {
        let artifact = ctx
            .catalog()
            .artifacts()
            .iter()
            .find(|a| a.id == spec.artifact)
            .cloned()
            .ok_or_else(|| unknown_artifact(ctx, spec.artifact.as_str()))?;
        check_default_tag(ctx, artifact.id.as_str(), &tag)?;
        let own: Vec<String> = ctx
            .catalog()
            .components()
            .iter()
            .filter(|c| c.artifact == artifact.id)
            .map(|c| c.id.to_string())
            .collect();
        super::rollouts::refuse_if_moving(ctx.conn, own.iter().map(String::as_str), "a release")?;
        let current = ctx.catalog().to_document();
        let mut doc = current.clone();
        // Catalog index of each listed component -> its index in the request.
        let mut listed: BTreeMap<usize, usize> = BTreeMap::new();
        match &spec.components {
            None => {
                let index = ctx
                    .catalog()
                    .artifacts()
                    .iter()
                    .position(|a| a.id == artifact.id)
                    .ok_or_else(|| Error::Internal("the released artifact vanished".into()))?;
                set(&mut doc, "artifacts", index, "oci_tag", tag.as_str())?;
            }
            Some(list) => {
                for (i, c) in list.iter().enumerate() {
                    let index = component_index(ctx, &artifact, i, &c.id)?;
                    set(&mut doc, "components", index, "oci_tag", tag.as_str())?;
                    if let Some(path) = &c.component_path {
                        set(&mut doc, "components", index, "component_path", path.as_str())?;
                    }
                    listed.insert(index, i);
                }
            }
        }
        // Releasing what is already the default changes nothing: no revision, no audit entry.
        if doc == current {
            return Ok(Released::default());
        }
        let (moved, repathed) = moved_by(ctx, &artifact, &spec);
        let left_alone = left_alone(ctx, &artifact, &spec, &moved)?;
        let held = keep_held(ctx, &moved, &repathed)?;
        if let Err(e) = ctx.set_catalog(doc.clone(), "api").map(drop) {
            return Err(rebase(e, &listed, &doc));
        }
        let view = |doc: &Value| release_view(doc, &artifact, &listed);
        ctx.audit(
            "release",
            &format!("artifact/{}", artifact.id),
            Some(&view(&current)),
            Some(&view(&doc)),
        );
        Ok(Released { held, left_alone })
    })
}

/// What the release leaves alone: with the artifact's default moving, the artifact's components
/// that follow a tag of their own; and on each cluster not held, a moved component whose tag an
/// override (not expired) or the cluster's pin decides.
fn left_alone(
    ctx: &mut Ctx<'_>,
    artifact: &Artifact,
    spec: &CreateRelease,
    moved: &BTreeSet<String>,
) -> Result<Vec<LeftAlone>, Error> {
    let mut out = Vec::new();
    if spec.components.is_none() {
        for c in ctx.catalog().components().iter().filter(|c| c.artifact == artifact.id) {
            if let Some(tag) = &c.oci_tag {
                out.push(LeftAlone {
                    component: c.id.to_string(),
                    cluster: None,
                    reason: "own_tag",
                    detail: format!("it follows its own tag {tag}"),
                });
            }
        }
    }
    let holds = Holds::load(ctx.conn, ctx.now)?;
    let pins: BTreeMap<String, Option<String>> = crate::store::clusters(ctx.conn)?
        .into_iter()
        .map(|c| (c.name, c.oci_tag))
        .collect();
    for a in crate::store::tag_deciding_assignments(ctx.conn)? {
        if !a.enabled || !moved.contains(&a.component) || holds.covering(&a.cluster, &a.component).is_some() {
            continue;
        }
        let live = a.expires_at.is_none_or(|at| at > ctx.now);
        let (reason, detail) = match (&a.oci_tag, pins.get(&a.cluster).cloned().flatten()) {
            (Some(tag), _) if live => (
                "override",
                match &a.reason {
                    Some(why) => format!("its override {tag} ({why}) decides its tag"),
                    None => format!("its override {tag} decides its tag"),
                },
            ),
            (_, Some(pin)) => ("pinned", format!("the cluster's pin {pin} decides its tag")),
            _ => continue,
        };
        out.push(LeftAlone {
            component: a.component.clone(),
            cluster: Some(a.cluster.clone()),
            reason,
            detail,
        });
    }
    out.sort_by(|x, y| (&x.cluster, &x.component).cmp(&(&y.cluster, &y.component)));
    Ok(out)
}

/// The components whose default tag a release moves, and those whose default path it moves.
fn moved_by(ctx: &Ctx<'_>, artifact: &Artifact, spec: &CreateRelease) -> (BTreeSet<String>, BTreeSet<String>) {
    match &spec.components {
        None => {
            let following = ctx
                .catalog()
                .components()
                .iter()
                .filter(|c| c.artifact == artifact.id && c.oci_tag.is_none())
                .map(|c| c.id.to_string())
                .collect();
            (following, BTreeSet::new())
        }
        Some(list) => (
            list.iter().map(|c| c.id.to_string()).collect(),
            list.iter()
                .filter(|c| c.component_path.is_some())
                .map(|c| c.id.to_string())
                .collect(),
        ),
    }
}

fn unknown_artifact(ctx: &Ctx<'_>, name: &str) -> Error {
    let known: Vec<&str> = ctx.catalog().artifacts().iter().map(|a| a.id.as_str()).collect();
    Error::refused(
        "artifact",
        format!("unknown artifact {name:?} (known: {})", known.join(", ")),
    )
}

/// A catalog default runs in every tier: each tier's policy must allow the tag, the tag must be
/// registered where a tier requires known tags, and have a digest where a tier pins digests
/// (else those clusters could not be served after the change).
pub(super) fn check_default_tag(ctx: &mut Ctx<'_>, artifact: &str, tag: &OciTag) -> Result<(), Error> {
    check_tag_in_tiers(ctx, artifact, tag, |_| true)
}

/// Each tier `reached` selects must admit the tag (see `admission`): what a write pointing
/// clusters at a tag checks before it plans anything.
pub(super) fn check_tag_in_tiers(
    ctx: &mut Ctx<'_>,
    artifact: &str,
    tag: &OciTag,
    reached: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    let tiers: Vec<catalog::Tier> = ctx
        .catalog()
        .tiers()
        .iter()
        .filter(|t| reached(t.name.as_str()))
        .cloned()
        .collect();
    for tier in &tiers {
        super::admission::admit(ctx, tier, artifact, tag)?;
    }
    Ok(())
}

/// The catalog index of the request's `i`-th component, which must belong to `artifact`.
fn component_index(ctx: &Ctx<'_>, artifact: &Artifact, i: usize, id: &ComponentId) -> Result<usize, Error> {
    let path = Field::new("components").index(i).field("id");
    let components = ctx.catalog().components();
    let index = components
        .iter()
        .position(|c| &c.id == id)
        .ok_or_else(|| Error::refused(path.clone(), format!("unknown component {:?}", id.as_str())))?;
    if components[index].artifact != artifact.id {
        return Err(Error::refused(
            path,
            format!(
                "component {id} is built into artifact {}, not {}",
                components[index].artifact, artifact.id
            ),
        ));
    }
    Ok(index)
}

fn set(doc: &mut Value, list: &str, index: usize, key: &str, value: &str) -> Result<(), Error> {
    doc.get_mut(list)
        .and_then(|l| l.get_mut(index))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Internal(format!("a catalog document without {list}[{index}]")))?
        .insert(key.to_owned(), value.into());
    Ok(())
}

/// What the audit log keeps of a release: the artifact's default and the listed components.
fn release_view(doc: &Value, artifact: &Artifact, listed: &BTreeMap<usize, usize>) -> Value {
    let default = doc
        .get("artifacts")
        .and_then(Value::as_array)
        .and_then(|l| {
            l.iter()
                .find(|a| a.get("id").and_then(Value::as_str) == Some(artifact.id.as_str()))
        })
        .and_then(|a| a.get("oci_tag"))
        .cloned();
    let components: Vec<Value> = listed
        .keys()
        .filter_map(|&i| doc.get("components")?.get(i).cloned())
        .collect();
    json!({"artifact": artifact.id.as_str(), "oci_tag": default, "components": components})
}

/// Catalog findings become findings about the command: a tag the catalog refuses is about
/// `oci_tag`, a listed component's path about that entry of `components`; others stay where
/// they are in the catalog.
fn rebase(e: Error, listed: &BTreeMap<usize, usize>, doc: &Value) -> Error {
    let Error::InvalidCatalog(report) = e else { return e };
    let refusals: Vec<(Field, String)> = report
        .errors()
        .map(|d| {
            let message = findings::message(d);
            let located = match d.location().segments() {
                [PathSeg::Key(list), PathSeg::Index(index), PathSeg::Key(field)] => {
                    let id = doc
                        .get(list)
                        .and_then(|l| l.get(index))
                        .and_then(|e| e.get("id")?.as_str());
                    match (list.as_str(), field.as_str(), id) {
                        (_, "oci_tag", Some(id)) => Some((
                            Field::new("oci_tag"),
                            format!("{} {id}: {message}", list.strip_suffix('s').unwrap_or(list)),
                        )),
                        ("components", "component_path", Some(_)) => listed.get(index).map(|i| {
                            (
                                Field::new("components").index(*i).field("component_path"),
                                message.clone(),
                            )
                        }),
                        _ => None,
                    }
                }
                _ => None,
            };
            located.unwrap_or_else(|| (findings::catalog_field(d), message))
        })
        .collect();
    let summary = format!("the release breaks {} catalog rule(s)", refusals.len());
    Error::refused_fields(summary, refusals)
}

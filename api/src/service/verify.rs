//! Path verification: before a write points a cluster at (tag, path), the build must hold
//! `<component_path>/<tier>/kustomization.yaml`. The build's file listing is read from the
//! registry once per digest (digests are immutable) and cached.
//!
//! The engine checks the paths every write would deploy inside the write's transaction, so
//! what is checked is exactly what is committed. A registry that cannot be reached skips the
//! check with a warning (and is remembered as down for a while, so later writes do not wait on
//! it again) rather than blocking every write; a reachable build that lacks a path is refused
//! with 422.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Catalog;

use super::{AppState, ClusterChange, Ctx};
use crate::error::Error;
use crate::store;

/// The files each (artifact, tag) must hold for `changes` to deploy.
fn required(changes: &[ClusterChange]) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut need: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for change in changes {
        for cc in change.components.iter() {
            let Some(to) = &cc.to else { continue };
            need.entry((cc.artifact.clone(), to.oci_tag.clone()))
                .or_default()
                .insert(format!("{}/kustomization.yaml", cc.overlay.trim_start_matches("./")));
        }
    }
    need
}

/// Checks the paths a write's changes deploy, inside the write.
pub(super) fn check_changes(state: &AppState, ctx: &mut Ctx<'_>, changes: &[ClusterChange]) -> Result<(), Error> {
    let need = required(changes);
    if need.is_empty() {
        return Ok(());
    }
    let catalog = ctx.catalog().clone();
    check_files(state, &catalog, ctx.conn, need)
}

/// Checks that each (artifact id, tag) build holds the given files; builds of a registry that
/// cannot be reached are skipped with a warning.
pub fn check_files(
    state: &AppState,
    catalog: &Catalog,
    conn: &mut crate::db::DbConnection,
    need: BTreeMap<(String, String), BTreeSet<String>>,
) -> Result<(), Error> {
    if need.is_empty() {
        return Ok(());
    }
    let registry = state.registry()?;
    for ((artifact_id, tag), files) in need {
        let Some(artifact) = catalog.artifacts().iter().find(|a| a.id.as_str() == artifact_id) else {
            continue;
        };
        let target = super::sync::target_of(artifact)?;
        let stored = store::tag(conn, &artifact_id, &tag)?.and_then(|r| r.digest);
        let cached = stored.as_deref().and_then(|d| registry.cached_listing(d));
        if cached.is_none() && registry.down_recently(&target.host) {
            tracing::warn!(artifact = %artifact_id, %tag, "path check skipped: the registry was unreachable moments ago");
            continue;
        }
        let digest = match stored {
            Some(d) => d,
            None => match registry.digest(&target, &tag) {
                Ok(Some(d)) => d,
                Ok(None) => {
                    return Err(Error::Invalid(format!(
                        "tag {tag} of artifact {artifact_id} does not exist in {target}: nothing to deploy"
                    )))
                }
                Err(Error::Unavailable(e)) => {
                    registry.mark_down(&target.host);
                    tracing::warn!(artifact = %artifact_id, %tag, error = %e, "path check skipped: the registry is unavailable");
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let listing = match registry.listing(&target, &digest) {
            Ok(l) => l,
            Err(Error::Unavailable(e)) => {
                registry.mark_down(&target.host);
                tracing::warn!(artifact = %artifact_id, %tag, error = %e, "path check skipped: the registry is unavailable");
                continue;
            }
            Err(Error::NotFound { .. }) => {
                return Err(Error::Invalid(format!(
                    "build {tag} ({digest}) of artifact {artifact_id} does not exist in {target}"
                )))
            }
            Err(e) => return Err(e),
        };
        let missing: Vec<&String> = files.iter().filter(|f| !listing.files.contains(*f)).collect();
        if !missing.is_empty() {
            let list = missing.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
            return Err(Error::Invalid(format!(
                "build {tag} ({digest}) of artifact {artifact_id} has no {list}: \
                 the cluster would get a path that is not in the build"
            )));
        }
    }
    Ok(())
}

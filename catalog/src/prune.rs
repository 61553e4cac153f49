//! Which version directories of the platform repo tree may go: per component directory, the
//! newest `keep` versions stay, and so does every version something still uses, whatever its age.
//!
//! Versions are ordered like tags (hotfix-aware: `1.14.5 < 1.14.5-1 < 1.14.6`), so the newest
//! is the one a release would pick. A directory whose name is not a version is reported and
//! never touched: nobody can say where it sits in the order.

use std::collections::BTreeMap;

use crate::tag::Version;

/// What the plan does with one version directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Among the newest `keep` versions.
    Keep,
    /// Older than the newest `keep`, but something uses it: a stricter policy would break it.
    Protect,
    /// Older than the newest `keep` and unused.
    Remove,
}

/// One version directory and its fate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VersionDir {
    /// The directory's name, e.g. `1.14.5`.
    pub name: String,
    /// Its path in the tree, e.g. `core/cert-manager/1.14.5`.
    pub path: String,
    pub decision: Decision,
    /// Who uses it, one short line each (`default cert-manager`, `pin prod-eu-1/grafana`, …).
    pub uses: Vec<String>,
}

/// One component directory: its versions newest first, and the names that are not versions.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComponentDir {
    pub dir: String,
    pub versions: Vec<VersionDir>,
    pub not_versions: Vec<String>,
}

/// The whole plan, component directory by component directory, in path order.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PrunePlan {
    pub keep: usize,
    pub components: Vec<ComponentDir>,
    /// Paths something uses that the tree does not hold, with their uses.
    pub missing: Vec<(String, Vec<String>)>,
}

impl PrunePlan {
    /// Every directory the plan removes.
    pub fn removed(&self) -> impl Iterator<Item = &VersionDir> {
        self.decided(Decision::Remove)
    }

    /// Every directory kept only because something uses it.
    pub fn protected(&self) -> impl Iterator<Item = &VersionDir> {
        self.decided(Decision::Protect)
    }

    fn decided(&self, decision: Decision) -> impl Iterator<Item = &VersionDir> {
        self.components
            .iter()
            .flat_map(|c| c.versions.iter())
            .filter(move |v| v.decision == decision)
    }
}

/// The component directories worth looking at: the parent of every used path. A path at the
/// top of the tree has no component directory (its siblings are other components) and is left
/// out, as are parents that are themselves used paths.
pub fn component_dirs<'a>(used: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let used: Vec<&str> = used.into_iter().collect();
    let mut dirs: Vec<String> = used
        .iter()
        .filter_map(|p| p.rsplit_once('/').map(|(parent, _)| parent.to_owned()))
        .filter(|parent| !used.contains(&parent.as_str()))
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Plans `keep` newest versions of each component directory. `listing` gives each component
/// directory's subdirectory names (as the tree holds them); `uses` each used path's uses.
pub fn plan(listing: &BTreeMap<String, Vec<String>>, uses: &BTreeMap<String, Vec<String>>, keep: usize) -> PrunePlan {
    let mut components = Vec::new();
    for (dir, names) in listing {
        let mut versions: Vec<(Version, &String)> = Vec::new();
        let mut not_versions = Vec::new();
        for name in names {
            match Version::parse(name) {
                Ok(v) => versions.push((v, name)),
                Err(_) => not_versions.push(name.clone()),
            }
        }
        // Newest first; `v1.0.0` and `1.0.0` are one version, so their names break the tie.
        versions.sort_by(|(a, an), (b, bn)| b.cmp(a).then_with(|| an.cmp(bn)));
        not_versions.sort();
        let versions = versions
            .into_iter()
            .enumerate()
            .map(|(i, (_, name))| {
                let path = format!("{dir}/{name}");
                let used = uses.get(&path).cloned().unwrap_or_default();
                let decision = match (i < keep, used.is_empty()) {
                    (true, _) => Decision::Keep,
                    (false, false) => Decision::Protect,
                    (false, true) => Decision::Remove,
                };
                VersionDir {
                    name: name.clone(),
                    path,
                    decision,
                    uses: used,
                }
            })
            .collect();
        components.push(ComponentDir {
            dir: dir.clone(),
            versions,
            not_versions,
        });
    }
    let present = |path: &str| {
        path.rsplit_once('/')
            .is_some_and(|(parent, name)| listing.get(parent).is_some_and(|names| names.iter().any(|n| n == name)))
    };
    let missing = uses
        .iter()
        .filter(|(path, _)| listing.contains_key(parent_of(path)) && !present(path))
        .map(|(path, u)| (path.clone(), u.clone()))
        .collect();
    PrunePlan {
        keep,
        components,
        missing,
    }
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &str, names: &[&str]) -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([(dir.to_owned(), names.iter().map(|n| (*n).to_owned()).collect())])
    }

    fn decisions(plan: &PrunePlan) -> Vec<(&str, Decision)> {
        plan.components[0]
            .versions
            .iter()
            .map(|v| (v.name.as_str(), v.decision))
            .collect()
    }

    #[test]
    fn versions_are_kept_newest_first_in_hotfix_order_and_used_old_ones_are_protected() {
        let names = ["1.14.4", "1.14.5-1", "1.14.5", "1.15.0-rc1", "1.13.0", "1.12.0", "base"];
        let uses = BTreeMap::from([("core/cm/1.12.0".to_owned(), vec!["pin prod-eu-1/cm".to_owned()])]);
        let plan = plan(&listing("core/cm", &names), &uses, 3);
        assert_eq!(
            decisions(&plan),
            [
                ("1.15.0-rc1", Decision::Keep),
                ("1.14.5-1", Decision::Keep),
                ("1.14.5", Decision::Keep),
                ("1.14.4", Decision::Remove),
                ("1.13.0", Decision::Remove),
                ("1.12.0", Decision::Protect),
            ]
        );
        assert_eq!(plan.components[0].not_versions, ["base"]);
        assert_eq!(plan.protected().count(), 1);
    }

    #[test]
    fn a_used_path_the_tree_lacks_is_reported_missing() {
        let uses = BTreeMap::from([("core/cm/2.0.0".to_owned(), vec!["default cm".to_owned()])]);
        let plan = plan(&listing("core/cm", &["1.0.0"]), &uses, 3);
        assert_eq!(
            plan.missing,
            [("core/cm/2.0.0".to_owned(), vec!["default cm".to_owned()])]
        );
    }

    #[test]
    fn component_dirs_are_the_parents_of_used_paths_below_the_top() {
        let dirs = component_dirs(["core/cm/1.0.0", "core/cm/1.1.0", "grafana", "obs/g/7.0.0"]);
        assert_eq!(dirs, ["core/cm", "obs/g"]);
    }
}

//! Checks a platform repo tree against the catalog: every component path exists and holds one
//! overlay per tier with a kustomization file. The tree is abstract so the same rule applies to
//! a checkout on disk and to the file listing of an artifact build.

use crate::catalog::Catalog;
use crate::ids::ComponentId;

/// The file names kustomize recognises as a kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A read-only view of a tree of files, addressed by relative `/`-separated paths.
pub trait Tree {
    fn is_dir(&self, path: &str) -> bool;
    fn is_file(&self, path: &str) -> bool;
}

/// A component whose files are missing from the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeProblem {
    pub component: ComponentId,
    /// `tree-path` (the version directory is missing) or `tree-overlay` (a tier's overlay is).
    pub rule: &'static str,
    pub message: String,
}

/// Every problem, component by component, tier by tier.
pub fn check_tree(catalog: &Catalog, tree: &dyn Tree) -> Vec<TreeProblem> {
    let mut problems = Vec::new();
    for c in catalog.components() {
        let path = c.component_path.as_str();
        if !tree.is_dir(path) {
            problems.push(TreeProblem {
                component: c.id.clone(),
                rule: "tree-path",
                message: format!("component_path {path}/ does not exist in the tree"),
            });
            continue;
        }
        for tier in catalog.tier_names() {
            let overlay = format!("{path}/{tier}");
            if !KUSTOMIZATION_FILES
                .iter()
                .any(|f| tree.is_file(&format!("{overlay}/{f}")))
            {
                problems.push(TreeProblem {
                    component: c.id.clone(),
                    rule: "tree-overlay",
                    message: format!("the {tier} overlay {overlay}/kustomization.yaml does not exist"),
                });
            }
        }
    }
    problems
}

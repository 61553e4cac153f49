//! Rules across fields: dependencies, cycles, one tag form per artifact, tier policy.

use std::collections::{BTreeMap, HashMap};

use crate::error::Error;
use crate::policy::Tier;
use crate::yaml::JsonPath;

use super::{Checker, PartialArtifact, PartialComponent};

impl Checker<'_> {
    /// Known dependencies, enabled dependencies, and no cycles.
    pub(super) fn dependencies(&mut self, components: &[PartialComponent]) {
        let mut by_id: BTreeMap<&str, &PartialComponent> = BTreeMap::new();
        for c in components {
            if let Some(id) = &c.id {
                by_id.entry(id.as_str()).or_insert(c);
            }
        }
        for c in components {
            let Some(id) = &c.id else { continue };
            for (at, dep) in &c.depends_on {
                match by_id.get(dep.as_str()) {
                    None => self.fail(
                        at.clone(),
                        "known-dependency",
                        format!("{id} depends on unknown component \"{dep}\""),
                    ),
                    Some(d) if c.enabled && !d.enabled => self.fail(
                        at.clone(),
                        "enabled-dependency",
                        format!("{id} depends on {dep}, which is disabled (enabled: false)"),
                    ),
                    Some(_) => {}
                }
            }
        }
        let graph: BTreeMap<&str, Vec<&str>> = by_id
            .iter()
            .map(|(id, c)| {
                let deps = c
                    .depends_on
                    .iter()
                    .map(|(_, d)| d.as_str())
                    .filter(|d| by_id.contains_key(d))
                    .collect();
                (*id, deps)
            })
            .collect();
        for cycle in find_cycles(&graph) {
            let at = by_id[cycle[0]].at.key("depends_on");
            self.fail(
                at,
                "no-dependency-cycle",
                format!("dependency cycle: {}", cycle.join(" -> ")),
            );
        }
    }

    /// All version tags of one artifact use one form: with `v` or without. The artifact's own
    /// default declares the form; a component tag in the other form is an error.
    pub(super) fn tag_forms(&mut self, artifacts: &[PartialArtifact], components: &[PartialComponent]) {
        for artifact in artifacts {
            let Some(id) = &artifact.id else { continue };
            let mut declared = artifact
                .oci_tag
                .as_ref()
                .and_then(|t| Some((t.has_v_prefix()?, t.to_string())));
            for c in components.iter().filter(|c| c.artifact.as_ref() == Some(id)) {
                let Some(tag) = &c.oci_tag else { continue };
                let Some(v) = tag.has_v_prefix() else { continue };
                match &declared {
                    None => declared = Some((v, tag.to_string())),
                    Some((form, first)) if *form != v => {
                        let form = if *form { "v-prefixed" } else { "bare (no v)" };
                        let message =
                            format!("tag \"{tag}\" mixes forms with \"{first}\": artifact {id} uses {form} tags");
                        self.fail(c.at.key("oci_tag"), "one-tag-form", message);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Every default tag must be allowed in every tier, since every tier runs it by default.
    pub(super) fn tier_policies(
        &mut self,
        artifacts: &[PartialArtifact],
        tiers: &[&Tier],
        components: &[PartialComponent],
    ) {
        let defaults: Vec<(JsonPath, &crate::tag::OciTag)> = artifacts
            .iter()
            .filter_map(|a| Some((a.at.key("oci_tag"), a.oci_tag.as_ref()?)))
            .chain(
                components
                    .iter()
                    .filter_map(|c| Some((c.at.key("oci_tag"), c.oci_tag.as_ref()?))),
            )
            .collect();
        for tier in tiers {
            for (path, tag) in &defaults {
                if let Err(e @ Error::PolicyRefused { rule, .. }) = tier.policy.check(&tier.name, tag) {
                    self.fail(path.clone(), rule.as_str(), e.to_string());
                }
            }
        }
    }
}

/// Each elementary cycle once, rotated to start at its smallest id, as `a -> b -> a`.
pub(super) fn find_cycles<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    struct Walk<'g, 'a> {
        graph: &'g BTreeMap<&'a str, Vec<&'a str>>,
        marks: HashMap<&'a str, Mark>,
        stack: Vec<&'a str>,
        cycles: Vec<Vec<&'a str>>,
    }
    impl<'a> Walk<'_, 'a> {
        fn visit(&mut self, node: &'a str) {
            self.marks.insert(node, Mark::Open);
            self.stack.push(node);
            for &next in self.graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
                match self.marks.get(next) {
                    None => self.visit(next),
                    Some(Mark::Open) => {
                        let start = self.stack.iter().position(|n| *n == next).unwrap_or(0);
                        let mut cycle = self.stack[start..].to_vec();
                        let min = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
                        cycle.rotate_left(min);
                        cycle.push(cycle[0]);
                        if !self.cycles.contains(&cycle) {
                            self.cycles.push(cycle);
                        }
                    }
                    Some(Mark::Done) => {}
                }
            }
            self.stack.pop();
            self.marks.insert(node, Mark::Done);
        }
    }
    let mut walk = Walk {
        graph,
        marks: HashMap::new(),
        stack: Vec::new(),
        cycles: Vec::new(),
    };
    for &node in graph.keys() {
        if !walk.marks.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_once_from_their_smallest_member() {
        let graph: BTreeMap<&str, Vec<&str>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec!["d"]),
            ("e", vec!["a"]),
        ]
        .into();
        assert_eq!(find_cycles(&graph), vec![vec!["a", "b", "c", "a"], vec!["d", "d"]]);
    }
}

//! Builds a [`Catalog`] from COMPONENTS.yaml, reporting every problem at once.
//!
//! Parsing and checking are one pass: each field is parsed into its newtype where it stands,
//! and whatever fails becomes a finding with the file, the line, the JSON path and the rule.
//! The JSON Schema runs first for shape (types, required and unknown fields); the rules a
//! schema cannot express follow (unique ids, references, cycles, tag forms, tier policy).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use crate::catalog::{Artifact, Catalog, Component, KustomizationDefaults};
use crate::diagnostics::{Report, Severity};
use crate::error::Error;
use crate::ids::{ArtifactId, ArtifactUrl, ComponentId, ComponentPath, FluxDuration, Namespace, TierName};
use crate::policy::{TagRegex, Tier, TierPolicy};
use crate::schema;
use crate::tag::OciTag;
use crate::yaml::{self, JsonPath, YamlDoc};

/// A loaded catalog with the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub catalog: Catalog,
    pub warnings: Report,
    pub doc: YamlDoc,
}

impl Loaded {
    /// The line and JSON path of a component's field, for findings about a loaded catalog.
    pub fn locate(&self, component: &str, field: &str) -> (Option<usize>, JsonPath) {
        let list = items(get(&self.doc.value, "components"));
        let index = list.iter().position(|c| get(c, "id").and_then(Value::as_str) == Some(component));
        let path = match index {
            Some(i) => JsonPath::root().key("components").index(i).key(field),
            None => JsonPath::root().key("components"),
        };
        (self.doc.line(&path), path)
    }
}

/// Parses and validates a catalog. `file` names the source in every finding.
pub fn load(file: &str, text: &str) -> Result<Loaded, Report> {
    let mut report = Report::new(file);
    let doc = match yaml::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            report.push(Severity::Error, Some(e.line), "$".into(), "yaml-syntax", e.message);
            return Err(report);
        }
    };
    let mut checker = Checker { doc: &doc, findings: Vec::new() };
    for (path, line, first) in &doc.duplicates {
        checker.findings.push(Finding::error(
            path.clone(),
            "duplicate-key",
            format!("this key appears twice in one mapping (first on line {first}, again on line {line})"),
        ));
    }
    let shape = schema::check(&doc.value);
    let catalog = checker.catalog();
    let semantic_paths: HashSet<&JsonPath> = checker.findings.iter().map(|f| &f.path).collect();
    let shape: Vec<Finding> = shape
        .into_iter()
        .filter(|f| !semantic_paths.contains(&f.path))
        .map(|f| Finding::error(f.path, f.rule, f.message))
        .collect();
    let mut findings = shape;
    findings.append(&mut checker.findings);
    for f in findings {
        let line = doc.line(&f.path);
        report.push(f.severity, line, f.path.to_string(), &f.rule, f.message);
    }
    report.sort();
    match catalog {
        Some(catalog) if !report.has_errors() => Ok(Loaded { catalog, warnings: report, doc }),
        _ => Err(report),
    }
}

struct Finding {
    severity: Severity,
    path: JsonPath,
    rule: String,
    message: String,
}

impl Finding {
    fn error(path: JsonPath, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Finding { severity: Severity::Error, path, rule: rule.into(), message: message.into() }
    }
}

struct Checker<'a> {
    doc: &'a YamlDoc,
    findings: Vec<Finding>,
}

/// All parts, or `None` when any failed to build.
fn all<T>(parts: Vec<Option<(JsonPath, T)>>) -> Option<Vec<T>> {
    parts.into_iter().map(|o| o.map(|(_, x)| x)).collect()
}

/// Field lookups that stay quiet on missing or mistyped values: the schema reports those.
fn get<'v>(obj: &'v Value, key: &str) -> Option<&'v Value> {
    obj.as_object().and_then(|m| m.get(key))
}

fn items(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

impl Checker<'_> {
    fn fail(&mut self, path: JsonPath, rule: &str, message: impl Into<String>) {
        self.findings.push(Finding::error(path, rule, message));
    }

    /// Parses a string field with `parse`; a refusal becomes a finding under `rule`.
    fn field<T>(
        &mut self,
        obj: &Value,
        at: &JsonPath,
        key: &str,
        rule: &str,
        parse: impl FnOnce(&str) -> Result<T, Error>,
    ) -> Option<T> {
        let text = get(obj, key)?.as_str()?;
        match parse(text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(at.key(key), rule, e.to_string());
                None
            }
        }
    }

    fn flag(obj: &Value, key: &str) -> Option<bool> {
        get(obj, key).and_then(Value::as_bool)
    }

    fn catalog(&mut self) -> Option<Catalog> {
        let root = &self.doc.value;
        let at = JsonPath::root();
        let artifacts = self.artifacts(items(get(root, "artifacts")), &at.key("artifacts"));
        let tiers = self.tiers(items(get(root, "tiers")), &at.key("tiers"));
        let components = self.components(items(get(root, "components")), &at.key("components"), &artifacts);
        self.dependencies(&components);
        self.tag_forms(&artifacts, &components);
        self.tier_policies(&artifacts, &tiers, &components);
        Some(Catalog::from_checked_parts(all(artifacts)?, all(tiers)?, all(components)?))
    }

    fn unique(&mut self, what: &str, ids: impl Iterator<Item = (JsonPath, String)>) {
        let mut seen: HashMap<String, JsonPath> = HashMap::new();
        for (path, id) in ids {
            if let Some(first) = seen.get(&id) {
                let first_line = self.doc.line(first).map(|l| format!(" (first on line {l})")).unwrap_or_default();
                self.fail(path, "unique-id", format!("{what} {id:?} is declared twice{first_line}"));
            } else {
                seen.insert(id, path);
            }
        }
    }

    fn artifacts(&mut self, list: &[Value], at: &JsonPath) -> Vec<Option<(JsonPath, Artifact)>> {
        self.unique("artifact", ids_of(list, at, "id"));
        let mut out = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let at = at.index(i);
            let id = self.field(a, &at, "id", "dns-1123-label", ArtifactId::parse);
            let url = self.field(a, &at, "url", "oci-url", ArtifactUrl::parse);
            let oci_tag = self.field(a, &at, "oci_tag", "oci-tag", OciTag::parse);
            out.push(match (id, url, oci_tag) {
                (Some(id), Some(url), Some(oci_tag)) => Some((at, Artifact { id, url, oci_tag })),
                _ => None,
            });
        }
        out
    }

    fn tiers(&mut self, list: &[Value], at: &JsonPath) -> Vec<Option<(JsonPath, Tier)>> {
        self.unique("tier", ids_of(list, at, "name"));
        let mut out = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let at = at.index(i);
            let Some(name) = self.field(t, &at, "name", "dns-1123-label", TierName::parse) else {
                out.push(None);
                continue;
            };
            let mut policy = TierPolicy::default_for(&name);
            let mut pattern_ok = true;
            if let Some(p) = get(t, "policy") {
                let at = at.key("policy");
                policy.allow_mutable = Self::flag(p, "allow_mutable").unwrap_or(policy.allow_mutable);
                policy.allow_prerelease = Self::flag(p, "allow_prerelease").unwrap_or(policy.allow_prerelease);
                policy.pin_digest = Self::flag(p, "pin_digest").unwrap_or(policy.pin_digest);
                policy.require_known_tag = Self::flag(p, "require_known_tag").unwrap_or(policy.require_known_tag);
                if get(p, "pattern").is_some() {
                    policy.pattern = self.field(p, &at, "pattern", "regex", |s| TagRegex::new("pattern", s));
                    pattern_ok = policy.pattern.is_some();
                }
            }
            out.push(pattern_ok.then_some((at, Tier { name, policy })));
        }
        out
    }

    fn components(
        &mut self,
        list: &[Value],
        at: &JsonPath,
        artifacts: &[Option<(JsonPath, Artifact)>],
    ) -> Vec<Option<(JsonPath, Component)>> {
        self.unique("component", ids_of(list, at, "id"));
        let known_artifacts: Vec<&str> = list_ids(artifacts.iter().flatten().map(|(_, a)| a.id.as_str()));
        let mut out = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let at = at.index(i);
            let id = self.field(c, &at, "id", "dns-1123-label", ComponentId::parse);
            let category = self.field(c, &at, "category", "dns-1123-label", |s| {
                ComponentId::parse(s).map(|_| s.to_owned()).map_err(|_| category_error(s))
            });
            let artifact = self.component_artifact(c, &at, &known_artifacts);
            let component_path = self.field(c, &at, "component_path", "safe-relative-path", ComponentPath::parse);
            let oci_tag = self.field(c, &at, "oci_tag", "oci-tag", OciTag::parse);
            let oci_tag_ok = get(c, "oci_tag").is_none() || oci_tag.is_some();
            let target_namespace = self.field(c, &at, "target_namespace", "dns-1123-label", Namespace::parse);
            let interval = self.duration(c, &at, "interval", KustomizationDefaults::DEFAULT_INTERVAL);
            let timeout = self.duration(c, &at, "timeout", KustomizationDefaults::DEFAULT_TIMEOUT);
            let mut depends_on = Vec::new();
            for (j, dep) in items(get(c, "depends_on")).iter().enumerate() {
                let Some(text) = dep.as_str() else { continue };
                match ComponentId::parse(text) {
                    Ok(d) => depends_on.push(d),
                    Err(e) => self.fail(at.key("depends_on").index(j), "dns-1123-label", e.to_string()),
                }
            }
            let component = match (id, category, artifact, component_path, interval, timeout) {
                (Some(id), Some(category), Some(artifact), Some(component_path), Some(interval), Some(timeout))
                    if oci_tag_ok =>
                {
                    Some(Component {
                        id,
                        category,
                        artifact,
                        component_path,
                        oci_tag,
                        depends_on,
                        kustomization: KustomizationDefaults {
                            interval,
                            timeout,
                            prune: Self::flag(c, "prune").unwrap_or(true),
                            wait: Self::flag(c, "wait").unwrap_or(true),
                            target_namespace,
                        },
                        enabled: Self::flag(c, "enabled").unwrap_or(true),
                    })
                }
                _ => None,
            };
            out.push(component.map(|c| (at, c)));
        }
        out
    }

    fn duration(&mut self, c: &Value, at: &JsonPath, key: &'static str, default: &str) -> Option<FluxDuration> {
        match get(c, key) {
            None => FluxDuration::parse(key, default).ok(),
            Some(_) => self.field(c, at, key, "duration", |s| FluxDuration::parse(key, s)),
        }
    }

    fn component_artifact(&mut self, c: &Value, at: &JsonPath, known: &[&str]) -> Option<ArtifactId> {
        match get(c, "artifact").and_then(Value::as_str) {
            Some(name) if known.contains(&name) => ArtifactId::parse(name).ok(),
            Some(name) => {
                let message = format!("unknown artifact {name:?} (known: {})", known.join(", "));
                self.fail(at.key("artifact"), "known-artifact", message);
                None
            }
            None if known.len() == 1 => ArtifactId::parse(known[0]).ok(),
            None if known.is_empty() => None,
            None => {
                let message = format!("the catalog has several artifacts ({}): name one", known.join(", "));
                self.fail(at.clone(), "artifact-required", message);
                None
            }
        }
    }

    /// Known dependencies, enabled dependencies, and no cycles.
    fn dependencies(&mut self, components: &[Option<(JsonPath, Component)>]) {
        let by_id: BTreeMap<&str, (&JsonPath, &Component)> =
            components.iter().flatten().map(|(p, c)| (c.id.as_str(), (p, c))).collect();
        for (path, c) in components.iter().flatten() {
            for (j, dep) in c.depends_on.iter().enumerate() {
                let at = path.key("depends_on").index(j);
                match by_id.get(dep.as_str()) {
                    None => self.fail(at, "known-dependency", format!("{} depends on unknown component {dep:?}", c.id)),
                    Some((_, d)) if c.enabled && !d.enabled => self.fail(
                        at,
                        "enabled-dependency",
                        format!("{} depends on {dep}, which is disabled (enabled: false)", c.id),
                    ),
                    Some(_) => {}
                }
            }
        }
        let graph: BTreeMap<&str, Vec<&str>> = by_id
            .iter()
            .map(|(id, (_, c))| (*id, c.depends_on.iter().map(|d| d.as_str()).filter(|d| by_id.contains_key(d)).collect()))
            .collect();
        for cycle in find_cycles(&graph) {
            let (path, _) = by_id[cycle[0]];
            self.fail(path.key("depends_on"), "no-dependency-cycle", format!("dependency cycle: {}", cycle.join(" -> ")));
        }
    }

    /// All version tags of one artifact use one form: with `v` or without.
    fn tag_forms(&mut self, artifacts: &[Option<(JsonPath, Artifact)>], components: &[Option<(JsonPath, Component)>]) {
        for (apath, artifact) in artifacts.iter().flatten() {
            let mut declared = artifact.oci_tag.has_v_prefix().map(|v| (v, apath.key("oci_tag"), artifact.oci_tag.to_string()));
            for (cpath, c) in components.iter().flatten().filter(|(_, c)| c.artifact == artifact.id) {
                let Some(tag) = &c.oci_tag else { continue };
                let Some(v) = tag.has_v_prefix() else { continue };
                match &declared {
                    None => declared = Some((v, cpath.key("oci_tag"), tag.to_string())),
                    Some((form, _, first)) if *form != v => {
                        let message = format!(
                            "tag {tag:?} mixes forms with {first:?}: artifact {} uses {} tags",
                            artifact.id,
                            if *form { "v-prefixed" } else { "bare (no v)" }
                        );
                        self.fail(cpath.key("oci_tag"), "one-tag-form", message);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Every default tag must be allowed in every tier, since every tier runs it by default.
    fn tier_policies(
        &mut self,
        artifacts: &[Option<(JsonPath, Artifact)>],
        tiers: &[Option<(JsonPath, Tier)>],
        components: &[Option<(JsonPath, Component)>],
    ) {
        let defaults = artifacts
            .iter()
            .flatten()
            .map(|(p, a)| (p.key("oci_tag"), &a.oci_tag))
            .chain(components.iter().flatten().filter_map(|(p, c)| Some((p.key("oci_tag"), c.oci_tag.as_ref()?))));
        let defaults: Vec<_> = defaults.collect();
        for (_, tier) in tiers.iter().flatten() {
            for (path, tag) in &defaults {
                if let Err(e @ Error::PolicyRefused { rule, .. }) = tier.policy.check(&tier.name, tag) {
                    self.fail(path.clone(), rule.as_str(), e.to_string());
                }
            }
        }
    }
}

fn category_error(value: &str) -> Error {
    Error::InvalidValue {
        field: "category",
        value: value.to_owned(),
        reason: "must consist of lower case letters, digits and '-' (DNS-1123 label)".into(),
    }
}

fn ids_of<'v>(list: &'v [Value], at: &'v JsonPath, key: &'v str) -> impl Iterator<Item = (JsonPath, String)> + 'v {
    list.iter().enumerate().filter_map(move |(i, v)| {
        let id = get(v, key)?.as_str()?;
        Some((at.index(i).key(key), id.to_owned()))
    })
}

fn list_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = ids.collect();
    v.dedup();
    v
}

/// Each elementary cycle once, starting at its smallest id, as `a -> b -> a`.
fn find_cycles<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        cycles: &mut Vec<Vec<&'a str>>,
    ) {
        marks.insert(node, Mark::Open);
        stack.push(node);
        for &next in graph.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::New => visit(next, graph, marks, stack, cycles),
                Mark::Open => {
                    let start = stack.iter().position(|n| *n == next).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[start..].to_vec();
                    let min = cycle.iter().enumerate().min_by_key(|(_, n)| **n).map(|(i, _)| i).unwrap_or(0);
                    cycle.rotate_left(min);
                    cycle.push(cycle[0]);
                    if !cycles.contains(&cycle) {
                        cycles.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node, Mark::Done);
    }
    let mut marks = HashMap::new();
    let mut cycles = Vec::new();
    for &node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_found_once_from_their_smallest_member() {
        let graph: BTreeMap<&str, Vec<&str>> =
            [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["d"]), ("e", vec!["a"])].into();
        assert_eq!(find_cycles(&graph), vec![vec!["a", "b", "c", "a"], vec!["d", "d"]]);
    }
}

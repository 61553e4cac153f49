//! Builds a [`Catalog`] from COMPONENTS.yaml, reporting every problem at once.
//!
//! Parsing and checking are one pass: each field is parsed into its newtype where it stands,
//! and whatever fails becomes a finding with the file, the line, the JSON path and the rule.
//! The JSON Schema runs first for shape (types, required and unknown fields); the rules a
//! schema cannot express follow (unique ids, references, cycles, tag forms, tier policy).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::catalog::{Artifact, Catalog, Component, KustomizationDefaults};
use crate::diagnostics::{Report, Severity};
use crate::error::Error;
use crate::ids::{ArtifactId, ArtifactUrl, ComponentId, ComponentPath, FluxDuration, Namespace, TierName};
use crate::policy::{TagRegex, Tier, TierPolicy};
use crate::schema;
use crate::tag::OciTag;
use crate::yaml::{JsonPath, YamlDoc};

mod rules;
mod safety;
mod verified;

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
        let index = list
            .iter()
            .position(|c| get(c, "id").and_then(Value::as_str) == Some(component));
        let path = match index {
            Some(i) => JsonPath::root().key("components").index(i).key(field),
            None => JsonPath::root().key("components"),
        };
        (self.doc.line(&path), path)
    }
}

/// Parses and validates a catalog. `file` names the source in every finding. The text may be
/// a stream (`export`'s output): its catalog document is the one validated, the side documents
/// (`tags:`, `clusters:`, `holds:`) are left to those who read them.
pub fn load(file: &str, text: &str) -> Result<Loaded, Report> {
    match crate::stream::split(text) {
        Ok(stream) => check(file, stream.catalog.unwrap_or_else(|| YamlDoc::from_value(Value::Null))),
        Err(e) => {
            let mut report = Report::new(file);
            report.push(Severity::Error, Some(e.line), "$".into(), "yaml-syntax", e.message);
            Err(report)
        }
    }
}

/// Validates a catalog document that is already parsed (an API body, a stored revision).
pub fn load_value(file: &str, value: Value) -> Result<Loaded, Report> {
    check(file, YamlDoc::from_value(value))
}

fn check(file: &str, doc: YamlDoc) -> Result<Loaded, Report> {
    let mut report = Report::new(file);
    let mut checker = Checker {
        doc: &doc,
        findings: Vec::new(),
    };
    for (path, line, first) in &doc.duplicates {
        let message = format!("this key appears twice in one mapping (first on line {first}); the second is ignored");
        let mut finding = Finding::error(path.clone(), "duplicate-key", message);
        finding.line = Some(*line);
        checker.findings.push(finding);
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
        let line = f.line.or_else(|| doc.line(&f.path));
        report.push(f.severity, line, f.path.to_string(), &f.rule, f.message);
    }
    report.sort();
    match catalog {
        Some(catalog) if !report.has_errors() => Ok(Loaded {
            catalog,
            warnings: report,
            doc,
        }),
        _ => Err(report),
    }
}

struct Finding {
    severity: Severity,
    path: JsonPath,
    /// Where the line is not the path's own (a duplicate key points at its second use).
    line: Option<usize>,
    rule: String,
    message: String,
}

impl Finding {
    fn error(path: JsonPath, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            path,
            line: None,
            rule: rule.into(),
            message: message.into(),
        }
    }
}

struct Checker<'a> {
    doc: &'a YamlDoc,
    findings: Vec<Finding>,
}

/// What could be parsed of one artifact; cross-field rules run on these even when a sibling
/// field failed, so one mistake does not hide another.
struct PartialArtifact {
    at: JsonPath,
    id: Option<ArtifactId>,
    oci_tag: Option<OciTag>,
    built: Option<Artifact>,
}

struct PartialTier {
    tier: Option<Tier>,
    complete: bool,
}

struct PartialComponent {
    at: JsonPath,
    id: Option<ComponentId>,
    artifact: Option<ArtifactId>,
    oci_tag: Option<OciTag>,
    depends_on: Vec<(JsonPath, ComponentId)>,
    enabled: bool,
    built: Option<Component>,
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
        let tier_list: Vec<&Tier> = tiers.iter().filter_map(|t| t.tier.as_ref()).collect();
        self.dependencies(&components);
        self.tag_forms(&artifacts, &components);
        self.tier_policies(&artifacts, &tier_list, &components);
        self.verified_tiers(&tier_list, &at.key("tiers"));
        let artifacts = artifacts.into_iter().map(|a| a.built).collect::<Option<Vec<_>>>()?;
        let tiers = tiers
            .into_iter()
            .map(|t| t.tier.filter(|_| t.complete))
            .collect::<Option<Vec<_>>>()?;
        let components = components.into_iter().map(|c| c.built).collect::<Option<Vec<_>>>()?;
        Some(Catalog::from_checked_parts(artifacts, tiers, components))
    }

    fn unique(&mut self, what: &str, ids: impl Iterator<Item = (JsonPath, String)>) {
        let mut seen: HashMap<String, JsonPath> = HashMap::new();
        for (path, id) in ids {
            if let Some(first) = seen.get(&id) {
                let first_line = self
                    .doc
                    .line(first)
                    .map(|l| format!(" (first on line {l})"))
                    .unwrap_or_default();
                self.fail(
                    path,
                    "unique-id",
                    format!("{what} \"{id}\" is declared twice{first_line}"),
                );
            } else {
                seen.insert(id, path);
            }
        }
    }

    fn artifacts(&mut self, list: &[Value], at: &JsonPath) -> Vec<PartialArtifact> {
        self.unique("artifact", ids_of(list, at, "id"));
        let mut out = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let at = at.index(i);
            let id = self.field(a, &at, "id", "dns-1123-label", ArtifactId::parse);
            let url = self.field(a, &at, "url", "oci-url", ArtifactUrl::parse);
            let oci_tag = self.field(a, &at, "oci_tag", "oci-tag", OciTag::parse);
            let sync_interval = match get(a, "sync_interval") {
                None => Some(None),
                Some(_) => self
                    .field(a, &at, "sync_interval", "duration", |s| {
                        FluxDuration::parse("sync_interval", s)
                    })
                    .map(Some),
            };
            let built = match (&id, url, &oci_tag, sync_interval) {
                (Some(id), Some(url), Some(tag), Some(sync_interval)) => Some(Artifact {
                    id: id.clone(),
                    url,
                    oci_tag: tag.clone(),
                    insecure: Self::flag(a, "insecure").unwrap_or(false),
                    sync_interval,
                }),
                _ => None,
            };
            out.push(PartialArtifact { at, id, oci_tag, built });
        }
        out
    }

    fn tiers(&mut self, list: &[Value], at: &JsonPath) -> Vec<PartialTier> {
        self.unique("tier", ids_of(list, at, "name"));
        let mut out = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let at = at.index(i);
            let Some(name) = self.field(t, &at, "name", "dns-1123-label", TierName::parse) else {
                out.push(PartialTier {
                    tier: None,
                    complete: false,
                });
                continue;
            };
            let mut policy = TierPolicy::default_for(&name);
            let mut complete = true;
            if let Some(p) = get(t, "policy") {
                let at = at.key("policy");
                policy.allow_mutable = Self::flag(p, "allow_mutable").unwrap_or(policy.allow_mutable);
                policy.allow_prerelease = Self::flag(p, "allow_prerelease").unwrap_or(policy.allow_prerelease);
                policy.pin_digest = Self::flag(p, "pin_digest").unwrap_or(policy.pin_digest);
                policy.require_known_tag = Self::flag(p, "require_known_tag").unwrap_or(policy.require_known_tag);
                if get(p, "pattern").is_some() {
                    policy.pattern = self.field(p, &at, "pattern", "regex", |s| TagRegex::new("pattern", s));
                    complete = policy.pattern.is_some();
                }
                complete &= self.safety(p, &at, &mut policy);
                match self.require_verified(p, &at) {
                    Some(rules) => policy.require_verified = rules,
                    None => complete = false,
                }
            }
            out.push(PartialTier {
                tier: Some(Tier { name, policy }),
                complete,
            });
        }
        out
    }

    fn components(&mut self, list: &[Value], at: &JsonPath, artifacts: &[PartialArtifact]) -> Vec<PartialComponent> {
        self.unique("component", ids_of(list, at, "id"));
        let known_artifacts: Vec<&str> = artifacts
            .iter()
            .filter_map(|a| a.id.as_ref().map(ArtifactId::as_str))
            .collect();
        list.iter()
            .enumerate()
            .map(|(i, c)| self.component(c, at.index(i), &known_artifacts))
            .collect()
    }

    fn component(&mut self, c: &Value, at: JsonPath, known_artifacts: &[&str]) -> PartialComponent {
        let id = self.field(c, &at, "id", "dns-1123-label", ComponentId::parse);
        let category = self.field(c, &at, "category", "dns-1123-label", |s| {
            ComponentId::parse(s)
                .map(|_| s.to_owned())
                .map_err(|_| category_error(s))
        });
        let artifact = self.component_artifact(c, &at, known_artifacts);
        let component_path = self.field(c, &at, "component_path", "safe-relative-path", ComponentPath::parse);
        let oci_tag = self.field(c, &at, "oci_tag", "oci-tag", OciTag::parse);
        let oci_tag_ok = get(c, "oci_tag").is_none() || oci_tag.is_some();
        let target_namespace = self.field(c, &at, "target_namespace", "dns-1123-label", Namespace::parse);
        let interval = self.duration(c, &at, "interval", KustomizationDefaults::DEFAULT_INTERVAL);
        let timeout = self.duration(c, &at, "timeout", KustomizationDefaults::DEFAULT_TIMEOUT);
        let mut depends_on = Vec::new();
        for (j, dep) in items(get(c, "depends_on")).iter().enumerate() {
            let Some(text) = dep.as_str() else { continue };
            let path = at.key("depends_on").index(j);
            match ComponentId::parse(text) {
                Ok(d) => depends_on.push((path, d)),
                Err(e) => self.fail(path, "dns-1123-label", e.to_string()),
            }
        }
        let enabled = Self::flag(c, "enabled").unwrap_or(true);
        let built = match (&id, category, &artifact, component_path, interval, timeout) {
            (Some(id), Some(category), Some(artifact), Some(component_path), Some(interval), Some(timeout))
                if oci_tag_ok =>
            {
                Some(Component {
                    id: id.clone(),
                    category,
                    artifact: artifact.clone(),
                    component_path,
                    oci_tag: oci_tag.clone(),
                    depends_on: depends_on.iter().map(|(_, d)| d.clone()).collect(),
                    kustomization: KustomizationDefaults {
                        interval,
                        timeout,
                        prune: Self::flag(c, "prune").unwrap_or(true),
                        wait: Self::flag(c, "wait").unwrap_or(true),
                        target_namespace,
                    },
                    enabled,
                })
            }
            _ => None,
        };
        PartialComponent {
            at,
            id,
            artifact,
            oci_tag,
            depends_on,
            enabled,
            built,
        }
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
                let message = format!("unknown artifact \"{name}\" (known: {})", known.join(", "));
                self.fail(at.key("artifact"), "known-artifact", message);
                None
            }
            None if known.len() == 1 => ArtifactId::parse(known[0]).ok(),
            None if known.is_empty() => None,
            None => {
                let message = format!(
                    "the catalog has several artifacts ({}): name one in `artifact`",
                    known.join(", ")
                );
                self.fail(at.clone(), "artifact-required", message);
                None
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

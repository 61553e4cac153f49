//! A catalog back to its COMPONENTS.yaml document: for export, storage and round trips.

use serde_json::{json, Map, Value};

use crate::catalog::{Artifact, Catalog, Component};
use crate::policy::Tier;

impl Catalog {
    /// The catalog as a COMPONENTS.yaml document, every setting written out. Loading the result
    /// gives the same catalog.
    pub fn to_document(&self) -> Value {
        json!({
            "artifacts": self.artifacts().iter().map(artifact_document).collect::<Vec<_>>(),
            "tiers": self.tiers().iter().map(tier_document).collect::<Vec<_>>(),
            "components": self.components().iter().map(component_document).collect::<Vec<_>>(),
        })
    }
}

fn artifact_document(a: &Artifact) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), a.id.as_str().into());
    m.insert("url".into(), a.url.as_str().into());
    m.insert("oci_tag".into(), a.oci_tag.as_str().into());
    // Written only when set, so catalogs that never asked for them read as before.
    if a.insecure {
        m.insert("insecure".into(), true.into());
    }
    if let Some(i) = &a.sync_interval {
        m.insert("sync_interval".into(), i.as_str().into());
    }
    Value::Object(m)
}

fn tier_document(tier: &Tier) -> Value {
    let p = &tier.policy;
    let mut policy = Map::new();
    policy.insert("allow_mutable".into(), p.allow_mutable.into());
    policy.insert("allow_prerelease".into(), p.allow_prerelease.into());
    policy.insert("pin_digest".into(), p.pin_digest.into());
    policy.insert("require_known_tag".into(), p.require_known_tag.into());
    if let Some(pattern) = &p.pattern {
        policy.insert("pattern".into(), pattern.as_str().into());
    }
    if !p.require_verified.is_empty() {
        policy.insert(
            "require_verified".into(),
            require_verified_document(&p.require_verified),
        );
    }
    safety_document(p, &mut policy);
    json!({"name": tier.name.as_str(), "policy": policy})
}

/// Windows, freezes and approvals, written only when set so other catalogs read as before.
pub fn safety_document(p: &crate::TierPolicy, policy: &mut Map<String, Value>) {
    if !p.windows.is_empty() {
        let windows: Vec<Value> = p
            .windows
            .iter()
            .map(|w| {
                json!({"days": w.day_names(), "from": w.from.format("%H:%M").to_string(),
                    "to": w.to.format("%H:%M").to_string(), "tz": w.tz.name()})
            })
            .collect();
        policy.insert("windows".into(), windows.into());
    }
    if !p.freezes.is_empty() {
        let freezes: Vec<Value> = p
            .freezes
            .iter()
            .map(|f| {
                json!({"from": f.from.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "to": f.to.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "reason": f.reason})
            })
            .collect();
        policy.insert("freezes".into(), freezes.into());
    }
    if p.approvals > 0 {
        policy.insert("approvals".into(), p.approvals.into());
    }
}

/// The `require_verified` list as the catalog writes it.
pub fn require_verified_document(rules: &[crate::evidence::RequireVerified]) -> Value {
    rules
        .iter()
        .map(|r| json!({"tier": r.tier.as_str(), "clusters": r.clusters, "ready_for": r.ready_for.as_str()}))
        .collect()
}

/// One component's entry, as COMPONENTS.yaml and the API write it.
pub fn component_document(c: &Component) -> Value {
    let k = &c.kustomization;
    let mut m = Map::new();
    m.insert("id".into(), c.id.as_str().into());
    m.insert("category".into(), c.category.clone().into());
    m.insert("artifact".into(), c.artifact.as_str().into());
    m.insert("component_path".into(), c.component_path.as_str().into());
    if let Some(tag) = &c.oci_tag {
        m.insert("oci_tag".into(), tag.as_str().into());
    }
    if let Some(ns) = &k.target_namespace {
        m.insert("target_namespace".into(), ns.as_str().into());
    }
    m.insert(
        "depends_on".into(),
        c.depends_on.iter().map(|d| d.as_str()).collect::<Vec<_>>().into(),
    );
    m.insert("interval".into(), k.interval.as_str().into());
    m.insert("timeout".into(), k.timeout.as_str().into());
    m.insert("prune".into(), k.prune.into());
    m.insert("wait".into(), k.wait.into());
    m.insert("enabled".into(), c.enabled.into());
    Value::Object(m)
}

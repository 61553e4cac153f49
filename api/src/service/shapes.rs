//! Work shared between clusters that resolve alike, within one write that reaches many.
//!
//! Two clusters with the same tier, labels, state, Flux namespace, pin, assignments and rollout
//! pins resolve to the same effective config but for the cluster's name, which the stored JSON
//! carries first. A shape is that config without a name, and its JSON after the name: each
//! cluster's JSON and hash are the name spliced in front (byte for byte what encoding the
//! named record gives; a test holds the two together). Likewise the configs clusters ran before
//! are decoded once per distinct text after the name, and the component changes between a
//! previous config and a shape are listed once. A fleet of thousands of clusters in a few
//! tiers is then a few resolutions, not thousands.
//!
//! Each memory is bounded: a fleet whose clusters are all different starts it again rather
//! than holding every config.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use catalog::ids::{ClusterName, Namespace, TierName};
use catalog::resolve::{Assignment, Cluster, RolloutPin};
use catalog::OciTag;

use super::observed::Desired;
use super::plan::ComponentChange;
use crate::error::Error;
use crate::store::effective::{sha256_hex_of, EffectiveRecord, PreviousRecord};

/// How every stored config's JSON starts: its cluster's name comes first.
const HEAD: &str = "{\"cluster\":";

/// Most distinct entries each memory holds before it starts again.
const LIMIT: usize = 256;

/// What resolution reads of a cluster besides its name, and the cluster's assignments and
/// rollout pins: equal keys resolve alike within one write (same catalog, same clock).
#[derive(PartialEq, Eq, Hash)]
pub(super) struct ShapeKey {
    tier: TierName,
    labels: BTreeMap<String, String>,
    enabled: bool,
    flux_namespace: Namespace,
    oci_tag: Option<OciTag>,
    assignments: Vec<Assignment>,
    pins: Vec<RolloutPin>,
}

impl ShapeKey {
    /// The key of a cluster; its name comes back apart. Every field of `Cluster` is named here,
    /// so a field resolution may come to read cannot be left out of the key unnoticed.
    pub(super) fn new(
        cluster: Cluster,
        assignments: Vec<Assignment>,
        pins: Vec<RolloutPin>,
    ) -> (ShapeKey, ClusterName) {
        let Cluster {
            name,
            tier,
            labels,
            enabled,
            flux_namespace,
            oci_tag,
        } = cluster;
        let key = ShapeKey {
            tier,
            labels,
            enabled,
            flux_namespace,
            oci_tag,
            assignments,
            pins,
        };
        (key, name)
    }

    /// The cluster again, to resolve.
    pub(super) fn cluster(&self, name: &ClusterName) -> Cluster {
        Cluster {
            name: name.clone(),
            tier: self.tier.clone(),
            labels: self.labels.clone(),
            enabled: self.enabled,
            flux_namespace: self.flux_namespace.clone(),
            oci_tag: self.oci_tag.clone(),
        }
    }

    pub(super) fn assignments(&self) -> &[Assignment] {
        &self.assignments
    }

    pub(super) fn pins(&self) -> &[RolloutPin] {
        &self.pins
    }
}

/// An effective config shared by clusters that resolve alike.
pub(super) struct Shape {
    id: u64,
    /// The config, with `cluster` empty.
    pub record: EffectiveRecord,
    /// Its JSON after `{"cluster":"<name>"`.
    rest: String,
    /// What drift compares against, once asked.
    pub desired: OnceLock<Arc<Desired>>,
}

/// A cluster's name as its stored JSON begins: `{"cluster":"<name>"`.
pub(super) fn head_of(name: &str) -> String {
    let quoted = serde_json::to_string(name).unwrap_or_else(|e| unreachable!("strings serialize: {e}"));
    format!("{HEAD}{quoted}")
}

impl Shape {
    fn new(id: u64, mut record: EffectiveRecord) -> Result<Shape, Error> {
        record.cluster = String::new();
        let (json, _) = record.encode();
        let rest = json
            .strip_prefix(HEAD)
            .and_then(|r| r.strip_prefix("\"\""))
            .ok_or_else(|| Error::Internal("a config's JSON does not begin with its cluster".into()))?
            .to_owned();
        Ok(Shape {
            id,
            record,
            rest,
            desired: OnceLock::new(),
        })
    }

    /// The SHA-256 of the named cluster's config, as stored; `head` is [`head_of`] its name.
    pub fn hash(&self, head: &str) -> String {
        sha256_hex_of(&[head.as_bytes(), self.rest.as_bytes()])
    }

    /// The named cluster's config as stored.
    pub fn json(&self, head: &str) -> String {
        let mut json = String::with_capacity(head.len() + self.rest.len());
        json.push_str(head);
        json.push_str(&self.rest);
        json
    }

    /// The named cluster's whole config.
    pub fn named(&self, cluster: &str) -> EffectiveRecord {
        EffectiveRecord {
            cluster: cluster.to_owned(),
            ..self.record.clone()
        }
    }
}

/// A config a cluster ran before the write, decoded.
pub(super) struct Previous {
    id: u64,
    pub record: PreviousRecord<'static>,
}

/// The memories of one write.
#[derive(Default)]
pub(super) struct Shapes {
    next_id: u64,
    shapes: HashMap<ShapeKey, Arc<Shape>>,
    /// Previous configs by their JSON after the cluster's name.
    previous: HashMap<Box<str>, Arc<Previous>>,
    /// (previous config or 0 for none, shape) → the component changes between them.
    changes: HashMap<(u64, u64), Arc<Vec<ComponentChange>>>,
}

impl Shapes {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The shape of `key`; `resolve` runs only for a key not seen yet in this write.
    pub fn shape(
        &mut self,
        key: ShapeKey,
        resolve: impl FnOnce(&ShapeKey) -> Result<EffectiveRecord, Error>,
    ) -> Result<Arc<Shape>, Error> {
        if let Some(shape) = self.shapes.get(&key) {
            return Ok(shape.clone());
        }
        let shape = Arc::new(Shape::new(self.id(), resolve(&key)?)?);
        if self.shapes.len() >= LIMIT {
            self.shapes.clear();
        }
        self.shapes.insert(key, shape.clone());
        Ok(shape)
    }

    /// The decoded config `cluster` ran, stored as `json`.
    pub fn previous(&mut self, cluster: &str, json: &str) -> Result<Arc<Previous>, Error> {
        let head = head_of(cluster);
        let Some(rest) = json.strip_prefix(head.as_str()) else {
            // Not as this version writes configs: decoded on its own.
            let record = PreviousRecord::decode(json)?.into_owned();
            return Ok(Arc::new(Previous { id: self.id(), record }));
        };
        if let Some(known) = self.previous.get(rest) {
            return Ok(known.clone());
        }
        let record = PreviousRecord::decode(json)?.into_owned();
        let previous = Arc::new(Previous { id: self.id(), record });
        if self.previous.len() >= LIMIT {
            self.previous.clear();
        }
        self.previous.insert(rest.into(), previous.clone());
        Ok(previous)
    }

    /// The component changes from `before` to `shape`; `list` runs once per pair.
    pub fn changes(
        &mut self,
        before: Option<&Previous>,
        shape: &Shape,
        list: impl FnOnce() -> Arc<Vec<ComponentChange>>,
    ) -> Arc<Vec<ComponentChange>> {
        let key = (before.map_or(0, |p| p.id), shape.id);
        if let Some(known) = self.changes.get(&key) {
            return known.clone();
        }
        let changes = list();
        if self.changes.len() >= LIMIT * 4 {
            self.changes.clear();
        }
        self.changes.insert(key, changes.clone());
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::effective::{ComponentRecord, SourceRecord};

    fn record(cluster: &str) -> EffectiveRecord {
        let source = SourceRecord {
            kind: "override".into(),
            detail: Some("canary \"eu\"".into()),
        };
        EffectiveRecord {
            cluster: cluster.into(),
            tier: "prod".into(),
            pin_digest: true,
            namespace: "flux-system".into(),
            components: vec![ComponentRecord {
                id: "grafana".into(),
                artifact: "platform".into(),
                url: "oci://registry.example.com/platform".into(),
                oci_tag: "v1.2.0".into(),
                oci_tag_source: source.clone(),
                component_path: "observability/grafana/1.0.0".into(),
                component_path_source: source,
                overlay: "./observability/grafana/1.0.0/prod".into(),
                depends_on: vec!["prometheus".into()],
                interval: "10m".into(),
                timeout: "5m".into(),
                prune: true,
                wait: false,
                target_namespace: Some("monitoring".into()),
            }],
        }
    }

    #[test]
    fn a_shape_gives_each_cluster_the_json_and_hash_of_its_own_record() {
        let shape = Shape::new(1, record("anything")).expect("a shape");
        for name in ["prod-eu-1", "qa-000042", "a\"quoted\\name"] {
            let (json, hash) = record(name).encode();
            let head = head_of(name);
            assert_eq!(shape.json(&head), json);
            assert_eq!(shape.hash(&head), hash);
            assert_eq!(shape.named(name), record(name));
        }
    }

    #[test]
    fn clusters_that_ran_the_same_config_share_one_decoding() {
        let mut shapes = Shapes::default();
        let (one, _) = record("prod-eu-1").encode();
        let (two, _) = record("prod-eu-2").encode();
        let a = shapes.previous("prod-eu-1", &one).expect("decoded");
        let b = shapes.previous("prod-eu-2", &two).expect("decoded");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.record.components[0].oci_tag, "v1.2.0");
        let mut other = record("prod-eu-3");
        other.components[0].oci_tag = "v1.3.0".into();
        let c = shapes.previous("prod-eu-3", &other.encode().0).expect("decoded");
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(c.record.components[0].oci_tag, "v1.3.0");
    }

    #[test]
    fn a_config_stored_under_another_name_is_decoded_on_its_own() {
        let mut shapes = Shapes::default();
        let (json, _) = record("prod-eu-1").encode();
        let a = shapes.previous("renamed", &json).expect("decoded");
        let b = shapes.previous("renamed", &json).expect("decoded");
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.record.tier, "prod");
    }
}

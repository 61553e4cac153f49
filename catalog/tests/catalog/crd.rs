//! Every rendered object validates against the real Flux CRD schemas in `../shared/flux-crds/`.
//!
//! Kubernetes prunes unknown fields instead of refusing them, which would hide a misspelt field
//! in our structs; so before validating, every object schema that lists its properties is
//! closed with `additionalProperties: false`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use catalog::ids::{ArtifactId, ComponentPath, Digest};
use catalog::render::{render, DigestMode, NoDigests, RenderOptions};
use catalog::resolve::{resolve, Assignment, Cluster};
use catalog::{ClusterName, ComponentId, OciTag, TierName};
use serde_json::{json, Value};

use crate::{example, repo_root};

/// The CRD folder, or `None` to skip outside CI. In CI a missing folder is a failure.
fn crd_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PLATFORM_CATALOG_FLUX_CRDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/flux-crds"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the Flux CRDs are missing at {}: CI must validate renders against them",
            dir.display()
        );
    }
    eprintln!(
        "skipping: no Flux CRDs at {} (set PLATFORM_CATALOG_FLUX_CRDS)",
        dir.display()
    );
    None
}

struct CrdValidator {
    by_kind: HashMap<String, jsonschema::Validator>,
}

impl CrdValidator {
    fn load(dir: &Path) -> Self {
        let mut by_kind = HashMap::new();
        for file in [
            "source.toolkit.fluxcd.io_ocirepositories.yaml",
            "kustomize.toolkit.fluxcd.io_kustomizations.yaml",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).expect("CRD is readable");
            let doc = catalog::yaml::parse(&text).expect("CRD is valid YAML").value;
            let kind = doc["spec"]["names"]["kind"]
                .as_str()
                .expect("CRD names its kind")
                .to_owned();
            let v1 = doc["spec"]["versions"]
                .as_array()
                .and_then(|vs| vs.iter().find(|v| v["name"] == "v1"))
                .expect("CRD serves v1");
            let mut schema = v1["schema"]["openAPIV3Schema"].clone();
            close_objects(&mut schema);
            let validator = jsonschema::draft4::new(&schema).expect("CRD schema compiles");
            by_kind.insert(kind, validator);
        }
        CrdValidator { by_kind }
    }

    fn errors(&self, object: &Value) -> Vec<String> {
        let kind = object["kind"].as_str().expect("object has a kind");
        let validator = self
            .by_kind
            .get(kind)
            .unwrap_or_else(|| panic!("no CRD for kind {kind}"));
        validator
            .iter_errors(object)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect()
    }
}

fn close_objects(schema: &mut Value) {
    if let Value::Object(map) = schema {
        let open = map.contains_key("additionalProperties") || map.contains_key("x-kubernetes-preserve-unknown-fields");
        if map.contains_key("properties") && !open {
            map.insert("additionalProperties".into(), Value::Bool(false));
        }
        for v in map.values_mut() {
            close_objects(v);
        }
    } else if let Value::Array(items) = schema {
        items.iter_mut().for_each(close_objects);
    }
}

#[test]
fn every_rendered_object_of_every_tier_matches_the_flux_crds() {
    let Some(dir) = crd_dir() else { return };
    let crds = CrdValidator::load(&dir);
    let loaded = example();
    let catalog = &loaded.catalog;
    let mut checked = 0;
    for tier in catalog.tier_names() {
        let cluster = Cluster::new(ClusterName::parse("c1").unwrap(), tier.clone());
        let config = resolve(
            catalog,
            &cluster,
            &Assignment::catalog_defaults(catalog),
            &[],
            chrono::Utc::now(),
        )
        .unwrap();
        let opts = RenderOptions {
            revision: Some(7),
            digests: &NoDigests,
            mode: DigestMode::TagWhenUnknown,
        };
        for object in render(&config, &opts).unwrap().values() {
            assert_eq!(crds.errors(&object), Vec::<String>::new(), "{object:#}");
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * 2 * 3);
}

#[test]
fn digest_pinned_and_overridden_renders_match_the_flux_crds() {
    let Some(dir) = crd_dir() else { return };
    let crds = CrdValidator::load(&dir);
    let loaded = example();
    let catalog = &loaded.catalog;
    let prod = TierName::parse("prod").unwrap();
    let cluster = Cluster::new(ClusterName::parse("prod-eu-1").unwrap(), prod);
    let mut assignments = Assignment::catalog_defaults(catalog);
    assignments[0].oci_tag = Some(OciTag::parse("v1.1.0-2").unwrap());
    assignments[0].component_path = Some(ComponentPath::parse("core/cert-manager/1.14.6").unwrap());
    let digests: HashMap<(ArtifactId, OciTag), Digest> = ["v1.1.0", "v1.1.0-2"]
        .into_iter()
        .map(|t| {
            let key = (ArtifactId::parse("platform").unwrap(), OciTag::parse(t).unwrap());
            (key, Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap())
        })
        .collect();
    let config = resolve(catalog, &cluster, &assignments, &[], chrono::Utc::now()).unwrap();
    assert_eq!(config.components[0].id, ComponentId::parse("cert-manager").unwrap());
    let opts = RenderOptions {
        revision: Some(42),
        digests: &digests,
        mode: DigestMode::Require,
    };
    let rendering = render(&config, &opts).unwrap();
    for object in rendering.values() {
        assert_eq!(crds.errors(&object), Vec::<String>::new(), "{object:#}");
    }
    assert_eq!(
        rendering.values()[0]["spec"]["ref"],
        json!({"digest": format!("sha256:{}", "ab".repeat(32))})
    );
}

#[test]
fn the_crd_check_refuses_a_misspelt_field_and_a_missing_required_one() {
    let Some(dir) = crd_dir() else { return };
    let crds = CrdValidator::load(&dir);
    let bad = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "x", "namespace": "flux-system"},
        "spec": {"interval": "10m", "sourceRef": {"kind": "OCIRepository", "name": "x"}, "targetNamespce": "y"}
    });
    let errors = crds.errors(&bad);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("prune")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("targetNamespce")), "{errors:?}");
}

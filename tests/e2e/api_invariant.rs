//! The trust invariant as a property: after any sequence of accepted API writes, every enabled
//! cluster's render answers 200, and no write is ever answered with a 5xx.
//!
//! Sequences are generated from a seeded generator: `PLATFORM_CATALOG_PROPERTY_SEQUENCES`
//! (default 240) sequences of `PLATFORM_CATALOG_PROPERTY_LENGTH` (default 8) writes each, from
//! `PLATFORM_CATALOG_PROPERTY_SEED` (default fixed, so CI is repeatable; set it to explore).
//! A failure prints the seed and the writes that led to it.

use serde_json::{json, Value};

use crate::both;
use crate::support::app::TestApp;

/// A small seeded generator (xorshift64*): the tests need repeatable choices, not quality.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const CLUSTERS: [&str; 4] = ["dev-eu-1", "qa-eu-1", "prod-eu-1", "prod-us-1"];
const COMPONENTS: [&str; 5] = ["cert-manager", "external-dns", "ingress-nginx", "prometheus", "grafana"];
/// Registered with digests, registered without, pre-releases, moving tags, never registered.
const TAGS: [&str; 10] = [
    "v1.0.0",
    "v1.0.0-1",
    "v1.1.0",
    "v1.1.0-1",
    "v1.1.0-rc1",
    "v1.2.0",
    "v1.3.0",
    "latest",
    "v9.9.9",
    "v1.2.0-1",
];
const PATHS: [&str; 3] = [
    "observability/grafana/7.3.9",
    "core/cert-manager/1.14.5",
    "observability/grafana/7.4.0",
];
const TIERS: [&str; 3] = ["dev", "qa", "prod"];
const DIGEST: &str = "sha256:9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c";

/// One generated write: method, path and body.
fn generate(rng: &mut Rng) -> (&'static str, String, Option<Value>) {
    let cluster = *rng.pick(&CLUSTERS);
    let component = *rng.pick(&COMPONENTS);
    let tag = *rng.pick(&TAGS);
    match rng.below(14) {
        0 | 1 => {
            let mut body = json!({"oci_tag": tag, "reason": "canary"});
            if rng.chance(30) {
                body["component_path"] = json!(rng.pick(&PATHS));
            }
            (
                "PUT",
                format!("/api/v1/clusters/{cluster}/components/{component}"),
                Some(body),
            )
        }
        2 => {
            let pin = if rng.chance(50) { json!(tag) } else { Value::Null };
            (
                "PATCH",
                format!("/api/v1/clusters/{cluster}"),
                Some(json!({"oci_tag": pin})),
            )
        }
        3 => (
            "PATCH",
            format!("/api/v1/clusters/{cluster}"),
            Some(json!({"tier": rng.pick(&TIERS)})),
        ),
        4 => (
            "POST",
            "/api/v1/releases".into(),
            Some(json!({"artifact": "platform", "oci_tag": tag})),
        ),
        5 => (
            "POST",
            "/api/v1/rollouts".into(),
            Some(json!({"component": component, "oci_tag": tag})),
        ),
        6 => {
            let id = 1 + rng.below(4);
            let verb = *rng.pick(&["advance", "advance", "abort", "pause", "resume"]);
            ("POST", format!("/api/v1/rollouts/{id}/{verb}"), Some(json!({})))
        }
        7 => {
            let body = if rng.chance(50) {
                json!({"cluster": cluster, "reason": "freeze"})
            } else {
                json!({"component": component, "reason": "freeze"})
            };
            ("POST", "/api/v1/holds".into(), Some(body))
        }
        8 => ("DELETE", format!("/api/v1/holds/{}", 1 + rng.below(4)), None),
        9 => (
            "POST",
            "/api/v1/hotfixes".into(),
            Some(
                json!({"component": component, "oci_tag": tag, "component_path": rng.pick(&PATHS),
                "selector": {"tiers": [rng.pick(&TIERS)]}, "reason": "incident"}),
            ),
        ),
        10 => (
            "POST",
            format!("/api/v1/clusters/{cluster}/rollback"),
            Some(json!({"revision": 1 + rng.below(4)})),
        ),
        11 => {
            let body = if rng.chance(50) {
                json!({"tag": tag, "digest": DIGEST})
            } else {
                json!({"tag": tag})
            };
            ("POST", "/api/v1/artifacts/platform/tags".into(), Some(body))
        }
        12 => {
            let body = if rng.chance(50) {
                json!({"oci_tag": tag})
            } else {
                json!({"component_path": rng.pick(&PATHS)})
            };
            ("PATCH", format!("/api/v1/components/{component}"), Some(body))
        }
        _ => {
            let tier = *rng.pick(&TIERS);
            let body = json!({"allow_mutable": rng.chance(30), "allow_prerelease": rng.chance(50),
                "pin_digest": rng.chance(50), "require_known_tag": rng.chance(70)});
            ("PUT", format!("/api/v1/tiers/{tier}"), Some(body))
        }
    }
}

/// Every enabled cluster renders; returns the first that does not, with its answer.
fn unservable(app: &TestApp) -> Option<String> {
    let list = app.get("/api/v1/clusters?limit=500").json();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    for c in items.iter().filter(|c| c["enabled"] == json!(true)) {
        let name = c["name"].as_str().unwrap_or_default();
        let r = app.get(&format!("/api/v1/clusters/{name}/render"));
        if r.status != 200 {
            return Some(format!("{name}: {} {}", r.status, r.body));
        }
    }
    None
}

/// Sequences run on one service each until this many, then a fresh one starts, so state both
/// accumulates (long histories, many rollouts) and starts over.
const SEQUENCES_PER_SERVICE: u64 = 30;

fn check_invariant(backend: crate::support::app::Backend) {
    let sequences = env_number("PLATFORM_CATALOG_PROPERTY_SEQUENCES", 240);
    let length = env_number("PLATFORM_CATALOG_PROPERTY_LENGTH", 8);
    let seed = env_number("PLATFORM_CATALOG_PROPERTY_SEED", 0x5eed_cafe);
    let mut rng = Rng(seed | 1);
    let (mut accepted, mut refused) = (0u64, 0u64);
    let mut app = TestApp::with_fleet(backend);
    for n in 0..sequences {
        if n > 0 && n % SEQUENCES_PER_SERVICE == 0 {
            app = TestApp::with_fleet(backend);
        }
        let mut log: Vec<String> = Vec::new();
        for _ in 0..length {
            let (method, path, body) = generate(&mut rng);
            let text = body.as_ref().map(Value::to_string);
            let r = app.request(method, &path, text.as_deref(), &[]);
            log.push(format!("{method} {path} {} -> {}", text.unwrap_or_default(), r.status));
            let trail = || format!("seed {seed:#x}, sequence {n}:\n  {}\n{}", log.join("\n  "), r.body);
            assert!(r.status < 500, "a write was answered with a server error; {}", trail());
            if r.status >= 300 {
                refused += 1;
                continue;
            }
            accepted += 1;
            if let Some(broken) = unservable(&app) {
                panic!("an accepted write left a cluster unservable: {broken}; {}", trail());
            }
        }
    }
    eprintln!("{sequences} sequences: {accepted} writes accepted, {refused} refused; every render answered 200");
    assert!(
        accepted > sequences,
        "the generator must produce accepted writes, not only refusals"
    );
}

both!(after_any_accepted_writes_every_enabled_cluster_renders, |backend| {
    check_invariant(backend)
});

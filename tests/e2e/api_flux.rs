//! Every event sequence Flux 2.6 to 2.9 sends, posted byte for byte as notification-controller
//! does (see `flux_wire`), on SQLite and PostgreSQL: what each leaves as the object's state and
//! applied revision, whatever order the events of one second arrive in.

use serde_json::{json, Value};

use crate::api_events::{at, D100, D110};
use crate::both;
use crate::flux_wire::{oci_pull_failed, send, send_all, Kc, Post};
use crate::support::app::{Backend, TestApp};

const GRAFANA: Kc<'static> = Kc { name: "grafana" };

fn v110() -> String {
    format!("v1.1.0@{D110}")
}

fn v120() -> String {
    format!("v1.2.0@{D100}")
}

/// The grafana Kustomization's observed row on `cluster`.
fn kustomization(app: &TestApp, cluster: &str) -> Value {
    observed(app, cluster, "kustomization")
}

fn observed(app: &TestApp, cluster: &str, key: &str) -> Value {
    let status = app.get(&format!("/api/v1/clusters/{cluster}/status")).json();
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "grafana")
        .map(|c| c[key].clone())
        .unwrap_or_else(|| panic!("no grafana in {status}"))
}

/// `(state, reason, applied_revision)` of grafana's Kustomization.
fn seen(app: &TestApp, cluster: &str) -> (String, String, Option<String>) {
    let k = kustomization(app, cluster);
    (
        k["state"].as_str().unwrap_or_default().to_owned(),
        k["reason"].as_str().unwrap_or_default().to_owned(),
        k["applied_revision"].as_str().map(str::to_owned),
    )
}

fn expect(state: &str, reason: &str, applied: Option<&str>) -> (String, String, Option<String>) {
    (state.to_owned(), reason.to_owned(), applied.map(str::to_owned))
}

both!(
    flux_2_6_2_7_and_2_9_report_a_new_revision_ready_with_and_without_health_checks,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        send_all(&app, "dev-eu-1", &GRAFANA.release(&v110(), &at(-60), true));
        assert_eq!(
            seen(&app, "dev-eu-1"),
            expect("ready", "ReconciliationSucceeded", Some(&v110()))
        );
        send_all(&app, "qa-eu-1", &GRAFANA.release(&v110(), &at(-60), false));
        assert_eq!(
            seen(&app, "qa-eu-1"),
            expect("ready", "ReconciliationSucceeded", Some(&v110()))
        );
        // A quiet reconcile later: the success event alone, which keeps the component heard.
        let quiet = at(-5);
        send_all(&app, "qa-eu-1", &[GRAFANA.succeeded(&v110(), &quiet)]);
        let k = kustomization(&app, "qa-eu-1");
        assert_eq!(k["event_at"], crate::api_events::shown(&quiet));
        let events = app.get("/api/v1/clusters/qa-eu-1/events").json();
        assert_eq!(events["items"].as_array().unwrap().len(), 3);
        assert_eq!(
            events["items"][0]["message"],
            "Reconciliation finished in 5.201833s, next run in 10m0s"
        );
    }
);

both!(
    flux_2_8_0_to_2_8_5_with_health_checks_is_ready_at_the_revision_that_passed_them,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let [change_set, passed] = <[Post; 2]>::try_from(GRAFANA.release_2_8_early(&v110(), &at(-30), true)).unwrap();
        send_all(&app, "dev-eu-1", &[change_set]);
        // Applied, health checks still running.
        assert_eq!(seen(&app, "dev-eu-1"), expect("applied", "Progressing", Some(&v110())));
        send_all(&app, "dev-eu-1", &[passed]);
        let k = kustomization(&app, "dev-eu-1");
        assert_eq!(
            (k["state"].as_str(), k["message"].as_str(), k["applied_tag"].as_str()),
            (
                Some("ready"),
                Some("Health check passed in 5.012931107s"),
                Some("v1.1.0")
            )
        );
        assert_eq!(k["applied_digest"], D110);
    }
);

both!(
    flux_2_8_0_to_2_8_5_without_health_checks_counts_the_change_set_as_applied,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        send_all(&app, "dev-eu-1", &GRAFANA.release_2_8_early(&v110(), &at(-30), false));
        let k = kustomization(&app, "dev-eu-1");
        assert_eq!(
            (
                k["state"].as_str(),
                k["reason"].as_str(),
                k["applied_revision"].as_str()
            ),
            (Some("applied"), Some("Progressing"), Some(v110().as_str()))
        );
        assert_eq!(
            k["message"],
            "Deployment/monitoring/grafana configured\nService/monitoring/grafana unchanged"
        );
        assert_eq!(observed(&app, "dev-eu-1", "drift"), json!([]));
    }
);

both!(
    a_failed_health_check_then_its_recovery_ends_ready_at_the_revision,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        send_all(&app, "dev-eu-1", &GRAFANA.release(&v110(), &at(-600), true));
        send_all(
            &app,
            "dev-eu-1",
            &[
                GRAFANA.change_set(&v120(), &at(-300)),
                GRAFANA.health_failed(&v120(), &at(-299)),
            ],
        );
        // v1.2.0's objects are applied and unhealthy.
        assert_eq!(
            seen(&app, "dev-eu-1"),
            expect("failed", "HealthCheckFailed", Some(&v120()))
        );
        // The retry: no change set (nothing changed), the check passes (it failed before), and
        // on Flux 2.8.0-2.8.5 nothing else comes.
        send_all(&app, "dev-eu-1", &[GRAFANA.health_passed(&v120(), &at(-60))]);
        assert_eq!(seen(&app, "dev-eu-1"), expect("ready", "Progressing", Some(&v120())));
        send_all(&app, "dev-eu-1", &[GRAFANA.succeeded(&v120(), &at(-60))]);
        assert_eq!(
            seen(&app, "dev-eu-1"),
            expect("ready", "ReconciliationSucceeded", Some(&v120()))
        );
    }
);

both!(a_cancelled_health_check_is_neither_a_failure_nor_ready, |b: Backend| {
    let app = TestApp::with_fleet(b);
    send_all(&app, "dev-eu-1", &GRAFANA.release(&v110(), &at(-600), true));
    send_all(
        &app,
        "dev-eu-1",
        &[
            GRAFANA.change_set(&v120(), &at(-300)),
            GRAFANA.health_canceled(&v120(), &at(-290)),
        ],
    );
    assert_eq!(
        seen(&app, "dev-eu-1"),
        expect("progressing", "HealthCheckCanceled", Some(&v120()))
    );
    // v1.2.0's objects stay applied where v1.1.0 is wanted: a mismatch, not a failure.
    assert_eq!(observed(&app, "dev-eu-1", "drift"), json!(["version_mismatch"]));
});

both!(a_dependency_not_ready_waits_and_keeps_what_was_applied, |b: Backend| {
    let app = TestApp::with_fleet(b);
    send_all(&app, "dev-eu-1", &GRAFANA.release(&v110(), &at(-600), false));
    send_all(&app, "dev-eu-1", &[GRAFANA.dependency_not_ready(&v120(), &at(-30))]);
    let k = kustomization(&app, "dev-eu-1");
    assert_eq!(
        (k["state"].as_str(), k["reason"].as_str()),
        (Some("progressing"), Some("DependencyNotReady"))
    );
    assert_eq!(
        (k["last_revision"].as_str(), k["applied_revision"].as_str()),
        (Some(v120().as_str()), Some(v110().as_str()))
    );
});

both!(
    events_of_one_second_merge_by_meaning_in_any_arrival_order,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let second = at(-30);
        // Ready beats Progressing of the same revision: NC's goroutines deliver in reverse, and
        // the change set coming last changes nothing. Of two ready events, the later arrival
        // speaks.
        let mut release = GRAFANA.release(&v110(), &second, true);
        release.reverse();
        send_all(&app, "dev-eu-1", &release);
        assert_eq!(seen(&app, "dev-eu-1"), expect("ready", "Progressing", Some(&v110())));
        assert_eq!(
            kustomization(&app, "dev-eu-1")["message"],
            "Health check passed in 5.012931107s"
        );
        let [change_set, passed, succeeded] = <[Post; 3]>::try_from(GRAFANA.release(&v110(), &second, true)).unwrap();
        send_all(&app, "qa-eu-1", &[passed, succeeded, change_set]);
        assert_eq!(
            seen(&app, "qa-eu-1"),
            expect("ready", "ReconciliationSucceeded", Some(&v110()))
        );

        // A change set of a newer revision beats Ready of the older, whichever comes first.
        let later = at(-20);
        for (cluster, order) in [("prod-eu-1", false), ("prod-us-1", true)] {
            let mut posts = vec![GRAFANA.succeeded(&v110(), &later), GRAFANA.change_set(&v120(), &later)];
            if order {
                posts.reverse();
            }
            send_all(&app, cluster, &posts);
            assert_eq!(
                seen(&app, cluster),
                expect("applied", "Progressing", Some(&v120())),
                "{cluster}"
            );
        }

        // A failure of a newer revision beats Ready of the older, whichever comes first.
        let last = at(-10);
        for (cluster, order) in [("dev-eu-1", false), ("qa-eu-1", true)] {
            let mut posts = vec![GRAFANA.succeeded(&v110(), &last), GRAFANA.health_failed(&v120(), &last)];
            if order {
                posts.reverse();
            }
            send_all(&app, cluster, &posts);
            assert_eq!(
                seen(&app, cluster),
                expect("failed", "HealthCheckFailed", Some(&v110())),
                "{cluster}"
            );
        }
    }
);

both!(
    notification_controller_retries_are_taken_in_once_and_a_late_one_moves_nothing,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let [change_set, passed] = <[Post; 2]>::try_from(GRAFANA.release_2_8_early(&v110(), &at(-60), true)).unwrap();
        send_all(&app, "dev-eu-1", &[change_set.clone(), passed.clone()]);
        // NC retried the post whose answer it did not see: the same bytes again.
        let again = send(&app, "dev-eu-1", &passed);
        assert_eq!((again.status, again.json()["duplicate"].as_bool()), (202, Some(true)));
        send_all(&app, "dev-eu-1", &[GRAFANA.change_set(&v120(), &at(-30))]);
        // A retry of an older event, arriving after a newer one, changes nothing.
        let late = send(&app, "dev-eu-1", &change_set);
        assert_eq!(late.json()["duplicate"], true);
        let older = GRAFANA.health_passed(&v110(), &at(-45));
        send_all(&app, "dev-eu-1", &[older]);
        assert_eq!(seen(&app, "dev-eu-1"), expect("applied", "Progressing", Some(&v120())));
        let events = app.get("/api/v1/clusters/dev-eu-1/events").json();
        assert_eq!(events["items"].as_array().unwrap().len(), 4);
    }
);

both!(
    html_escaped_bodies_with_the_gotk_component_header_are_read_as_sent,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let failed = oci_pull_failed("grafana", &at(-10));
        assert!(failed.body.contains("\\u0026service="), "{}", failed.body);
        send_all(&app, "dev-eu-1", &[failed]);
        let o = observed(&app, "dev-eu-1", "oci_repository");
        assert_eq!(
            (o["state"].as_str(), o["reason"].as_str()),
            (Some("failed"), Some("OCIArtifactPullFailed"))
        );
        assert!(
            o["message"]
                .as_str()
                .unwrap()
                .contains("%3Apull&service=registry.example.com"),
            "{o}"
        );
    }
);

both!(
    the_event_routes_take_bodies_up_to_3_mib_while_the_api_keeps_its_limit,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let mut big = GRAFANA.change_set(&v110(), &at(-10));
        let filler = "x".repeat(3 * 1024 * 1024 - big.body.len() - 64);
        big.body = big
            .body
            .replacen("\"message\":\"", &format!("\"message\":\"{filler}"), 1);
        assert!(big.body.len() > 2 * 1024 * 1024 && big.body.len() <= 3 * 1024 * 1024);
        assert_eq!(send(&app, "dev-eu-1", &big).status, 202);
        let mut over = big.clone();
        over.body = over
            .body
            .replacen("\"message\":\"", &format!("\"message\":\"{}", "y".repeat(4096)), 1);
        assert_eq!(send(&app, "dev-eu-1", &over).status, 413);
        // Elsewhere the general limit (1 MiB by default) holds.
        let reply = app.request(
            "POST",
            "/api/v1/rollouts",
            Some(&format!("{{\"pad\":\"{}\"}}", "z".repeat(2 * 1024 * 1024))),
            &[],
        );
        assert_eq!(reply.status, 413, "{}", reply.body);
    }
);

/// Every `null` in `value`, by path.
fn nulls(value: &Value, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Null => out.push(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| nulls(v, &format!("{path}[{i}]"), out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| nulls(v, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

both!(inputs_have_every_documented_key_and_no_null_anywhere, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let schema = serde_json::to_value(platform_catalog::http::openapi()).unwrap();
    let input = &schema["components"]["schemas"]["InputDto"];
    let mut documented: Vec<&str> = input["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut required: Vec<&str> = input["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    documented.sort_unstable();
    required.sort_unstable();
    assert_eq!(documented, required, "every documented key is always sent");
    // dev pins no digests: its inputs carry `""`, not null.
    for cluster in ["dev-eu-1", "prod-eu-1"] {
        let reply = app.get(&format!("/api/v1/clusters/{cluster}/inputs"));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let doc = reply.json();
        let mut found = Vec::new();
        nulls(&doc, "$", &mut found);
        assert_eq!(found, Vec::<String>::new(), "{doc}");
        let inputs = doc["inputs"].as_array().unwrap();
        for i in inputs {
            let mut keys: Vec<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, documented, "{i}");
        }
        assert_eq!(
            reply.header("x-platform-catalog-input-count"),
            Some(inputs.len().to_string().as_str())
        );
        assert_eq!(reply.header("x-platform-catalog-warning"), None);
    }
    let dev = app.get("/api/v1/clusters/dev-eu-1/inputs").json();
    assert_eq!(dev["inputs"][0]["digest"], "");
});

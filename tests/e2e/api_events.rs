//! Flux reports back over HTTP, on SQLite and PostgreSQL: notification-controller events taken
//! in with and without HMAC, observed state, duplicates, unknown objects, malformed posts.

use platform_catalog::service::observed::hmac;
use platform_catalog::service::tokens::Role;
use serde_json::{json, Value};

use crate::both;
use crate::support::app::{Backend, Reply, TestApp};

pub(crate) const D110: &str = "sha256:6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4";
pub(crate) const D100: &str = "sha256:3f1c1e7a4b0d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
/// A digest no tag of ours has: what a moved tag resolves to.
pub(crate) const MOVED: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000bad";

/// An event as notification-controller's generic provider posts it.
pub(crate) fn event(kind: &str, name: &str, severity: &str, reason: &str, revision: Option<&str>, at: &str) -> Value {
    let (api, controller) = match kind {
        "OCIRepository" => ("source.toolkit.fluxcd.io/v1", "source-controller"),
        _ => ("kustomize.toolkit.fluxcd.io/v1", "kustomize-controller"),
    };
    let mut metadata = json!({});
    if let Some(r) = revision {
        metadata["revision"] = json!(r);
    }
    json!({
        "involvedObject": {"apiVersion": api, "kind": kind, "name": name, "namespace": "flux-system",
                           "uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632", "resourceVersion": "12345"},
        "severity": severity,
        "timestamp": at,
        "message": format!("{reason} for {name}"),
        "reason": reason,
        "metadata": metadata,
        "reportingController": controller,
        "reportingInstance": format!("{controller}-7f9c8b6d4-x2x9q"),
    })
}

/// The time `seconds` from now, as Flux writes it.
pub(crate) fn at(seconds: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time `at` made (whole seconds, as Flux sends them) as answers show it: with milliseconds.
pub(crate) fn shown(sent: &str) -> String {
    sent.replacen('Z', ".000Z", 1)
}

pub(crate) fn post_as(app: &TestApp, token: &str, path: &str, body: &Value) -> Reply {
    app.request_as(Some(token), "POST", path, Some(&body.to_string()))
}

/// Posts an event for `cluster` with the admin token through the per-cluster path.
pub(crate) fn report(app: &TestApp, cluster: &str, body: &Value) -> Value {
    let reply = app.post(&format!("/api/v1/clusters/{cluster}/events/flux"), body);
    assert_eq!(reply.status, 202, "{}", reply.body);
    reply.json()
}

fn component<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == id)
        .unwrap_or_else(|| panic!("no {id} in {status}"))
}

fn event_count(app: &TestApp, cluster: &str) -> usize {
    let reply = app.get(&format!("/api/v1/clusters/{cluster}/events?limit=500"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["items"].as_array().unwrap().len()
}

both!(events_from_a_cluster_token_move_its_observed_state, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let token = app.issue("dev-agent", Role::Cluster, Some("dev-eu-1"));
    let ok = event(
        "Kustomization",
        "grafana",
        "info",
        "ReconciliationSucceeded",
        Some(&format!("v1.1.0@{D110}")),
        &at(-60),
    );
    let reply = post_as(&app, &token, "/api/v1/events/flux", &ok);
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(
        reply.json(),
        json!({"duplicate": false, "component": "grafana", "unmanaged": false})
    );

    let status = app.get("/api/v1/clusters/dev-eu-1/status").json();
    let k = &component(&status, "grafana")["kustomization"];
    assert_eq!(
        (k["state"].as_str(), k["applied_tag"].as_str()),
        (Some("ready"), Some("v1.1.0"))
    );
    assert_eq!(k["applied_digest"], D110);
    assert_eq!(component(&status, "grafana")["desired"]["oci_tag"], "v1.1.0");
    assert_eq!(component(&status, "grafana")["desired"]["digest"], D110);
    assert_eq!(component(&status, "grafana")["drift"], json!([]));

    // A failed reconcile of a new revision: failed, still applying what last succeeded.
    let failed = event(
        "Kustomization",
        "grafana",
        "error",
        "ReconciliationFailed",
        Some(&format!("v1.2.0@{D100}")),
        &at(-50),
    );
    assert_eq!(post_as(&app, &token, "/api/v1/events/flux", &failed).status, 202);
    let k = app.get("/api/v1/clusters/dev-eu-1/status").json();
    let k = &component(&k, "grafana")["kustomization"];
    assert_eq!(
        (k["state"].as_str(), k["reason"].as_str()),
        (Some("failed"), Some("ReconciliationFailed"))
    );
    assert_eq!(k["message"], "ReconciliationFailed for grafana");
    assert_eq!(k["last_revision"], format!("v1.2.0@{D100}"));
    assert_eq!(k["applied_tag"], "v1.1.0");

    // Applying: progressing. An older event arriving late changes nothing.
    let progressing = event(
        "Kustomization",
        "grafana",
        "info",
        "Progressing",
        Some(&format!("v1.1.0@{D110}")),
        &at(-40),
    );
    assert_eq!(post_as(&app, &token, "/api/v1/events/flux", &progressing).status, 202);
    let late = event("Kustomization", "grafana", "error", "HealthCheckFailed", None, &at(-45));
    assert_eq!(post_as(&app, &token, "/api/v1/events/flux", &late).status, 202);
    let k = app.get("/api/v1/clusters/dev-eu-1/status").json();
    assert_eq!(component(&k, "grafana")["kustomization"]["state"], "progressing");

    // The source fetched an artifact; the revision key carries the API group prefix.
    let mut fetched = event("OCIRepository", "grafana", "info", "NewArtifact", None, &at(-30));
    fetched["metadata"] = json!({"source.toolkit.fluxcd.io/revision": format!("v1.1.0@{D110}")});
    assert_eq!(post_as(&app, &token, "/api/v1/events/flux", &fetched).status, 202);
    let o = app.get("/api/v1/clusters/dev-eu-1/status").json();
    let o = &component(&o, "grafana")["oci_repository"];
    assert_eq!(
        (o["state"].as_str(), o["applied_digest"].as_str()),
        (Some("ready"), Some(D110))
    );

    // A digest-only revision (a tier pinning digests).
    let pinned = event(
        "Kustomization",
        "cert-manager",
        "info",
        "ReconciliationSucceeded",
        Some(D110),
        &at(-20),
    );
    report(&app, "prod-eu-1", &pinned);
    let s = app.get("/api/v1/clusters/prod-eu-1/status").json();
    let k = &component(&s, "cert-manager")["kustomization"];
    assert_eq!(
        (k["applied_tag"].clone(), k["applied_digest"].as_str()),
        (Value::Null, Some(D110))
    );

    assert_eq!(event_count(&app, "dev-eu-1"), 5);
    let events = app.get("/api/v1/clusters/dev-eu-1/events?limit=2").json();
    assert_eq!(events["items"][0]["reason"], "NewArtifact", "newest first: {events}");
    assert_eq!(events["items"][0]["revision"], format!("v1.1.0@{D110}"));
    let next = events["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("/api/v1/clusters/dev-eu-1/events?limit=500&cursor={next}"))
        .json();
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);

    // A cluster token posts only its own cluster's events.
    let other = post_as(&app, &token, "/api/v1/clusters/qa-eu-1/events/flux", &ok);
    assert_eq!(other.status, 403, "{}", other.body);
    assert_eq!(event_count(&app, "qa-eu-1"), 0);
    let own = post_as(&app, &token, "/api/v1/clusters/dev-eu-1/events/flux", &progressing);
    assert_eq!((own.status, own.json()["duplicate"].as_bool()), (202, Some(true)));
    let operator = app.issue("ops", Role::Operator, None);
    assert_eq!(
        post_as(&app, &operator, "/api/v1/clusters/qa-eu-1/events/flux", &ok).status,
        202
    );
    assert_eq!(
        post_as(&app, &operator, "/api/v1/clusters/nowhere/events/flux", &ok).status,
        404
    );
    let viewer = app.issue("viewer", Role::Viewer, None);
    assert_eq!(
        post_as(&app, &viewer, "/api/v1/clusters/qa-eu-1/events/flux", &ok).status,
        403
    );
    assert_eq!(event_count(&app, "qa-eu-1"), 1);
});

both!(
    retried_events_are_taken_in_once_and_unknown_objects_are_stored_flagged,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let ok = event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &at(-5),
        );
        assert_eq!(report(&app, "qa-eu-1", &ok)["duplicate"], false);
        assert_eq!(report(&app, "qa-eu-1", &ok)["duplicate"], true);
        assert_eq!(event_count(&app, "qa-eu-1"), 1);

        let mystery = event(
            "Kustomization",
            "mystery",
            "info",
            "ReconciliationSucceeded",
            Some("v9.9.9"),
            &at(-4),
        );
        assert_eq!(
            report(&app, "qa-eu-1", &mystery),
            json!({"duplicate": false, "component": null, "unmanaged": true})
        );
        // Another namespace is not ours either, even under a component's name.
        let mut elsewhere = ok.clone();
        elsewhere["involvedObject"]["namespace"] = json!("team-a");
        assert_eq!(report(&app, "qa-eu-1", &elsewhere)["unmanaged"], true);
        let helm = event("HelmRelease", "grafana", "info", "UpgradeSucceeded", None, &at(-3));
        assert_eq!(report(&app, "qa-eu-1", &helm)["unmanaged"], true);
        assert_eq!(event_count(&app, "qa-eu-1"), 4);
        let status = app.get("/api/v1/clusters/qa-eu-1/status").json();
        let unmanaged: Vec<String> = status["unmanaged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{}/{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["namespace"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            unmanaged,
            [
                "HelmRelease/flux-system/grafana",
                "Kustomization/flux-system/mystery",
                "Kustomization/team-a/grafana"
            ]
        );
    }
);

both!(
    malformed_events_are_refused_naming_the_field_and_store_nothing,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let good = event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some("v1.1.0"),
            &at(0),
        );
        let path = "/api/v1/clusters/dev-eu-1/events/flux";
        let not_json = app.request("POST", path, Some("{\"involvedObject\":"), &[]);
        assert_eq!(not_json.status, 400, "{}", not_json.body);
        let cases: Vec<(Value, &str)> = vec![
            (
                {
                    let mut e = good.clone();
                    e["involvedObject"]["kind"] = Value::Null;
                    e
                },
                "$.involvedObject.kind: is required",
            ),
            (
                {
                    let mut e = good.clone();
                    e.as_object_mut().unwrap().remove("involvedObject");
                    e
                },
                "$.involvedObject: is required",
            ),
            (
                {
                    let mut e = good.clone();
                    e["severity"] = json!("warning");
                    e
                },
                "$.severity: must be info, error or trace, not \"warning\"",
            ),
            (
                {
                    let mut e = good.clone();
                    e["timestamp"] = json!("yesterday");
                    e
                },
                "$.timestamp: must be an RFC 3339 time",
            ),
            (
                {
                    let mut e = good.clone();
                    e["reason"] = json!("");
                    e
                },
                "$.reason: is required",
            ),
            (
                {
                    let mut e = good.clone();
                    e["metadata"] = json!({"revision": 7});
                    e
                },
                "metadata.revision",
            ),
        ];
        for (body, named) in cases {
            let reply = app.post(path, &body);
            assert_eq!(reply.status, 400, "{named}: {}", reply.body);
            assert_eq!(reply.header("content-type"), Some("application/problem+json"));
            let detail = reply.json()["detail"].as_str().unwrap().to_owned();
            assert!(detail.contains(named), "{named} in {detail}");
        }
        assert_eq!(event_count(&app, "dev-eu-1"), 0);
        assert_eq!(app.post(path, &good).status, 202);
    }
);

both!(
    with_an_event_secret_only_correctly_signed_posts_are_taken_in,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let token = app.issue("prod-agent", Role::Cluster, Some("prod-eu-1"));
        assert_eq!(
            post_as(&app, &token, "/api/v1/clusters/prod-eu-1/event-secret", &json!({})).status,
            403,
            "a cluster does not issue its own secret"
        );
        let issued = app.post("/api/v1/clusters/prod-eu-1/event-secret", &json!({}));
        assert_eq!(issued.status, 201, "{}", issued.body);
        let secret = issued.json()["secret"].as_str().unwrap().to_owned();
        assert_eq!(secret.len(), 64);
        assert_eq!(
            app.post("/api/v1/clusters/nowhere/event-secret", &json!({})).status,
            404
        );

        let body = event(
            "Kustomization",
            "grafana",
            "info",
            "ReconciliationSucceeded",
            Some(&format!("v1.1.0@{D110}")),
            &at(0),
        )
        .to_string();
        let bearer = format!("Bearer {token}");
        let send = |signature: Option<&str>| {
            let mut headers = vec![("authorization", bearer.as_str())];
            if let Some(s) = signature {
                headers.push(("x-signature", s));
            }
            app.send("POST", "/api/v1/events/flux", Some(&body), &headers)
        };
        let unsigned = send(None);
        assert_eq!(unsigned.status, 401, "{}", unsigned.body);
        assert!(unsigned.json()["detail"].as_str().unwrap().contains("X-Signature"));
        let forged = hmac::signature(b"not-the-secret", body.as_bytes());
        assert_eq!(send(Some(&forged)).status, 401);
        let other_body = hmac::signature(secret.as_bytes(), b"{}");
        assert_eq!(send(Some(&other_body)).status, 401);
        assert_eq!(event_count(&app, "prod-eu-1"), 0, "a refused post stores nothing");
        let status = app.get("/api/v1/clusters/prod-eu-1/status").json();
        assert_eq!(component(&status, "grafana")["kustomization"], Value::Null);

        let good = send(Some(&hmac::signature(secret.as_bytes(), body.as_bytes())));
        assert_eq!(good.status, 202, "{}", good.body);
        assert_eq!(event_count(&app, "prod-eu-1"), 1);

        // The secret is never shown again, not even in the audit log.
        let audit = app.get("/api/v1/audit?target=cluster/prod-eu-1").body;
        assert!(audit.contains("cluster.event_secret.rotate"), "{audit}");
        assert!(!audit.contains(&secret));

        // Rotating replaces it; removing it returns to token-only posts.
        let rotated = app.post("/api/v1/clusters/prod-eu-1/event-secret", &json!({})).json()["secret"].clone();
        assert_ne!(rotated, json!(secret));
        assert_eq!(
            send(Some(&hmac::signature(secret.as_bytes(), body.as_bytes()))).status,
            401
        );
        assert_eq!(app.delete("/api/v1/clusters/prod-eu-1/event-secret").status, 204);
        assert_eq!(app.delete("/api/v1/clusters/prod-eu-1/event-secret").status, 404);
        let after = send(None);
        assert_eq!((after.status, after.json()["duplicate"].as_bool()), (202, Some(true)));
    }
);

both!(
    each_cluster_keeps_its_newest_events_however_posts_interleave,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        // Two clusters taking turns: a prune schedule counted over all posts would reach only one.
        let clusters = ["dev-eu-1", "qa-eu-1"];
        let posts = 130;
        for i in 0..posts {
            for cluster in clusters {
                let mut body = event("Kustomization", "grafana", "info", "Progressing", None, &at(i - posts));
                body["message"] = json!(format!("event {i}"));
                report(&app, cluster, &body);
            }
        }
        for cluster in clusters {
            let listed = app.get(&format!("/api/v1/clusters/{cluster}/events?limit=500")).json();
            let messages: Vec<&str> = listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["message"].as_str().unwrap())
                .collect();
            assert!(
                (100..116).contains(&messages.len()),
                "{cluster} keeps about 100 events, not {}",
                messages.len()
            );
            let newest: Vec<String> = (0..posts)
                .rev()
                .take(messages.len())
                .map(|i| format!("event {i}"))
                .collect();
            assert_eq!(messages, newest, "{cluster} keeps its newest events, newest first");
        }
    }
);

both!(an_event_for_a_cluster_just_deleted_is_refused_with_404, |b: Backend| {
    let app = TestApp::with_fleet(b);
    let ok = event("Kustomization", "grafana", "info", "Progressing", None, &at(-5));
    report(&app, "qa-eu-1", &ok);
    assert_eq!(app.delete("/api/v1/clusters/qa-eu-1").status, 204);
    // The receiver may still trust what it read of the cluster a moment ago: the database
    // refuses the event, and the post hears why.
    let mut again = ok.clone();
    again["message"] = json!("after the delete");
    let reply = app.post("/api/v1/clusters/qa-eu-1/events/flux", &again);
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(reply.json()["detail"], "cluster \"qa-eu-1\" does not exist");
    assert_eq!(report(&app, "dev-eu-1", &ok)["duplicate"], false);
});

both!(
    events_posted_at_once_in_scrambled_order_leave_the_newest_state,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        // 64 events of one object from 8 posters at once, so batches hold several of them in no
        // particular order. Only the newest is a success.
        let events: Vec<Value> = (0..64)
            .map(|i| {
                let (severity, reason, revision) = match i {
                    63 => ("info", "ReconciliationSucceeded", Some(format!("v1.1.0@{D110}"))),
                    _ if i % 3 == 0 => ("error", "ReconciliationFailed", Some(format!("v1.2.0@{D100}"))),
                    _ => ("info", "Progressing", None),
                };
                let mut e = event(
                    "Kustomization",
                    "grafana",
                    severity,
                    reason,
                    revision.as_deref(),
                    &at(i - 100),
                );
                e["message"] = json!(format!("event {i}"));
                e
            })
            .collect();
        std::thread::scope(|s| {
            for poster in 0..8 {
                let (app, events) = (&app, &events);
                s.spawn(move || {
                    // 37 is prime to 64: a scrambled order that still posts every event once.
                    for j in (poster..64).step_by(8) {
                        report(app, "dev-eu-1", &events[(j * 37) % 64]);
                    }
                });
            }
        });
        let status = app.get("/api/v1/clusters/dev-eu-1/status").json();
        let k = &component(&status, "grafana")["kustomization"];
        assert_eq!(
            (k["state"].as_str(), k["message"].as_str(), k["applied_tag"].as_str()),
            (Some("ready"), Some("event 63"), Some("v1.1.0")),
            "{k}"
        );
        assert_eq!(k["last_revision"], format!("v1.1.0@{D110}"));
        assert_eq!(event_count(&app, "dev-eu-1"), 64);
    }
);

both!(
    a_success_that_arrives_late_moves_the_applied_revision_if_it_is_the_latest_success,
    |b: Backend| {
        let app = TestApp::with_fleet(b);
        let kustomization = |app: &TestApp| {
            let status = app.get("/api/v1/clusters/dev-eu-1/status").json();
            component(&status, "grafana")["kustomization"].clone()
        };
        let (v110, v120) = (format!("v1.1.0@{D110}"), format!("v1.2.0@{D100}"));
        let succeeded = |revision: &str, at: &str| {
            event(
                "Kustomization",
                "grafana",
                "info",
                "ReconciliationSucceeded",
                Some(revision),
                at,
            )
        };
        report(&app, "dev-eu-1", &succeeded(&v110, &at(-60)));
        let failed = event(
            "Kustomization",
            "grafana",
            "error",
            "HealthCheckFailed",
            Some(&v120),
            &at(-20),
        );
        report(&app, "dev-eu-1", &failed);

        // v1.2.0 was applied 30 s ago, but its event comes only now (a retried post): it is what
        // runs, while the state stays the failure reported after it.
        let applied_at = at(-30);
        report(&app, "dev-eu-1", &succeeded(&v120, &applied_at));
        let k = kustomization(&app);
        assert_eq!(
            (k["state"].as_str(), k["reason"].as_str()),
            (Some("failed"), Some("HealthCheckFailed"))
        );
        assert_eq!(
            (
                k["applied_tag"].as_str(),
                k["applied_digest"].as_str(),
                k["applied_at"].as_str()
            ),
            (Some("v1.2.0"), Some(D100), Some(shown(&applied_at).as_str()))
        );

        // A success older than the latest one moves nothing, however late it comes.
        report(&app, "dev-eu-1", &succeeded(&v110, &at(-45)));
        let k = kustomization(&app);
        assert_eq!(
            (k["state"].as_str(), k["applied_tag"].as_str(), k["applied_at"].as_str()),
            (Some("failed"), Some("v1.2.0"), Some(shown(&applied_at).as_str()))
        );
    }
);

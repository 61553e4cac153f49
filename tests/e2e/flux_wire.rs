//! Event bodies byte for byte as notification-controller's `generic` and `generic-hmac`
//! providers post them, and the sequences each Flux version sends, for the tests to share.
//!
//! The body is Go's `encoding/json` of `eventv1.Event` (`fluxcd/pkg` apis/event/v1beta1
//! event.go): fields in struct order (`involvedObject`, `severity`, `timestamp`, `message`,
//! `reason`, `metadata` (omitted when empty), `reportingController`, `reportingInstance`),
//! compact, map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u00XX`, no trailing
//! newline. `involvedObject` is a `corev1.ObjectReference` in its field order (kind, namespace,
//! name, uid, apiVersion, resourceVersion). The timestamp is a `metav1.Time`: RFC 3339 in UTC,
//! whole seconds. Metadata keys are as NC leaves them after stripping the object's API group
//! prefix (`internal/server/event_handlers.go`): `revision`, `originRevision`,
//! `commit_status`. NC sets `Gotk-Component: <reportingController>` on every post
//! (`internal/notifier/forwarder.go`).
//!
//! Messages follow kustomize-controller `internal/controller/kustomization_controller.go`
//! (the reason is the Ready condition's reason when the event is sent) and source-controller.

use crate::support::app::{Reply, TestApp};

pub(crate) const UID: &str = "7d0cdc51-ddcf-4743-b223-83ca5c699632";

/// Go's `encoding/json` string encoding, HTML-safe as `json.Marshal` does it.
pub(crate) fn go_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One post as NC sends it: the body and the `Gotk-Component` header.
#[derive(Clone, Debug)]
pub(crate) struct Post {
    pub body: String,
    pub component: &'static str,
}

/// The Flux object an event is about.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Object<'a> {
    Kustomization(&'a str),
    OciRepository(&'a str),
}

impl Object<'_> {
    fn parts(&self) -> (&'static str, &str, &'static str, &'static str) {
        match self {
            Object::Kustomization(n) => (
                "Kustomization",
                n,
                "kustomize.toolkit.fluxcd.io/v1",
                "kustomize-controller",
            ),
            Object::OciRepository(n) => ("OCIRepository", n, "source.toolkit.fluxcd.io/v1", "source-controller"),
        }
    }
}

/// An event body. `metadata` is sorted here, as Go sorts map keys.
pub(crate) fn post(
    object: Object<'_>,
    severity: &str,
    at: &str,
    message: &str,
    reason: &str,
    metadata: &[(&str, &str)],
) -> Post {
    let (kind, name, api_version, controller) = object.parts();
    let mut meta: Vec<(&str, &str)> = metadata.to_vec();
    meta.sort();
    let meta = match meta.is_empty() {
        true => String::new(),
        false => format!(
            ",\"metadata\":{{{}}}",
            meta.iter()
                .map(|(k, v)| format!("{}:{}", go_string(k), go_string(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    let body = format!(
        "{{\"involvedObject\":{{\"kind\":{},\"namespace\":\"flux-system\",\"name\":{},\"uid\":\"{UID}\",\
         \"apiVersion\":\"{api_version}\",\"resourceVersion\":\"48213\"}},\"severity\":\"{severity}\",\
         \"timestamp\":\"{at}\",\"message\":{},\"reason\":{}{meta},\"reportingController\":\"{controller}\",\
         \"reportingInstance\":\"{controller}-7f9c8b6d4-x2x9q\"}}",
        go_string(kind),
        go_string(name),
        go_string(message),
        go_string(reason),
    );
    Post {
        body,
        component: controller,
    }
}

/// Posts `p` for `cluster` with the admin token, exactly as NC would (the body as is).
pub(crate) fn send(app: &TestApp, cluster: &str, p: &Post) -> Reply {
    app.request(
        "POST",
        &format!("/api/v1/clusters/{cluster}/events/flux"),
        Some(&p.body),
        &[("gotk-component", p.component)],
    )
}

/// Posts each in order, expecting each taken in.
pub(crate) fn send_all(app: &TestApp, cluster: &str, posts: &[Post]) {
    for p in posts {
        let reply = send(app, cluster, p);
        assert_eq!(reply.status, 202, "{}: {}", p.body, reply.body);
    }
}

/// KC's events of one Kustomization.
pub(crate) struct Kc<'a> {
    pub name: &'a str,
}

impl Kc<'_> {
    fn k(&self) -> Object<'_> {
        Object::Kustomization(self.name)
    }

    /// The change set of `revision` applied (`apply`): reason `Progressing`, one line per
    /// changed object.
    pub fn change_set(&self, revision: &str, at: &str) -> Post {
        let message = format!(
            "Deployment/monitoring/{0} configured\nService/monitoring/{0} unchanged",
            self.name
        );
        post(self.k(), "info", at, &message, "Progressing", &[("revision", revision)])
    }

    /// Health checks passed (`checkHealth`), with `wait` or `healthChecks`.
    pub fn health_passed(&self, revision: &str, at: &str) -> Post {
        post(
            self.k(),
            "info",
            at,
            "Health check passed in 5.012931107s",
            "Progressing",
            &[("revision", revision)],
        )
    }

    /// The success event after every successful reconcile; NC v1.8.0–v1.8.3 do not forward it.
    pub fn succeeded(&self, revision: &str, at: &str) -> Post {
        post(
            self.k(),
            "info",
            at,
            "Reconciliation finished in 5.201833s, next run in 10m0s",
            "ReconciliationSucceeded",
            &[("commit_status", "update"), ("revision", revision)],
        )
    }

    /// A health check that timed out.
    pub fn health_failed(&self, revision: &str, at: &str) -> Post {
        let message = format!(
            "health check failed after 5m0.031s: timeout waiting for: [Deployment/monitoring/{} status: 'InProgress']",
            self.name
        );
        post(
            self.k(),
            "error",
            at,
            &message,
            "HealthCheckFailed",
            &[("revision", revision)],
        )
    }

    /// Health checks of `revision` cancelled because the source moved on (Flux 2.8+).
    pub fn health_canceled(&self, revision: &str, at: &str) -> Post {
        let message = format!(
            "Health checks canceled due to new reconciliation triggered by OCIRepository/flux-system/{}",
            self.name
        );
        post(
            self.k(),
            "info",
            at,
            &message,
            "HealthCheckCanceled",
            &[("revision", revision)],
        )
    }

    /// A dependency is not ready yet; KC retries later.
    pub fn dependency_not_ready(&self, revision: &str, at: &str) -> Post {
        post(
            self.k(),
            "info",
            at,
            "Dependencies do not meet ready condition, retrying in 30s",
            "DependencyNotReady",
            &[("revision", revision)],
        )
    }

    /// A new revision on Flux 2.6, 2.7 and 2.9 (and 2.8.6+): the change set, the health
    /// check with `wait`, then the success event.
    pub fn release(&self, revision: &str, at: &str, wait: bool) -> Vec<Post> {
        let mut posts = vec![self.change_set(revision, at)];
        if wait {
            posts.push(self.health_passed(revision, at));
        }
        posts.push(self.succeeded(revision, at));
        posts
    }

    /// The same on Flux 2.8.0–2.8.5: NC drops the success event.
    pub fn release_2_8_early(&self, revision: &str, at: &str, wait: bool) -> Vec<Post> {
        let mut posts = self.release(revision, at, wait);
        posts.pop();
        posts
    }
}

/// source-controller could not pull: the registry's token URL carries `&`, which Go escapes.
pub(crate) fn oci_pull_failed(name: &str, at: &str) -> Post {
    let message = "failed to determine artifact digest: GET https://registry.example.com/token?\
                   scope=repository%3Aplatform%2Fcomponents%3Apull&service=registry.example.com: \
                   UNAUTHORIZED: authentication required";
    post(
        Object::OciRepository(name),
        "error",
        at,
        message,
        "OCIArtifactPullFailed",
        &[],
    )
}

#[test]
fn go_strings_escape_as_encoding_json_does() {
    assert_eq!(
        go_string("a<b>&\"c\"\n\u{2028}\u{1}"),
        r#""a\u003cb\u003e\u0026\"c\"\n\u2028\u0001""#
    );
    let p = Kc { name: "grafana" }.succeeded("v1.1.0", "2026-03-01T10:00:00Z");
    assert_eq!(
        p.body,
        "{\"involvedObject\":{\"kind\":\"Kustomization\",\"namespace\":\"flux-system\",\"name\":\"grafana\",\
         \"uid\":\"7d0cdc51-ddcf-4743-b223-83ca5c699632\",\"apiVersion\":\"kustomize.toolkit.fluxcd.io/v1\",\
         \"resourceVersion\":\"48213\"},\"severity\":\"info\",\"timestamp\":\"2026-03-01T10:00:00Z\",\
         \"message\":\"Reconciliation finished in 5.201833s, next run in 10m0s\",\"reason\":\"ReconciliationSucceeded\",\
         \"metadata\":{\"commit_status\":\"update\",\"revision\":\"v1.1.0\"},\"reportingController\":\"kustomize-controller\",\
         \"reportingInstance\":\"kustomize-controller-7f9c8b6d4-x2x9q\"}"
    );
    assert!(!p.body.ends_with('\n'));
}

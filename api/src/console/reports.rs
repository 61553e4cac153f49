//! The drift and audit pages: the API's filters as GET forms, each finding and entry linking to
//! its cluster or rollout.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::html::{segment, Html};
use super::{page, Refusal, Viewer};
use crate::error::Error;
use crate::http::{blocking, Shared};
use crate::service::history;
use crate::service::observed::drift::{self, DriftKind};
use crate::store::AuditQuery;

/// The filters of both pages (each reads its own).
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    component: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    actor: String,
}

fn given(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.trim().to_owned())
}

fn filter_form(h: &mut Html, action: &str, fields: &[(&str, &str, &str)]) {
    h.open(
        "form",
        &[
            ("method", Some("get")),
            ("action", Some(action)),
            ("class", Some("filters")),
        ],
    );
    for (name, label, value) in fields {
        h.input(&format!("f-{name}"), label, name, value);
    }
    h.el("button", &[("type", Some("submit"))], "Filter").close("form");
}

pub async fn get_drift(state: Shared, req: HttpRequest, q: web::Query<ReportQuery>) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let kind = match given(&q.kind) {
        None => None,
        Some(k) => Some(DriftKind::parse(&k).ok_or_else(|| {
            let kinds: Vec<&str> = DriftKind::ALL.iter().map(|k| k.as_str()).collect();
            Error::field("kind", format!("must be one of {}", kinds.join(", ")))
        })?),
    };
    let filter = drift::Filter {
        tier: given(&q.tier),
        cluster: given(&q.cluster),
        component: given(&q.component),
        kind,
        silent_after: None,
    };
    let report = blocking(move || drift::report(&state, &filter)).await?;
    Ok(page(StatusCode::OK, "Drift", Some(&viewer), |h| {
        filter_form(
            h,
            "/ui/drift",
            &[
                ("tier", "Tier", &q.tier),
                ("cluster", "Cluster", &q.cluster),
                ("component", "Component", &q.component),
                ("kind", "Kind", &q.kind),
            ],
        );
        if report.findings.is_empty() {
            h.el("p", &[], "✓ No drift: every cluster runs what it should.");
            return;
        }
        h.open("table", &[("class", Some("drift"))])
            .open("thead", &[])
            .open("tr", &[]);
        for col in ["Kind", "Tier", "Cluster", "Component", "Desired", "Applied", "Detail"] {
            h.el("th", &[("scope", Some("col"))], col);
        }
        h.close("tr").close("thead").open("tbody", &[]);
        for f in &report.findings {
            h.open("tr", &[]);
            h.el("td", &[], &format!("≠ {}", f.kind.as_str()));
            h.el("td", &[], &f.tier);
            h.open("td", &[]);
            if let Some(c) = &f.cluster {
                h.link(&format!("/ui/clusters/{}", segment(c)), c);
            }
            h.close("td");
            h.el("td", &[], f.component.as_deref().unwrap_or(""));
            h.el("td", &[], f.desired_tag.as_deref().unwrap_or(""));
            h.el("td", &[], f.applied_revision.as_deref().unwrap_or(""));
            h.el("td", &[], &f.detail);
            h.close("tr");
        }
        h.close("tbody").close("table");
    }))
}

/// Where an audit target (`cluster/<name>/…`, `rollout/<id>`) is shown in the console.
fn target_link(target: &str) -> Option<String> {
    let mut parts = target.split('/');
    match (parts.next(), parts.next()) {
        (Some("cluster"), Some(name)) => Some(format!("/ui/clusters/{}", segment(name))),
        (Some("rollout"), Some(id)) if id.bytes().all(|b| b.is_ascii_digit()) => Some(format!("/ui/rollouts/{id}")),
        _ => None,
    }
}

pub async fn get_audit(state: Shared, req: HttpRequest, q: web::Query<ReportQuery>) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let filter = AuditQuery {
        target: given(&q.target),
        cluster: given(&q.cluster),
        actor: given(&q.actor),
        since: None,
        before: None,
        limit: 200,
    };
    let rows = blocking(move || history::audit(&state, &filter)).await?;
    Ok(page(StatusCode::OK, "Audit", Some(&viewer), |h| {
        filter_form(
            h,
            "/ui/audit",
            &[
                ("target", "Target", &q.target),
                ("cluster", "Cluster", &q.cluster),
                ("actor", "Actor", &q.actor),
            ],
        );
        h.el("p", &[], "The latest 200 entries, newest first.");
        h.open("table", &[("class", Some("audit"))])
            .open("thead", &[])
            .open("tr", &[]);
        for col in ["When", "Who", "Action", "Target", "Request"] {
            h.el("th", &[("scope", Some("col"))], col);
        }
        h.close("tr").close("thead").open("tbody", &[]);
        for r in &rows {
            h.open("tr", &[]);
            h.el("td", &[], &r.at.format("%Y-%m-%d %H:%M:%S").to_string());
            h.el("td", &[], &r.actor);
            h.el("td", &[], &r.action);
            h.open("td", &[]);
            match target_link(&r.target) {
                Some(href) => h.link(&href, &r.target),
                None => h.text(&r.target),
            };
            h.close("td");
            h.el("td", &[], &r.request_id);
            h.close("tr");
        }
        h.close("tbody").close("table");
    }))
}

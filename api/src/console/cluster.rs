//! The cluster page: every component with its tag, why it runs it and what Flux reports, the
//! recent Flux events, the revision history with a rendered diff between two revisions, and
//! for operators the pin, unpin and rollback forms (each previewed before it writes).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::html::{segment, Html};
use super::matrix::{provenance_mark, state_mark};
use super::{page, Refusal, Viewer};
use crate::error::Error;
use crate::http::{blocking, Shared};
use crate::service::clusters::AssignmentView;
use crate::service::clusters::{self, ClusterFilter};
use crate::service::fleet_view::{self, Row};
use crate::service::history::{self, Revision};
use crate::service::observed::FluxEventView;
use crate::service::{diff, observed};

/// Which two revisions to diff.
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// Everything the page shows, read on one blocking thread.
struct ClusterView {
    row: Row,
    assignments: Vec<AssignmentView>,
    events: Vec<FluxEventView>,
    revisions: Vec<Revision>,
    diff: Option<(i64, i64, String)>,
}

fn read(state: &crate::service::AppState, name: &str, q: &DiffQuery) -> Result<ClusterView, Error> {
    clusters::get(state, name)?;
    let rows = fleet_view::page_named(state, &ClusterFilter::default(), Some(name), None, 500)?.rows;
    let row = rows
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::NotFound {
            kind: "cluster",
            name: name.to_owned(),
        })?;
    let revisions = history::revisions(state, name, None, 20)?;
    let diff = match (q.from, q.to) {
        (Some(from), Some(to)) => Some((from, to, diff::between_revisions(state, name, from, to)?)),
        _ => None,
    };
    Ok(ClusterView {
        row,
        assignments: clusters::assignments(state, name)?,
        events: observed::events(state, name, None, 20)?,
        revisions,
        diff,
    })
}

pub async fn get_cluster(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    q: web::Query<DiffQuery>,
) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let name = name.into_inner();
    let q = q.into_inner();
    let view = blocking(move || read(&state, &name, &q)).await?;
    let title = format!("Cluster {}", view.row.name);
    Ok(page(StatusCode::OK, &title, Some(&viewer), |h| {
        let labels: Vec<String> = view.row.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        h.el(
            "p",
            &[],
            &format!(
                "Tier {} · revision {} · labels {}",
                view.row.tier,
                view.row.revision,
                labels.join(", ")
            ),
        );
        components(h, &viewer, &view);
        events(h, &view.events);
        history_table(h, &viewer, &view);
    }))
}

fn components(h: &mut Html, viewer: &Viewer, view: &ClusterView) {
    let base = format!("/ui/clusters/{}", segment(&view.row.name));
    h.el("h2", &[], "Components");
    h.open("table", &[("class", Some("components"))])
        .open("thead", &[])
        .open("tr", &[]);
    for col in ["Component", "Tag", "Path", "Why", "Override", "Observed"] {
        h.el("th", &[("scope", Some("col"))], col);
    }
    if viewer.operates() {
        h.el("th", &[("scope", Some("col"))], "Change");
    }
    h.close("tr").close("thead").open("tbody", &[]);
    for c in &view.row.components {
        let assignment = view.assignments.iter().find(|a| a.component == c.component);
        let (class, state) = state_mark(c.state, &c.drift);
        h.open("tr", &[("id", Some(&format!("component-{}", c.component)))]);
        h.el("th", &[("scope", Some("row"))], &c.component);
        h.el("td", &[("class", Some("tag"))], &c.oci_tag);
        h.el("td", &[], &c.component_path);
        h.el("td", &[("class", Some("prov"))], provenance_mark(c.provenance));
        h.el("td", &[("class", Some("override"))], &override_text(assignment));
        h.el("td", &[("class", Some(class))], &state);
        if viewer.operates() {
            h.open("td", &[]);
            pin_form(h, viewer, &base, &c.component);
            if assignment.is_some_and(|a| a.oci_tag.is_some() || a.component_path.is_some()) {
                viewer.form(h, &format!("{base}/unpin"));
                h.hidden("component", &c.component);
                h.el(
                    "button",
                    &[("type", Some("submit"))],
                    &format!("Unpin {}…", c.component),
                )
                .close("form");
            }
            h.close("td");
        }
        h.close("tr");
    }
    h.close("tbody").close("table");
}

/// The override's reason, author and expiry, when the assignment overrides the catalog.
fn override_text(a: Option<&AssignmentView>) -> String {
    let Some(a) = a.filter(|a| a.oci_tag.is_some() || a.component_path.is_some()) else {
        return "—".into();
    };
    let mut out = format!("{} by {}", a.reason.as_deref().unwrap_or("(no reason)"), a.author);
    if let Some(at) = a.expires_at {
        out.push_str(&format!(", expires {}", at.format("%Y-%m-%d %H:%M UTC")));
    }
    out
}

fn pin_form(h: &mut Html, viewer: &Viewer, base: &str, component: &str) {
    viewer.form(h, &format!("{base}/pin"));
    h.hidden("component", component);
    h.input(
        &format!("pin-tag-{component}"),
        &format!("Tag for {component}"),
        "oci_tag",
        "",
    );
    h.input(&format!("pin-reason-{component}"), "Reason", "reason", "");
    h.el("button", &[("type", Some("submit"))], &format!("Pin {component}…"))
        .close("form");
}

fn events(h: &mut Html, events: &[FluxEventView]) {
    h.el("h2", &[], "Recent Flux events");
    if events.is_empty() {
        h.el("p", &[], "No event reported yet.");
        return;
    }
    h.open("table", &[("class", Some("events"))])
        .open("thead", &[])
        .open("tr", &[]);
    for col in ["When", "Object", "Severity", "Reason", "Message"] {
        h.el("th", &[("scope", Some("col"))], col);
    }
    h.close("tr").close("thead").open("tbody", &[]);
    for e in events {
        h.open("tr", &[]);
        h.el("td", &[], &e.event_at.format("%Y-%m-%d %H:%M:%S").to_string());
        h.el("td", &[], &format!("{}/{}", e.kind, e.name));
        h.el("td", &[], &e.severity);
        h.el("td", &[], &e.reason);
        h.el("td", &[("class", Some("message"))], &e.message);
        h.close("tr");
    }
    h.close("tbody").close("table");
}

fn history_table(h: &mut Html, viewer: &Viewer, view: &ClusterView) {
    let base = format!("/ui/clusters/{}", segment(&view.row.name));
    h.el("h2", &[], "Revisions");
    h.open("table", &[("class", Some("revisions"))])
        .open("thead", &[])
        .open("tr", &[]);
    for col in ["Revision", "When", "Who", "Why"] {
        h.el("th", &[("scope", Some("col"))], col);
    }
    h.close("tr").close("thead").open("tbody", &[]);
    for r in &view.revisions {
        h.open("tr", &[]);
        h.el("td", &[], &r.revision.to_string());
        h.el("td", &[], &r.created_at.format("%Y-%m-%d %H:%M:%S").to_string());
        h.el("td", &[], &r.actor);
        h.el("td", &[], &r.reason);
        h.close("tr");
    }
    h.close("tbody").close("table");
    let numbers: Vec<String> = view.revisions.iter().map(|r| r.revision.to_string()).collect();
    let (from, to) = view.diff.as_ref().map_or_else(
        || {
            let latest = numbers.first().cloned().unwrap_or_default();
            (numbers.get(1).cloned().unwrap_or(latest.clone()), latest)
        },
        |(f, t, _)| (f.to_string(), t.to_string()),
    );
    h.open(
        "form",
        &[
            ("method", Some("get")),
            ("action", Some(&base)),
            ("class", Some("filters")),
        ],
    );
    revision_select(h, "diff-from", "Diff from revision", "from", &numbers, &from);
    revision_select(h, "diff-to", "to revision", "to", &numbers, &to);
    h.el("button", &[("type", Some("submit"))], "Show diff").close("form");
    if let Some((f, t, text)) = &view.diff {
        h.el("h3", &[], &format!("Rendered diff from revision {f} to {t}"));
        let shown = if text.is_empty() {
            "(no difference)"
        } else {
            text.as_str()
        };
        h.el("pre", &[("class", Some("diff"))], shown);
    }
    if viewer.operates() {
        viewer.form(h, &format!("{base}/rollback"));
        revision_select(h, "rollback-to", "Roll back to revision", "revision", &numbers, &from);
        h.input("rollback-reason", "Reason", "reason", "");
        h.el("button", &[("type", Some("submit"))], "Roll back…").close("form");
    }
}

fn revision_select(h: &mut Html, id: &str, label: &str, name: &str, numbers: &[String], selected: &str) {
    h.el("label", &[("for", Some(id))], label);
    h.open("select", &[("id", Some(id)), ("name", Some(name))]);
    for n in numbers {
        h.el(
            "option",
            &[("value", Some(n)), ("selected", (n == selected).then_some(""))],
            n,
        );
    }
    h.close("select");
}

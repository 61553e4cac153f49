//! The cluster page's writes: pin a component to a tag, unpin it, roll the cluster back. Each
//! first runs as a dry run and shows what would move with a confirm form; only the confirm
//! post (`confirm=1`, same fields, same CSRF token) writes.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::html::{segment, Html};
use super::session::CsrfForm;
use super::{page, redirect, Refusal, Viewer};
use crate::error::Error;
use crate::http::extract::caller;
use crate::http::{blocking, Shared};
use crate::service::clusters::{self, AssignmentKey, AssignmentSettings, PutAssignment};
use crate::service::rollback::{self, Rollback};
use crate::service::version::Expected;
use crate::service::{assignments, ClusterChange, Outcome};
use catalog::{ClusterName, ComponentId};

/// Shows the dry run's plan with a form that posts the same fields back with `confirm=1`.
pub fn preview(
    viewer: &Viewer,
    title: &str,
    action: &str,
    form: &CsrfForm,
    changes: &[ClusterChange],
    back: &str,
) -> HttpResponse {
    page(StatusCode::OK, title, Some(viewer), |h| {
        plan(h, changes);
        viewer.form(h, action);
        for (k, v) in form.0.iter().filter(|(k, _)| k != "csrf" && k != "confirm") {
            h.hidden(k, v);
        }
        h.hidden("confirm", "1");
        h.el(
            "button",
            &[("type", Some("submit")), ("class", Some("danger"))],
            "Confirm",
        )
        .close("form");
        h.open("p", &[]).link(back, "Cancel").close("p");
    })
}

/// What a write moves, cluster by cluster and component by component, with its diff.
pub fn plan(h: &mut Html, changes: &[ClusterChange]) {
    h.open(
        "section",
        &[("class", Some("plan")), ("aria-label", Some("What will move"))],
    );
    if changes.is_empty() {
        h.el("p", &[], "Nothing moves: no cluster's configuration changes.");
    }
    for c in changes {
        let from = c.from_revision.map_or("none".to_owned(), |r| r.to_string());
        h.el(
            "h2",
            &[],
            &format!("{}: revision {from} → {}", c.cluster, c.to_revision),
        );
        h.open("ul", &[]);
        for m in c.components.iter() {
            let side =
                |t: &Option<crate::service::TagPath>| t.as_ref().map_or("absent".to_owned(), |t| t.oci_tag.clone());
            h.el(
                "li",
                &[],
                &format!("{}: {} → {}", m.component, side(&m.from), side(&m.to)),
            );
        }
        h.close("ul");
        if let Some(d) = &c.diff {
            h.el("pre", &[("class", Some("diff"))], d);
        }
    }
    h.close("section");
}

/// Runs a cluster write as a preview or, confirmed, for real (then back to the cluster page).
async fn previewed<T: Send + 'static>(
    req: HttpRequest,
    form: CsrfForm,
    cluster: String,
    what: &str,
    write: impl Fn(bool) -> Result<Outcome<T>, Error> + Send + 'static,
) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let back = format!("/ui/clusters/{}", segment(&cluster));
    let confirm = form.flag("confirm");
    let outcome = blocking(move || write(!confirm)).await?;
    if confirm {
        return Ok(redirect(&back));
    }
    let action = req.path().to_owned();
    Ok(preview(
        &viewer,
        &format!("Preview: {what}"),
        &action,
        &form,
        &outcome.changes,
        &back,
    ))
}

pub async fn post_pin(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    let (cluster, component) = (name.into_inner(), form.get("component").to_owned());
    let tag = form.get("oci_tag").to_owned();
    let reason = (!form.get("reason").is_empty()).then(|| form.get("reason").to_owned());
    let who = caller(&req);
    let what = format!("pin {component} on {cluster} to {tag}");
    let c = cluster.clone();
    previewed(req, form, cluster, &what, move |dry_run| {
        let before = clusters::assignments(&state, &c)?;
        let enabled = before
            .iter()
            .find(|a| a.component == component)
            .is_none_or(|a| a.enabled);
        let command = PutAssignment {
            key: key(&c, &component)?,
            settings: AssignmentSettings::parse(enabled, Some(&tag), None, reason.clone(), None)?,
        };
        clusters::put_assignment(&state, &who, command, dry_run)
    })
    .await
}

pub async fn post_unpin(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    let (cluster, component) = (name.into_inner(), form.get("component").to_owned());
    let who = caller(&req);
    let what = format!("unpin {component} on {cluster}");
    let c = cluster.clone();
    previewed(req, form, cluster, &what, move |dry_run| {
        assignments::remove_override(&state, &who, key(&c, &component)?, dry_run)
    })
    .await
}

pub async fn post_rollback(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    let cluster = name.into_inner();
    let revision: i64 = form
        .get("revision")
        .parse()
        .map_err(|_| Error::field("revision", "must be a revision number"))?;
    let why = form.get("reason").to_owned();
    let who = caller(&req);
    let what = format!("roll {cluster} back to revision {revision}");
    let command = Rollback {
        cluster: ClusterName::parse(&cluster).map_err(|_| clusters::not_found(&cluster))?,
        revision,
        reason: Some(why),
    };
    previewed(req, form, cluster, &what, move |dry_run| {
        rollback::rollback(&state, &who, command.clone(), dry_run)
    })
    .await
}

/// The assignment a console form names; the console writes whatever version it finds, as the
/// preview it showed was taken a moment before. Names that do not parse name nothing stored.
fn key(cluster: &str, component: &str) -> Result<AssignmentKey, Error> {
    Ok(AssignmentKey {
        cluster: ClusterName::parse(cluster).map_err(|_| clusters::not_found(cluster))?,
        component: ComponentId::parse(component).map_err(|_| Error::NotFound {
            kind: "component",
            name: component.to_owned(),
        })?,
        expected: Expected::Any,
    })
}

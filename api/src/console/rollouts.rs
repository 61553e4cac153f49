//! The rollout pages: the list, and one rollout's waves, steps, each cluster's state, the gate
//! (what the next step waits for), soak left and failures against the budget, refreshed
//! without reload from a small JSON status; operators advance, pause, resume and abort after
//! a preview of what will move.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;

use super::changes::preview;
use super::html::Html;
use super::session::CsrfForm;
use super::{page, redirect, Refusal, Viewer};
use crate::error::Error;
use crate::http::extract::caller;
use crate::http::rollouts::rollout_id;
use crate::http::{blocking, Shared};
use crate::service::rollouts::{self, gate, Rollout, RolloutState};

pub async fn get_rollouts(state: Shared, req: HttpRequest) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let list = blocking(move || rollouts::list(&state)).await?;
    Ok(page(StatusCode::OK, "Rollouts", Some(&viewer), |h| {
        if list.is_empty() {
            h.el("p", &[], "No rollout yet.");
            return;
        }
        h.open("table", &[("class", Some("rollouts"))])
            .open("thead", &[])
            .open("tr", &[]);
        for col in ["Rollout", "What", "Tag", "State", "Steps", "By", "Why"] {
            h.el("th", &[("scope", Some("col"))], col);
        }
        h.close("tr").close("thead").open("tbody", &[]);
        for r in &list {
            h.open("tr", &[]).open("th", &[("scope", Some("row"))]);
            h.link(&format!("/ui/rollouts/{}", r.id), &format!("#{}", r.id))
                .close("th");
            h.el("td", &[], r.component.as_deref().unwrap_or(&r.artifact));
            h.el("td", &[], &r.oci_tag);
            h.el("td", &[], r.state.as_str());
            h.el("td", &[], &format!("{} of {}", r.steps_applied, r.steps.len()));
            h.el("td", &[], &r.created_by);
            h.el("td", &[], r.reason.as_deref().unwrap_or(""));
            h.close("tr");
        }
        h.close("tbody").close("table");
    }))
}

/// What a rollout page shows that changes while it runs, keyed as the page's `data-field`s.
fn status(r: &Rollout, now: NaiveDateTime) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    out.insert("state".into(), r.state.as_str().to_owned());
    out.insert("steps".into(), format!("{} of {}", r.steps_applied, r.steps.len()));
    out.insert("halted".into(), r.halted_reason.clone().unwrap_or_else(|| "—".into()));
    let last = r
        .steps
        .iter()
        .filter(|s| s.applied_at.is_some())
        .max_by_key(|s| s.index);
    let soak = match gate::soak_until(r, last)? {
        Some(until) if until > now => {
            let left = until.signed_duration_since(now).num_minutes().max(0);
            format!("{left} min left (until {} UTC)", until.format("%Y-%m-%d %H:%M"))
        }
        Some(_) => "done".into(),
        None => "none".into(),
    };
    out.insert("soak".into(), soak.clone());
    out.insert("gate".into(), gate_text(r, &soak));
    for (i, w) in r.waves.iter().enumerate() {
        let failed: usize = r
            .steps
            .iter()
            .filter(|s| s.wave == i as i64)
            .map(|s| s.failed.len())
            .sum();
        out.insert(
            format!("failures-{i}"),
            format!("{failed} of {} allowed", w.max_failures),
        );
    }
    for s in &r.steps {
        let applied = s.applied_at.map(|t| t.format("%H:%M:%S").to_string());
        out.insert(
            format!("step-{}", s.index),
            applied.map_or("pending".into(), |t| format!("applied {t}")),
        );
        for c in &s.clusters {
            let state = match (s.applied_at.is_some(), s.failed.contains(&c.cluster)) {
                (_, true) => "✗ failed",
                (true, false) => "✓ applied",
                (false, false) => "… pending",
            };
            out.insert(format!("cluster-{}", c.cluster), state.into());
        }
    }
    Ok(out)
}

/// What the next step (or the completion) waits for.
fn gate_text(r: &Rollout, soak: &str) -> String {
    // Approvals and a closed change window say what they wait for, with the next opening.
    if let Some(waiting) = &r.waiting {
        return waiting.clone();
    }
    if !r.state.may_advance() {
        return format!("nothing: the rollout is {}", r.state.as_str());
    }
    let next = r.steps.iter().find(|s| s.applied_at.is_none());
    let wave = next.map_or(r.waves.len().saturating_sub(1), |s| s.wave as usize);
    let manual = r.waves.get(wave).is_none_or(|w| w.approval != "auto");
    let what = next.map_or("the completion".to_owned(), |s| format!("step {}", s.index + 1));
    match (manual, soak.ends_with("UTC)")) {
        (true, _) => format!("{what} waits for an operator to advance"),
        (false, true) => format!("{what} waits for the soak ({soak})"),
        (false, false) => format!("{what} goes once the last step's clusters report ready"),
    }
}

pub async fn get_rollout_status(state: Shared, id: web::Path<String>) -> Result<HttpResponse, Refusal> {
    let id = rollout_id(&id)?;
    let at = state.clock.now();
    let r = blocking(move || rollouts::get(&state, id)).await?;
    Ok(HttpResponse::Ok().json(status(&r, at)?))
}

/// A labelled value the page's script keeps current.
fn field(h: &mut Html, label: &str, key: &str, value: &str) {
    h.el("dt", &[], label);
    h.el("dd", &[("data-field", Some(key))], value);
}

pub async fn get_rollout(state: Shared, req: HttpRequest, id: web::Path<String>) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let id = rollout_id(&id)?;
    let at = state.clock.now();
    let r = blocking(move || rollouts::get(&state, id)).await?;
    let now = status(&r, at)?;
    let shown = |k: &str| now.get(k).cloned().unwrap_or_default();
    let what = r.component.clone().unwrap_or_else(|| format!("release {}", r.artifact));
    let title = format!("Rollout #{}: {what} to {}", r.id, r.oci_tag);
    Ok(page(StatusCode::OK, &title, Some(&viewer), |h| {
        let poll = format!("/ui/rollouts/{}/status", r.id);
        h.open(
            "div",
            &[
                ("data-poll", Some(&poll)),
                ("data-poll-ms", Some("1000")),
                ("id", Some("live")),
            ],
        );
        h.open("dl", &[("class", Some("facts"))]);
        field(h, "State", "state", &shown("state"));
        field(h, "Steps applied", "steps", &shown("steps"));
        field(h, "Next", "gate", &shown("gate"));
        field(h, "Soak", "soak", &shown("soak"));
        field(h, "Halted because", "halted", &shown("halted"));
        h.close("dl");
        if let Some(reason) = &r.reason {
            h.el("p", &[], &format!("Why: {reason} (by {})", r.created_by));
        }
        if viewer.operates() {
            actions(h, &viewer, r.id, r.state == RolloutState::AwaitingApproval);
        }
        waves(h, &r, &shown);
        h.close("div");
    }))
}

/// The rollout's buttons; Approve only while it awaits approval.
fn actions(h: &mut Html, viewer: &Viewer, id: i64, awaits_approval: bool) {
    h.open("div", &[("class", Some("actions"))]);
    let approve = awaits_approval.then_some(("approve", "Approve…"));
    let all = [
        ("advance", "Advance…"),
        ("pause", "Pause…"),
        ("resume", "Resume…"),
        ("abort", "Abort…"),
    ];
    for (action, label) in all.into_iter().chain(approve) {
        viewer.form(h, &format!("/ui/rollouts/{id}/{action}"));
        h.el("button", &[("type", Some("submit"))], label).close("form");
    }
    h.close("div");
}

fn waves(h: &mut Html, r: &Rollout, shown: &dyn Fn(&str) -> String) {
    for (i, w) in r.waves.iter().enumerate() {
        h.el("h2", &[], &format!("Wave {}: {}", i + 1, w.name));
        h.open("p", &[]);
        let batch = w
            .batch_size
            .map_or("all at once".to_owned(), |b| format!("{b} per step"));
        h.text(&format!(
            "Tiers {} · {batch} · soak {} · approval {} · on failure {} · failures ",
            w.tiers.join(", "),
            w.soak.as_deref().unwrap_or("none"),
            w.approval,
            w.on_failure
        ));
        let key = format!("failures-{i}");
        h.el("span", &[("data-field", Some(&key))], &shown(&key)).close("p");
        h.open("table", &[("class", Some("steps"))])
            .open("thead", &[])
            .open("tr", &[]);
        for col in ["Step", "Applied", "Cluster", "State", "Moves"] {
            h.el("th", &[("scope", Some("col"))], col);
        }
        h.close("tr").close("thead").open("tbody", &[]);
        for s in r.steps.iter().filter(|s| s.wave == i as i64) {
            for (n, c) in s.clusters.iter().enumerate() {
                h.open("tr", &[]);
                let step_key = format!("step-{}", s.index);
                let first = n == 0;
                h.el(
                    "td",
                    &[],
                    &if first {
                        format!("{}", s.index + 1)
                    } else {
                        String::new()
                    },
                );
                h.el(
                    "td",
                    &[("data-field", first.then_some(step_key.as_str()))],
                    &if first { shown(&step_key) } else { String::new() },
                );
                h.el("td", &[], &c.cluster);
                let key = format!("cluster-{}", c.cluster);
                h.el("td", &[("data-field", Some(&key))], &shown(&key));
                let moves: Vec<String> = c
                    .components
                    .iter()
                    .map(|m| {
                        format!(
                            "{}: {} → {}",
                            m.component,
                            m.from.as_ref().map_or("absent", |f| f.oci_tag.as_str()),
                            m.to.oci_tag
                        )
                    })
                    .collect();
                h.el("td", &[], &moves.join("; "));
                h.close("tr");
            }
        }
        h.close("tbody").close("table");
    }
}

type Action = fn(
    &crate::service::AppState,
    &crate::service::Caller,
    i64,
    bool,
) -> Result<crate::service::Outcome<Rollout>, Error>;

/// An operator's action on a rollout: previewed (a dry run showing what moves) until confirmed.
async fn act(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
    name: &str,
    action: Action,
) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let id = rollout_id(&id)?;
    let confirm = form.flag("confirm");
    let who = caller(&req);
    let outcome = blocking(move || action(&state, &who, id, !confirm)).await?;
    let back = format!("/ui/rollouts/{id}");
    if confirm {
        return Ok(redirect(&back));
    }
    Ok(preview(
        &viewer,
        &format!("Preview: {name} rollout #{id}"),
        req.path(),
        &form,
        &outcome.changes,
        &back,
    ))
}

pub async fn post_advance(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    act(state, req, id, form, "advance", rollouts::advance).await
}

pub async fn post_pause(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    act(state, req, id, form, "pause", rollouts::pause).await
}

pub async fn post_resume(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    act(state, req, id, form, "resume", rollouts::resume).await
}

pub async fn post_abort(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    act(state, req, id, form, "abort", rollouts::abort).await
}

pub async fn post_approve(
    state: Shared,
    req: HttpRequest,
    id: web::Path<String>,
    form: CsrfForm,
) -> Result<HttpResponse, Refusal> {
    act(state, req, id, form, "approve", rollouts::approve).await
}

//! The fleet matrix: clusters (rows, grouped by tier) by components (columns), each cell the
//! effective tag marked by provenance and coloured by observed state, a page at a time.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::html::{query, segment, Html};
use super::{page, Refusal, Viewer};
use crate::error::Error;
use crate::http::clusters::label_filter;
use crate::http::fleet::{to_csv, FleetClusterDto};
use crate::http::{blocking, paging, Shared};
use crate::service::clusters::ClusterFilter;
use crate::service::fleet_view::{self, Cell, FleetPage, Provenance, Row};
use crate::service::observed::drift::DriftKind;
use crate::service::observed::readiness::ObservedState;
use crate::service::tiers;

/// Clusters per page: 100 rows of 40 components paint well under a second.
const PAGE_ROWS: usize = 100;
const CURSOR_KIND: &str = "fleet";

/// The matrix's filters, from its GET form.
#[derive(Debug, Default, Deserialize)]
pub struct MatrixQuery {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    wide: String,
    #[serde(default)]
    cursor: String,
}

impl MatrixQuery {
    /// The query string of these filters, with `cursor` in place of the current one.
    fn with_cursor(&self, cursor: &str) -> String {
        query(&[
            ("tier", &self.tier),
            ("label", &self.label),
            ("name", &self.name),
            ("wide", &self.wide),
            ("cursor", cursor),
        ])
    }

    fn wide(&self) -> bool {
        !self.wide.is_empty()
    }
}

/// The page of the fleet the filters select.
async fn fleet_page(state: Shared, q: &MatrixQuery) -> Result<FleetPage, Error> {
    let none_if_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let filter = ClusterFilter {
        tier: none_if_empty(&q.tier),
        label: label_filter(none_if_empty(&q.label))?,
        component: None,
    };
    let name = none_if_empty(&q.name);
    let after = paging::decode_name_cursor(CURSOR_KIND, none_if_empty(&q.cursor).as_deref())?;
    blocking(move || fleet_view::page_named(&state, &filter, name.as_deref(), after.as_deref(), PAGE_ROWS)).await
}

/// The symbol and word that mark a provenance (never colour alone).
pub fn provenance_mark(p: Provenance) -> &'static str {
    match p {
        Provenance::Default => "○ default",
        Provenance::Override => "◆ override",
        Provenance::Pin => "■ pin",
        Provenance::Rollout => "▶ rollout",
        Provenance::Hotfix => "⚑ hotfix",
    }
}

/// The CSS class and the text of a cell's observed state: failure first, then silence, then
/// any other drift, then what Flux said.
pub fn state_mark(state: Option<ObservedState>, drift: &[DriftKind]) -> (&'static str, String) {
    if state == Some(ObservedState::Failed) || drift.contains(&DriftKind::Failed) {
        return ("st-failed", "✗ failed".into());
    }
    if drift.contains(&DriftKind::Silent) {
        return ("st-silent", "… silent".into());
    }
    if !drift.is_empty() {
        let kinds: Vec<&str> = drift.iter().map(|k| k.as_str()).collect();
        return ("st-drift", format!("≠ {}", kinds.join(", ")));
    }
    match state {
        Some(ObservedState::Ready) => ("st-ready", "✓ ready".into()),
        Some(ObservedState::Applied) => ("st-ready", "✓ applied".into()),
        Some(ObservedState::Progressing) => ("st-progressing", "↻ progressing".into()),
        Some(ObservedState::Failed) => ("st-failed", "✗ failed".into()),
        None => ("st-unknown", "? unknown".into()),
    }
}

/// The fleet matrix.
pub async fn get_matrix(state: Shared, req: HttpRequest, q: web::Query<MatrixQuery>) -> Result<HttpResponse, Refusal> {
    let viewer = Viewer::of(&req);
    let tier_state = state.clone();
    let tiers: Vec<String> = blocking(move || tiers::list(&tier_state))
        .await
        .map(|ts| ts.into_iter().map(|t| t.name.to_string()).collect())
        .unwrap_or_default();
    let fleet = fleet_page(state, &q).await?;
    Ok(page(StatusCode::OK, "Fleet", Some(&viewer), |h| {
        filter_form(h, &q, &tiers);
        h.open("p", &[]);
        h.link(
            &format!("/ui/fleet.csv?{}", q.with_cursor(&q.cursor)),
            "CSV of this page",
        );
        h.close("p");
        legend(h);
        let components: BTreeSet<&str> = fleet
            .rows
            .iter()
            .flat_map(|r| r.components.iter().map(|c| c.component.as_str()))
            .collect();
        let components: Vec<&str> = components.into_iter().collect();
        if fleet.rows.is_empty() {
            h.el("p", &[], "No cluster matches these filters.");
        }
        for tier in ordered_tiers(&tiers, &fleet.rows) {
            let rows: Vec<&Row> = fleet.rows.iter().filter(|r| r.tier == tier).collect();
            tier_table(h, &tier, &rows, &components, q.wide());
        }
        if let (true, Some(last)) = (fleet.more, fleet.rows.last()) {
            let next = paging::encode_name_cursor(CURSOR_KIND, &last.name);
            h.open("p", &[]);
            h.open(
                "a",
                &[
                    ("href", Some(&format!("/ui/?{}", q.with_cursor(&next)))),
                    ("rel", Some("next")),
                ],
            );
            h.text("Next page →").close("a").close("p");
        }
    }))
}

/// The tiers present on the page: the catalog's order first, then any it does not name.
fn ordered_tiers(known: &[String], rows: &[Row]) -> Vec<String> {
    let present: BTreeSet<&str> = rows.iter().map(|r| r.tier.as_str()).collect();
    let mut out: Vec<String> = known.iter().filter(|t| present.contains(t.as_str())).cloned().collect();
    for t in present {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

fn filter_form(h: &mut Html, q: &MatrixQuery, tiers: &[String]) {
    h.open(
        "form",
        &[
            ("method", Some("get")),
            ("action", Some("/ui/")),
            ("class", Some("filters")),
        ],
    );
    h.el("label", &[("for", Some("f-tier"))], "Tier");
    h.open("select", &[("id", Some("f-tier")), ("name", Some("tier"))]);
    h.el("option", &[("value", Some(""))], "any");
    for t in tiers {
        let selected = (*t == q.tier).then_some("");
        h.el("option", &[("value", Some(t)), ("selected", selected)], t);
    }
    h.close("select");
    h.input("f-label", "Label (key=value)", "label", &q.label);
    h.input("f-name", "Name contains", "name", &q.name);
    h.open(
        "input",
        &[
            ("id", Some("f-wide")),
            ("name", Some("wide")),
            ("type", Some("checkbox")),
            ("value", Some("1")),
            ("checked", q.wide().then_some("")),
        ],
    );
    h.el("label", &[("for", Some("f-wide"))], "Wide (show paths)");
    h.el("button", &[("type", Some("submit"))], "Filter").close("form");
}

fn legend(h: &mut Html) {
    h.open("details", &[("class", Some("legend"))])
        .el("summary", &[], "Legend");
    h.open("ul", &[]);
    for p in [
        Provenance::Default,
        Provenance::Override,
        Provenance::Pin,
        Provenance::Rollout,
        Provenance::Hotfix,
    ] {
        h.el("li", &[], provenance_mark(p));
    }
    for (class, text) in [
        ("st-ready", "✓ ready / applied"),
        ("st-progressing", "↻ progressing"),
        ("st-failed", "✗ failed"),
        ("st-drift", "≠ drift (its kind named)"),
        ("st-silent", "… silent"),
        ("st-unknown", "? unknown (no report yet)"),
    ] {
        h.el("li", &[("class", Some(class))], text);
    }
    h.close("ul").close("details");
}

/// One tier: its summary line per component, then its table.
fn tier_table(h: &mut Html, tier: &str, rows: &[&Row], components: &[&str], wide: bool) {
    h.el("h2", &[("id", Some(&format!("tier-{tier}")))], &format!("Tier {tier}"));
    summary(h, rows, components);
    h.open("div", &[("class", Some("scroll"))])
        .open("table", &[("class", Some("matrix"))]);
    h.el("caption", &[], &format!("{} cluster(s) of tier {tier}", rows.len()));
    h.open("thead", &[])
        .open("tr", &[])
        .el("th", &[("scope", Some("col"))], "Cluster");
    for c in components {
        h.el("th", &[("scope", Some("col"))], c);
    }
    h.close("tr").close("thead").open("tbody", &[]);
    for r in rows {
        h.open("tr", &[]).open("th", &[("scope", Some("row"))]);
        h.link(&format!("/ui/clusters/{}", segment(&r.name)), &r.name);
        h.close("th");
        for c in components {
            match r.components.iter().find(|x| x.component == *c) {
                Some(cell) => cell_html(h, cell, wide),
                None => {
                    h.el("td", &[("class", Some("absent"))], "— not run");
                }
            }
        }
        h.close("tr");
    }
    h.close("tbody").close("table").close("div");
}

fn cell_html(h: &mut Html, c: &Cell, wide: bool) {
    let (class, state) = state_mark(c.state, &c.drift);
    let mut title = c.component_path.clone();
    if let Some(d) = &c.detail {
        title.push_str(" · ");
        title.push_str(d);
    }
    h.open(
        "td",
        &[
            ("class", Some(&format!("cell {class} pv-{}", c.provenance.as_str()))),
            ("title", Some(&title)),
        ],
    );
    h.el("span", &[("class", Some("tag"))], &c.oci_tag);
    h.el("span", &[("class", Some("prov"))], provenance_mark(c.provenance));
    h.el("span", &[("class", Some("state"))], &state);
    if wide {
        h.el("span", &[("class", Some("path"))], &c.component_path);
    }
    h.close("td");
}

/// Per component: how many clusters of the tier run each tag; a component at more than one
/// tag, or whose clusters apply different digests of one tag, is called out.
fn summary(h: &mut Html, rows: &[&Row], components: &[&str]) {
    h.open("ul", &[("class", Some("summary"))]);
    for c in components {
        let mut tags: BTreeMap<&str, usize> = BTreeMap::new();
        let mut mixed_digests = false;
        for cell in rows
            .iter()
            .flat_map(|r| r.components.iter().filter(|x| x.component == *c))
        {
            *tags.entry(cell.oci_tag.as_str()).or_default() += 1;
            mixed_digests |= cell
                .drift
                .iter()
                .any(|k| matches!(k, DriftKind::MixedVersions | DriftKind::DigestMismatch));
        }
        if tags.is_empty() {
            continue;
        }
        let counts: Vec<String> = tags.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        let mut line = format!("{c}: {}", counts.join(", "));
        if tags.len() > 1 {
            line.push_str(&format!(" — ⚠ mixed: {} tags", tags.len()));
        }
        if mixed_digests {
            line.push_str(" — ⚠ mixed digests");
        }
        let class = (tags.len() > 1 || mixed_digests).then_some("mixed");
        h.el("li", &[("class", class)], &line);
    }
    h.close("ul");
}

/// The page shown, as the fleet API's CSV.
pub async fn get_fleet_csv(state: Shared, q: web::Query<MatrixQuery>) -> Result<HttpResponse, Refusal> {
    let fleet = fleet_page(state, &q).await?;
    let items: Vec<FleetClusterDto> = fleet.rows.iter().map(FleetClusterDto::from).collect();
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"fleet.csv\""))
        .body(to_csv(&items)))
}

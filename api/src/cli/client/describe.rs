//! `describe`: one cluster, rollout or component in full, for a person to read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Subcommand;

use crate::client::http::{seg, Client};
use crate::client::output::{self, or_dash};
use crate::error::Error;
use crate::http::dto::{ClusterDto, ComponentDto, Page};
use crate::http::fleet::FleetClusterDto;
use crate::http::observed_dto::ClusterStatusDto;
use crate::http::render::EffectiveDto;
use crate::http::revisions::RevisionSummaryDto;
use crate::http::rollout_dto::RolloutDto;

/// How many of a cluster's revisions `describe cluster` shows.
const REVISIONS: &str = "5";

#[derive(Debug, Subcommand)]
pub enum DescribeCommand {
    /// Every component with its tag, path and why; what Flux reports; drift; the last revisions
    /// with who made them and why.
    #[command(after_help = "Example:\n  platform-catalog describe cluster prod-eu-1")]
    Cluster { name: String },
    /// A rollout's waves, steps and clusters, and what it waits for.
    #[command(after_help = "Example:\n  platform-catalog describe rollout 3")]
    Rollout { id: i64 },
    /// A component's settings and which clusters run which tag.
    #[command(after_help = "Example:\n  platform-catalog describe component grafana")]
    Component { id: String },
}

pub fn run(client: &Client, cmd: DescribeCommand) -> Result<ExitCode, Error> {
    let text = match cmd {
        DescribeCommand::Cluster { name } => cluster(client, &name)?,
        DescribeCommand::Rollout { id } => {
            let r: RolloutDto = client.get(&format!("/api/v1/rollouts/{id}"), &[])?;
            rollout(&r, chrono::Utc::now())
        }
        DescribeCommand::Component { id } => component(client, &id)?,
    };
    crate::say!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn cluster(client: &Client, name: &str) -> Result<String, Error> {
    let base = format!("/api/v1/clusters/{}", seg(name));
    let c: ClusterDto = client.get(&base, &[])?;
    let effective: EffectiveDto = client.get(&format!("{base}/effective"), &[])?;
    let status: ClusterStatusDto = client.get(&format!("{base}/status"), &[])?;
    let revisions: Page<RevisionSummaryDto> =
        client.get(&format!("{base}/revisions"), &[("limit", REVISIONS.to_owned())])?;
    let mut out = String::new();
    let _ = writeln!(out, "Name:        {}", c.name);
    let _ = writeln!(out, "Tier:        {}", c.tier);
    let _ = writeln!(out, "Labels:      {}", output::labels(&c.labels));
    let _ = writeln!(out, "Enabled:     {}", c.enabled);
    let _ = writeln!(out, "Namespace:   {}", c.flux_namespace);
    let _ = writeln!(out, "Pinned tag:  {}", or_dash(c.oci_tag.as_deref()));
    let _ = writeln!(out, "Revision:    {}", c.revision);
    let _ = writeln!(out, "Last event:  {}", or_dash(status.last_event_at.as_deref()));
    let rows: Vec<Vec<String>> = effective
        .components
        .iter()
        .map(|e| {
            let observed = status.components.iter().find(|s| s.component == e.id);
            let state = observed
                .and_then(|s| s.kustomization.as_ref().or(s.oci_repository.as_ref()))
                .map(|o| o.state.clone());
            let drift = observed.map(|s| s.drift.join(",")).unwrap_or_default();
            let why = |s: &crate::http::render::SourceDto| match &s.detail {
                Some(d) => format!("{} ({d})", s.kind),
                None => s.kind.clone(),
            };
            vec![
                e.id.clone(),
                e.oci_tag.value.clone(),
                why(&e.oci_tag.source),
                e.component_path.value.clone(),
                why(&e.component_path.source),
                state.unwrap_or_else(|| "unreported".to_owned()),
                or_dash(Some(&drift)),
            ]
        })
        .collect();
    out.push_str("Components:\n");
    out.push_str(&indent(&output::table(
        &["COMPONENT", "TAG", "TAG FROM", "PATH", "PATH FROM", "STATE", "DRIFT"],
        &rows,
    )));
    if !status.findings.is_empty() {
        out.push_str("Drift:\n");
        let rows: Vec<Vec<String>> = status
            .findings
            .iter()
            .map(|f| vec![f.kind.clone(), or_dash(f.component.as_deref()), f.detail.clone()])
            .collect();
        out.push_str(&indent(&output::table(&["KIND", "COMPONENT", "DETAIL"], &rows)));
    }
    out.push_str("Revisions:\n");
    let rows: Vec<Vec<String>> = revisions
        .items
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                r.created_at.clone(),
                r.actor.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    out.push_str(&indent(&output::table(&["REVISION", "CREATED", "BY", "WHY"], &rows)));
    Ok(out)
}

/// When the next step of an active rollout may go by its soak, if it waits for one.
fn soak_left(r: &RolloutDto, now: chrono::DateTime<chrono::Utc>) -> Option<String> {
    let steps: Vec<(&crate::http::rollout_dto::WaveDto, &crate::http::rollout_dto::StepDto)> = r
        .waves
        .iter()
        .flat_map(|w| w.steps.iter().map(move |s| (w, s)))
        .collect();
    let (wave, last) = steps.iter().rev().find(|(_, s)| s.applied_at.is_some())?;
    let soak = crate::service::time::parse_duration(wave.soak.as_deref()?).ok()?;
    let applied = chrono::DateTime::parse_from_rfc3339(last.applied_at.as_deref()?).ok()?;
    let ready = applied.with_timezone(&chrono::Utc).checked_add_signed(soak)?;
    let left = ready.signed_duration_since(now).num_seconds();
    Some(match left > 0 {
        true => format!("{left}s of soak left after step {}", last.index),
        false => format!("soak after step {} has passed", last.index),
    })
}

/// What a rollout waits for now, in a phrase, without the soak's countdown.
pub(super) fn waits_for(r: &RolloutDto) -> String {
    if let Some(waiting) = &r.waiting {
        return waiting.clone();
    }
    let state = super::columns::rollout_state(r);
    match state.as_str() {
        "completed" | "aborted" => state,
        "halted" => format!("halted: {}", r.halted_reason.clone().unwrap_or_default()),
        "paused" => "paused: waits for `rollout resume`".to_owned(),
        _ => {
            let next = r.waves.iter().find(|w| w.steps.iter().any(|s| s.applied_at.is_none()));
            match next.map(|w| w.approval.as_str()) {
                Some("auto") => "the next step goes by itself once the step gate passes",
                Some(_) => "the next step waits for `rollout advance`",
                None => "the completion is next",
            }
            .to_owned()
        }
    }
}

/// What a rollout waits for now, with the soak left when it waits for one.
fn gate(r: &RolloutDto, now: chrono::DateTime<chrono::Utc>) -> String {
    let phrase = waits_for(r);
    match (super::columns::rollout_state(r).as_str(), soak_left(r, now)) {
        ("planned" | "running", Some(soak)) => format!("{phrase}; {soak}"),
        _ => phrase,
    }
}

/// A rollout in full: header, gate, then each wave with its steps and clusters.
pub(super) fn rollout(r: &RolloutDto, now: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Rollout {}: {} to {}",
        r.id.map(|i| i.to_string()).unwrap_or_else(|| "(dry run)".into()),
        super::columns::rollout_target(r),
        r.oci_tag
    );
    let _ = writeln!(out, "State:     {}", super::columns::rollout_state(r));
    let _ = writeln!(out, "Steps:     {}/{} applied", r.steps_applied, r.steps_total);
    let _ = writeln!(out, "Gate:      {}", gate(r, now));
    let _ = writeln!(out, "Created:   {} by {}", r.created_at, r.created_by);
    let _ = writeln!(out, "Reason:    {}", or_dash(r.reason.as_deref()));
    for (i, w) in r.waves.iter().enumerate() {
        let _ = writeln!(
            out,
            "Wave {} {:?}: tiers {}, {} approval, soak {}, tolerates {} failure(s), on failure {}",
            i + 1,
            w.name,
            or_dash(Some(&w.tiers.join(","))),
            w.approval,
            or_dash(w.soak.as_deref()),
            w.max_failures,
            w.on_failure
        );
        let rows: Vec<Vec<String>> = w
            .steps
            .iter()
            .flat_map(|s| {
                s.clusters.iter().map(move |c| {
                    let moves: Vec<String> = c
                        .components
                        .iter()
                        .map(|m| {
                            let from = m.from.as_ref().map_or("-", |t| t.oci_tag.as_str());
                            let to = m.to.as_ref().map_or("-", |t| t.oci_tag.as_str());
                            format!("{} {from}→{to}", m.component)
                        })
                        .collect();
                    vec![
                        s.index.to_string(),
                        c.cluster.clone(),
                        c.state.clone(),
                        or_dash(s.applied_at.as_deref()),
                        moves.join(", "),
                    ]
                })
            })
            .collect();
        out.push_str(&indent(&output::table(
            &["STEP", "CLUSTER", "STATE", "APPLIED", "MOVES"],
            &rows,
        )));
    }
    if !r.skipped.is_empty() {
        out.push_str("Skipped:\n");
        let rows: Vec<Vec<String>> = r
            .skipped
            .iter()
            .map(|s| {
                vec![
                    s.cluster.clone(),
                    s.component.clone(),
                    s.reason.clone(),
                    s.detail.clone(),
                ]
            })
            .collect();
        out.push_str(&indent(&output::table(
            &["CLUSTER", "COMPONENT", "WHY", "DETAIL"],
            &rows,
        )));
    }
    out
}

fn component(client: &Client, id: &str) -> Result<String, Error> {
    let c: ComponentDto = client.get(&format!("/api/v1/components/{}", seg(id)), &[])?;
    let fleet: Vec<FleetClusterDto> = super::fleet::fetch(client, &[("component", id.to_owned())])?;
    let mut out = String::new();
    let _ = writeln!(out, "Component:   {}", c.id);
    let _ = writeln!(out, "Category:    {}", c.category);
    let _ = writeln!(out, "Artifact:    {}", c.artifact);
    let _ = writeln!(out, "Own tag:     {}", or_dash(c.oci_tag.as_deref()));
    let _ = writeln!(out, "Path:        {}", c.component_path);
    let _ = writeln!(out, "Depends on:  {}", or_dash(Some(&c.depends_on.join(","))));
    let _ = writeln!(out, "Enabled:     {}", c.enabled);
    // Tags in text order, each with the clusters running it and why when not the default.
    let mut by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cluster in &fleet {
        for cell in &cluster.components {
            let mark = match cell.provenance.as_str() {
                "default" => String::new(),
                p => format!(" ({p})"),
            };
            by_tag
                .entry(cell.oci_tag.clone())
                .or_default()
                .push(format!("{}{mark}", cluster.name));
        }
    }
    out.push_str("Runs:\n");
    let rows: Vec<Vec<String>> = by_tag
        .iter()
        .map(|(tag, clusters)| vec![tag.clone(), clusters.len().to_string(), clusters.join(", ")])
        .collect();
    out.push_str(&indent(&output::table(&["TAG", "CLUSTERS", "WHICH"], &rows)));
    Ok(out)
}

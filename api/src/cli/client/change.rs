//! Changes: `pin`, `unpin`, `release`, `hotfix`, `rollback` and `hold`, each with `--dry-run`
//! (what would move, and the rendered diff) and `--reason`.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ChangeArgs;
use crate::client::http::{seg, Client, Reply};
use crate::client::output;
use crate::error::Error;
use crate::http::dto::{AssignmentDto, ClusterChangeDto, ReleaseComponentInput, ReleaseInput};
use crate::http::hold_dto::{HoldDto, HotfixDto, ReleaseDto};

#[derive(Debug, Args)]
pub struct PinArgs {
    cluster: String,
    component: String,
    /// The build the component runs on this cluster.
    #[arg(long)]
    tag: String,
    /// The component's path inside that build, when it differs from the catalog's.
    #[arg(long)]
    path: Option<String>,
    /// How long the pin lasts (`7d`, `12h`); after it the cluster follows the catalog again.
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
    #[command(flatten)]
    change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct UnpinArgs {
    cluster: String,
    component: String,
    /// Only show what would move; nothing is written.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    artifact: String,
    tag: String,
    /// Release only these components (their own tag), each optionally with its new path as
    /// `ID=PATH`; without it the artifact's default tag moves.
    #[arg(long = "component", value_name = "ID[=PATH]")]
    components: Vec<String>,
    #[command(flatten)]
    change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct HotfixArgs {
    component: String,
    #[arg(long)]
    tag: String,
    #[arg(long)]
    path: Option<String>,
    /// Clusters of these tiers (repeatable).
    #[arg(long = "tier", required_unless_present = "clusters")]
    tiers: Vec<String>,
    /// These clusters (repeatable).
    #[arg(long = "cluster")]
    clusters: Vec<String>,
    #[command(flatten)]
    change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    cluster: String,
    /// The earlier revision whose tags and paths the cluster runs again.
    #[arg(long = "to-revision", value_name = "N")]
    revision: i64,
    #[command(flatten)]
    change: ChangeArgs,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Keep a cluster, a component, or one component on one cluster where it is.
    #[command(
        after_help = "Example:\n  platform-catalog hold create --cluster prod-eu-1 --reason 'customer demo' --expires 2d"
    )]
    Create(HoldCreateArgs),
    /// Remove a hold.
    #[command(after_help = "Example:\n  platform-catalog hold delete 4")]
    Delete { id: i64 },
}

#[derive(Debug, Args)]
pub struct HoldCreateArgs {
    #[arg(long, required_unless_present = "component")]
    cluster: Option<String>,
    #[arg(long)]
    component: Option<String>,
    /// Why nothing may move it.
    #[arg(long)]
    reason: String,
    /// How long it holds (`2d`, `12h`); without it, until deleted.
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
}

/// What every write answers about the clusters it changed (or on a dry run, would change).
#[derive(Deserialize)]
struct Changes {
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    changes: Vec<ClusterChangeDto>,
}

/// The clusters a write moves, component by component, and on a dry run the rendered diff.
pub(super) fn plan_text(changes: &[ClusterChangeDto], dry_run: bool, colour: bool) -> String {
    let mut out = String::new();
    let verb = if dry_run { "would change" } else { "changed" };
    let _ = writeln!(out, "{verb} {} cluster(s)", changes.len());
    for c in changes {
        let from = c.from_revision.map_or("none".to_owned(), |r| r.to_string());
        let _ = writeln!(out, "  {}: revision {from} → {}", c.cluster, c.to_revision);
        for m in &c.components {
            let show = |t: &Option<crate::http::dto::TagPathDto>| {
                t.as_ref()
                    .map_or("(absent)".to_owned(), |t| format!("{} {}", t.oci_tag, t.component_path))
            };
            let _ = writeln!(out, "    {}: {} → {}", m.component, show(&m.from), show(&m.to));
        }
        if let Some(d) = &c.diff {
            for line in output::diff(d, colour).lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

/// Prints the plan of a write's answer; `what` says what was done when it was not a dry run.
fn report(reply: &Reply, what: &str) -> Result<ExitCode, Error> {
    let changes: Changes = reply.json()?;
    if !changes.dry_run {
        crate::sayln!("{what}");
    }
    crate::say!("{}", plan_text(&changes.changes, changes.dry_run, output::colour()));
    Ok(ExitCode::SUCCESS)
}

fn reason(change: &ChangeArgs) -> Value {
    change.reason.clone().map_or(Value::Null, Value::String)
}

pub fn pin(client: &Client, a: PinArgs) -> Result<ExitCode, Error> {
    let path = format!("/api/v1/clusters/{}/components/{}", seg(&a.cluster), seg(&a.component));
    let mut body = json!({"oci_tag": a.tag, "reason": reason(&a.change)});
    if let Some(p) = &a.path {
        body["component_path"] = json!(p);
    }
    if let Some(at) = super::expiry(a.expires.as_deref())? {
        body["expires_at"] = json!(at);
    }
    let reply = client.send(Method::PATCH, &path, &a.change.query(), Some(&body))?;
    if a.change.dry_run {
        return report(&reply, "");
    }
    let done: AssignmentDto = reply.json()?;
    let until = done.expires_at.map(|e| format!(" until {e}")).unwrap_or_default();
    crate::sayln!(
        "pinned {} on {} to {}{until}",
        done.component,
        done.cluster,
        done.oci_tag.unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn unpin(client: &Client, a: UnpinArgs) -> Result<ExitCode, Error> {
    let path = format!(
        "/api/v1/clusters/{}/components/{}/override",
        seg(&a.cluster),
        seg(&a.component)
    );
    let query = match a.dry_run {
        true => vec![("dry_run", "true".to_owned())],
        false => Vec::new(),
    };
    let reply = client.send(Method::DELETE, &path, &query, None)?;
    if a.dry_run {
        return report(&reply, "");
    }
    crate::sayln!(
        "unpinned {} on {}: it follows the catalog again",
        a.component,
        a.cluster
    );
    Ok(ExitCode::SUCCESS)
}

pub fn release(client: &Client, a: ReleaseArgs) -> Result<ExitCode, Error> {
    let components = (!a.components.is_empty()).then(|| {
        a.components
            .iter()
            .map(|c| match c.split_once('=') {
                Some((id, path)) => ReleaseComponentInput {
                    id: id.to_owned(),
                    component_path: Some(path.to_owned()),
                },
                None => ReleaseComponentInput {
                    id: c.clone(),
                    component_path: None,
                },
            })
            .collect()
    });
    let input = ReleaseInput {
        artifact: a.artifact.clone(),
        oci_tag: a.tag.clone(),
        components,
        reason: a.change.reason.clone(),
        break_glass: None,
    };
    let body = serde_json::to_value(&input).map_err(|e| Error::Internal(e.to_string()))?;
    let reply = client.send(Method::POST, "/api/v1/releases", &a.change.query(), Some(&body))?;
    let done: ReleaseDto = reply.json()?;
    report(&reply, &format!("released {} {}", a.artifact, a.tag))?;
    for h in &done.held {
        crate::sayln!(
            "  kept {} on {} at {} (hold {})",
            h.component,
            h.cluster,
            h.oci_tag,
            h.hold
        );
    }
    for l in &done.left_alone {
        crate::sayln!(
            "  left {} on {}: {}",
            l.component,
            l.cluster.as_deref().unwrap_or("every cluster"),
            l.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn hotfix(client: &Client, a: HotfixArgs) -> Result<ExitCode, Error> {
    let body = json!({
        "component": a.component,
        "oci_tag": a.tag,
        "component_path": a.path,
        "selector": {"tiers": a.tiers, "clusters": a.clusters},
        "reason": reason(&a.change),
    });
    let reply = client.send(Method::POST, "/api/v1/hotfixes", &a.change.query(), Some(&body))?;
    let done: HotfixDto = reply.json()?;
    report(
        &reply,
        &format!(
            "hotfixed {} to {} on {}",
            done.component,
            done.oci_tag,
            done.clusters.join(", ")
        ),
    )?;
    for s in &done.skipped {
        crate::sayln!(
            "  skipped {} on {} ({}): {}",
            s.component,
            s.cluster,
            s.reason,
            s.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(client: &Client, a: RollbackArgs) -> Result<ExitCode, Error> {
    let path = format!("/api/v1/clusters/{}/rollback", seg(&a.cluster));
    let body = json!({"revision": a.revision, "reason": reason(&a.change)});
    let reply = client.send(Method::POST, &path, &a.change.query(), Some(&body))?;
    if a.change.dry_run {
        return report(&reply, "");
    }
    let done: crate::http::revisions::RollbackDto = reply.json()?;
    crate::sayln!(
        "rolled {} back to revision {}: now at revision {}",
        done.cluster,
        done.rolled_back_to,
        done.revision
    );
    for m in &done.components {
        let tag = |t: &Option<crate::http::dto::TagPathDto>| t.as_ref().map_or("-".to_owned(), |t| t.oci_tag.clone());
        crate::sayln!("  {}: {} → {}", m.component, tag(&m.from), tag(&m.to));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn hold(client: &Client, cmd: HoldCommand) -> Result<ExitCode, Error> {
    match cmd {
        HoldCommand::Create(a) => {
            let body = json!({
                "cluster": a.cluster,
                "component": a.component,
                "reason": a.reason,
                "expires_at": super::expiry(a.expires.as_deref())?,
            });
            let h: HoldDto = client.send(Method::POST, "/api/v1/holds", &[], Some(&body))?.json()?;
            let what = match (&h.cluster, &h.component) {
                (Some(c), Some(k)) => format!("{k} on {c}"),
                (Some(c), None) => format!("cluster {c}"),
                (None, Some(k)) => format!("component {k}"),
                (None, None) => "nothing".to_owned(),
            };
            crate::sayln!("hold {} placed on {what}", h.id);
        }
        HoldCommand::Delete { id } => {
            client.send(Method::DELETE, &format!("/api/v1/holds/{id}"), &[], None)?;
            crate::sayln!("hold {id} deleted");
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `rollout`: plan one, move it by hand, and watch it to its end.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use super::change::plan_text;
use super::ChangeArgs;
use crate::client::http::Client;
use crate::client::output;
use crate::error::Error;
use crate::http::rollout_dto::{RolloutActionDto, RolloutDto};

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Plan a rollout of one component's tag, or of a release of an artifact, in waves.
    #[command(
        after_help = "Examples:\n  platform-catalog rollout create --component grafana --tag v1.2.0\n  platform-catalog rollout create --release platform --tag v1.3.0 --waves waves.yaml --dry-run\n\nA waves file is a YAML (or JSON) list of waves as the API takes them, e.g.\n  - {tiers: [dev, qa], approval: auto, soak: 10m}\n  - {tiers: [prod], batch_size: 2, approval: manual}"
    )]
    Create(CreateArgs),
    /// Apply the rollout's next step now.
    #[command(after_help = "Example:\n  platform-catalog rollout advance 3")]
    Advance(ActionArgs),
    /// Stop the runner from moving it.
    #[command(after_help = "Example:\n  platform-catalog rollout pause 3")]
    Pause(ActionArgs),
    /// Let the runner move it again.
    #[command(after_help = "Example:\n  platform-catalog rollout resume 3")]
    Resume(ActionArgs),
    /// Stop it and return every cluster it changed to what it ran before.
    #[command(after_help = "Example:\n  platform-catalog rollout abort 3 --dry-run")]
    Abort(ActionArgs),
    /// Approve the wave it awaits approval for (an operator other than its creator).
    #[command(after_help = "Example:\n  platform-catalog rollout approve 3")]
    Approve(ActionArgs),
    /// Waves, clusters, gate and soak; with `--watch`, redrawn until the rollout ends. Exits 0
    /// when it completed, 1 when it halted or was aborted.
    #[command(after_help = "Example:\n  platform-catalog rollout status 3 --watch")]
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Roll out this component's own tag.
    #[arg(long, required_unless_present = "release", conflicts_with = "release")]
    component: Option<String>,
    /// Roll out a release of this artifact (every component following its default).
    #[arg(long, value_name = "ARTIFACT")]
    release: Option<String>,
    #[arg(long)]
    tag: String,
    /// New path of a moved component, as `ID=PATH` (repeatable).
    #[arg(long = "path", value_name = "ID=PATH")]
    paths: Vec<String>,
    /// The waves, as a YAML or JSON list; default: the service's (canary, then tier by tier).
    #[arg(long, value_name = "FILE")]
    waves: Option<PathBuf>,
    #[command(flatten)]
    change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct ActionArgs {
    id: i64,
    /// Only show what would move; nothing is written.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    id: i64,
    /// Keep redrawing until the rollout completes, halts or is aborted.
    #[arg(short, long)]
    watch: bool,
    /// How often to ask while watching (`2s`, `1m`).
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    every: String,
}

pub fn run(client: &Client, cmd: RolloutCommand) -> Result<ExitCode, Error> {
    match cmd {
        RolloutCommand::Create(a) => create(client, a),
        RolloutCommand::Advance(a) => action(client, "advance", a),
        RolloutCommand::Pause(a) => action(client, "pause", a),
        RolloutCommand::Resume(a) => action(client, "resume", a),
        RolloutCommand::Abort(a) => action(client, "abort", a),
        RolloutCommand::Approve(a) => action(client, "approve", a),
        RolloutCommand::Status(a) => status(client, a),
    }
}

fn waves(path: &std::path::Path) -> Result<Value, Error> {
    let text = crate::cli::read_file(path)?;
    let value = catalog::yaml::parse(&text)
        .map_err(|e| Error::Usage(format!("{}: {e}", path.display())))?
        .value;
    match value {
        Value::Array(_) => Ok(value),
        Value::Object(mut m) if m.contains_key("waves") => Ok(m.remove("waves").unwrap_or(Value::Null)),
        _ => Err(Error::Usage(format!(
            "{}: must be a list of waves (or a mapping with `waves:`)",
            path.display()
        ))),
    }
}

fn create(client: &Client, a: CreateArgs) -> Result<ExitCode, Error> {
    let mut paths = serde_json::Map::new();
    for p in &a.paths {
        let (id, path) = p
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--path {p}: must be ID=PATH")))?;
        paths.insert(id.to_owned(), json!(path));
    }
    let mut body = json!({
        "component": a.component,
        "release": a.release,
        "oci_tag": a.tag,
        "component_paths": paths,
        "reason": a.change.reason,
    });
    if let Some(file) = &a.waves {
        body["waves"] = waves(file)?;
    }
    let reply = client.send(Method::POST, "/api/v1/rollouts", &a.change.query(), Some(&body))?;
    if a.change.dry_run {
        let r: RolloutDto = reply.json()?;
        crate::say!("{}", super::describe::rollout(&r, chrono::Utc::now()));
        return Ok(ExitCode::SUCCESS);
    }
    let r: RolloutDto = reply.json()?;
    crate::sayln!(
        "rollout {} created: {} to {} in {} step(s)",
        r.id.unwrap_or_default(),
        super::columns::rollout_target(&r),
        r.oci_tag,
        r.steps_total
    );
    Ok(ExitCode::SUCCESS)
}

fn action(client: &Client, verb: &str, a: ActionArgs) -> Result<ExitCode, Error> {
    let query = match a.dry_run {
        true => vec![("dry_run", "true".to_owned())],
        false => Vec::new(),
    };
    let done: RolloutActionDto = client
        .send(Method::POST, &format!("/api/v1/rollouts/{}/{verb}", a.id), &query, None)?
        .json()?;
    if !done.dry_run {
        crate::sayln!(
            "rollout {}: {verb} done, now {} ({}/{} steps)",
            a.id,
            super::columns::rollout_state(&done.rollout),
            done.rollout.steps_applied,
            done.rollout.steps_total
        );
    }
    crate::say!("{}", plan_text(&done.changes, done.dry_run, output::colour()));
    Ok(ExitCode::SUCCESS)
}

/// 0 once completed, 1 once halted or aborted, `None` while it may still move.
fn ended(r: &RolloutDto) -> Option<ExitCode> {
    match super::columns::rollout_state(r).as_str() {
        "completed" => Some(ExitCode::SUCCESS),
        "halted" | "aborted" => Some(ExitCode::from(1)),
        _ => None,
    }
}

/// A line saying where the rollout stands, for logs: printed when it changes (so without the
/// soak's countdown).
fn line(r: &RolloutDto) -> String {
    let failed: Vec<&str> = r
        .waves
        .iter()
        .flat_map(|w| w.steps.iter().flat_map(|s| s.failed.iter().map(String::as_str)))
        .collect();
    let failures = match failed.is_empty() {
        true => String::new(),
        false => format!(", failed: {}", failed.join(",")),
    };
    format!(
        "rollout {}: {} {}/{} steps; {}{failures}",
        r.id.unwrap_or_default(),
        super::columns::rollout_state(r),
        r.steps_applied,
        r.steps_total,
        super::describe::waits_for(r)
    )
}

fn status(client: &Client, a: StatusArgs) -> Result<ExitCode, Error> {
    let every = crate::service::time::parse_duration(&a.every)
        .ok()
        .and_then(|d| d.to_std().ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| Error::Usage(format!("--every {}: must be a duration like 2s or 1m", a.every)))?;
    let path = format!("/api/v1/rollouts/{}", a.id);
    let terminal = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let r: RolloutDto = client.get(&path, &[])?;
        let done = ended(&r);
        if !a.watch {
            crate::say!("{}", super::describe::rollout(&r, chrono::Utc::now()));
            return Ok(done.unwrap_or(ExitCode::SUCCESS));
        }
        if terminal {
            // Home and clear, then the whole view again.
            crate::say!("\x1b[H\x1b[2J{}", super::describe::rollout(&r, chrono::Utc::now()));
        } else {
            let now = line(&r);
            if now != last {
                crate::sayln!("{now}");
                last = now;
            }
        }
        if let Some(code) = done {
            return Ok(code);
        }
        std::thread::sleep(every.min(Duration::from_secs(60)));
    }
}

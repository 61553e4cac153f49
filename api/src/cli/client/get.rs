//! `get`: lists of the service's resources, every page, as tables, YAML or JSON.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::columns::{artifacts, clusters, components, drift, holds, rollouts, tags, tiers, Columns};
use super::fleet::{self, FleetFormat};
use crate::client::http::{seg, Client};
use crate::client::output::{self, Format};
use crate::error::Error;
use crate::http::dto::{ArtifactDto, ClusterDto, ComponentDto, TagDto, TierDto};
use crate::http::hold_dto::HoldDto;
use crate::http::observed_dto::FindingDto;
use crate::http::rollout_dto::RolloutDto;

#[derive(Debug, Subcommand)]
pub enum GetCommand {
    /// Every cluster × component: the tag each runs, marked when it is not the catalog default
    /// or when drift or a failure is reported.
    #[command(
        after_help = "Examples:\n  platform-catalog get fleet\n  platform-catalog get fleet --tier prod -o wide\n  platform-catalog get fleet --component grafana -o csv > grafana.csv"
    )]
    Fleet(FleetArgs),
    /// Clusters, with tier, labels and revision.
    #[command(after_help = "Example:\n  platform-catalog get clusters --tier prod -l region=eu-west-1")]
    Clusters(ListArgs),
    /// Catalog components.
    #[command(after_help = "Example:\n  platform-catalog get components -o wide")]
    Components(ListArgs),
    /// Tiers and their tag policy.
    #[command(after_help = "Example:\n  platform-catalog get tiers")]
    Tiers(ListArgs),
    /// Artifacts: the OCI repositories builds are pushed to.
    #[command(after_help = "Example:\n  platform-catalog get artifacts")]
    Artifacts(ListArgs),
    /// The registered builds of an artifact, newest first; `--tier` keeps those it may run.
    #[command(after_help = "Example:\n  platform-catalog get tags platform --tier prod")]
    Tags {
        artifact: String,
        #[command(flatten)]
        list: ListArgs,
    },
    /// Rollouts and their progress.
    #[command(after_help = "Example:\n  platform-catalog get rollouts")]
    Rollouts(ListArgs),
    /// Holds: what no rollout, release or hotfix may move.
    #[command(after_help = "Example:\n  platform-catalog get holds")]
    Holds(ListArgs),
    /// Drift findings: where clusters run something other than they should, or went silent.
    #[command(after_help = "Example:\n  platform-catalog get drift --tier prod")]
    Drift(ListArgs),
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    /// Only clusters of this tier.
    #[arg(long)]
    tier: Option<String>,
    /// Only clusters with this label.
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE")]
    label: Option<String>,
    /// Only clusters running this component, and only its column.
    #[arg(long)]
    component: Option<String>,
    #[arg(short, long, value_enum, default_value = "table")]
    output: FleetFormat,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only items of this tier (clusters, tags, drift).
    #[arg(long)]
    tier: Option<String>,
    /// Only clusters with this label (clusters).
    #[arg(short = 'l', long = "selector", value_name = "KEY=VALUE")]
    label: Option<String>,
    #[arg(short, long, value_enum, default_value = "table")]
    output: Format,
}

impl ListArgs {
    /// The filters as query parameters; a filter the list does not take is a usage error.
    fn query(&self, what: &str, takes_tier: bool, takes_label: bool) -> Result<Vec<(&'static str, String)>, Error> {
        let mut q = Vec::new();
        for (name, value, taken) in [("tier", &self.tier, takes_tier), ("label", &self.label, takes_label)] {
            match (value, taken) {
                (Some(v), true) => q.push((name, v.clone())),
                (Some(_), false) => {
                    return Err(Error::Usage(format!("get {what} takes no --{name} filter")));
                }
                (None, _) => {}
            }
        }
        Ok(q)
    }
}

pub fn run(client: &Client, cmd: GetCommand) -> Result<ExitCode, Error> {
    match cmd {
        GetCommand::Fleet(a) => {
            let mut q = Vec::new();
            q.extend(a.tier.map(|t| ("tier", t)));
            q.extend(a.label.map(|l| ("label", l)));
            q.extend(a.component.map(|c| ("component", c)));
            fleet::print(client, &q, a.output)?;
        }
        GetCommand::Clusters(a) => list::<ClusterDto>(
            client,
            "/api/v1/clusters",
            &a.query("clusters", true, true)?,
            a.output,
            clusters,
        )?,
        GetCommand::Components(a) => list::<ComponentDto>(
            client,
            "/api/v1/components",
            &a.query("components", false, false)?,
            a.output,
            components,
        )?,
        GetCommand::Tiers(a) => list::<TierDto>(
            client,
            "/api/v1/tiers",
            &a.query("tiers", false, false)?,
            a.output,
            tiers,
        )?,
        GetCommand::Artifacts(a) => list::<ArtifactDto>(
            client,
            "/api/v1/artifacts",
            &a.query("artifacts", false, false)?,
            a.output,
            artifacts,
        )?,
        GetCommand::Tags { artifact, list: a } => {
            let path = format!("/api/v1/artifacts/{}/tags", seg(&artifact));
            list::<TagDto>(client, &path, &a.query("tags", true, false)?, a.output, tags)?
        }
        GetCommand::Rollouts(a) => list::<RolloutDto>(
            client,
            "/api/v1/rollouts",
            &a.query("rollouts", false, false)?,
            a.output,
            rollouts,
        )?,
        GetCommand::Holds(a) => list::<HoldDto>(
            client,
            "/api/v1/holds",
            &a.query("holds", false, false)?,
            a.output,
            holds,
        )?,
        GetCommand::Drift(a) => list::<FindingDto>(
            client,
            "/api/v1/drift",
            &a.query("drift", true, false)?,
            a.output,
            drift,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

fn list<T: DeserializeOwned + Serialize>(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
    format: Format,
    columns: fn(&[T], bool) -> Columns,
) -> Result<(), Error> {
    let items: Vec<T> = client.all(path, query)?;
    match format {
        Format::Yaml | Format::Json => crate::say!("{}", output::structured(&items, format)?),
        Format::Table | Format::Wide => {
            let (headers, rows) = columns(&items, format == Format::Wide);
            crate::say!("{}", output::table(&headers, &rows));
        }
    }
    Ok(())
}

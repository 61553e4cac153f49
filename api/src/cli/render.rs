//! `platform-catalog render`: what a cluster of a tier gets from the catalog defaults, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use catalog::render::{render, DigestMode, NoDigests, RenderOptions};
use catalog::resolve::{resolve, Assignment, Cluster};
use catalog::validate::load;
use catalog::{ClusterName, TierName};
use clap::{Args, ValueEnum};

use super::{default_catalog, read_file};
use crate::error::Error;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The catalog file.
    #[arg(long, value_name = "FILE", default_value_os_t = default_catalog())]
    catalog: PathBuf,

    /// The cluster's tier; picks the overlay directory and the tag policy.
    #[arg(long)]
    tier: String,

    /// The cluster's name (a DNS-1123 label).
    #[arg(long)]
    cluster: String,

    /// `yaml`: Flux OCIRepository + Kustomization documents; `json`: the same as a v1 List;
    /// `inputs`: the Flux Operator ExternalService inputs document.
    #[arg(long, value_enum, default_value_t = Output::Yaml)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Yaml,
    Json,
    Inputs,
}

pub fn run(args: RenderArgs) -> Result<ExitCode, Error> {
    let cluster_name = ClusterName::parse(&args.cluster).map_err(|e| Error::Usage(format!("--cluster: {e}")))?;
    let name = args.catalog.display().to_string();
    let loaded = load(&name, &read_file(&args.catalog)?).map_err(|report| {
        eprintln!("{report}");
        Error::Invalid(format!(
            "{name} is not a valid catalog; run `platform-catalog validate {name}`"
        ))
    })?;
    let catalog = &loaded.catalog;
    let tier = catalog.tier(&args.tier)?;
    let cluster = Cluster::new(cluster_name, TierName::clone(&tier.name));
    let now = chrono::Utc::now();
    let config = resolve(catalog, &cluster, &Assignment::catalog_defaults(catalog), &[], now)?;
    for note in &config.notes {
        eprintln!("warning: {note}");
    }
    let options = RenderOptions {
        revision: None,
        digests: &NoDigests,
        mode: DigestMode::TagWhenUnknown,
    };
    let rendering = render(&config, &options)?;
    for warning in &rendering.warnings {
        eprintln!("warning: {warning}");
    }
    let body = match args.output {
        Output::Yaml => rendering.to_yaml(),
        Output::Json => rendering.to_json(),
        Output::Inputs => rendering.inputs_json()?,
    };
    crate::say!("{body}");
    Ok(ExitCode::SUCCESS)
}

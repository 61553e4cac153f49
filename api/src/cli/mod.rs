//! Command-line interface: argument definitions and dispatch.

mod files;
pub mod prune;
pub mod registry;
mod render;
mod service;
mod tags;
mod tokens;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;

/// Platform Catalog: which build of each platform component every Kubernetes cluster runs.
///
/// Exit codes: 0 success, 1 invalid input (a finding, a refused tag), 2 usage or I/O error,
/// 3 an internal or database failure.
#[derive(Debug, Parser)]
#[command(name = "platform-catalog", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with OCI tags in the catalog's hotfix-aware order.
    #[command(subcommand)]
    Tags(tags::TagsCommand),
    /// Check a COMPONENTS.yaml (and optionally the platform repo tree) and report every problem.
    Validate(validate::ValidateArgs),
    /// Render the Flux objects a cluster of a tier gets from the catalog defaults, offline.
    Render(render::RenderArgs),
    /// Run the REST service (migrates the database first).
    Serve(service::ServeArgs),
    /// Apply pending database migrations.
    Migrate(service::DatabaseArgs),
    /// Load an export stream, or a COMPONENTS.yaml, tags and/or clusters file, into the database.
    Import(files::ImportArgs),
    /// Print the stored catalog and clusters (--all: everything) as a YAML stream `import` reads.
    Export(files::ExportArgs),
    /// Remove old version directories from the platform repo tree, never one in use (dry run
    /// unless --apply).
    Prune(prune::PruneArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Pack a directory as a Flux artifact and push it to an OCI registry under a tag; prints the digest.
    Push(registry::PushArgs),
    /// Give a pushed build another tag without rebuilding (same digest); prints the digest.
    Retag(registry::RetagArgs),
    /// Manage API tokens directly on the database.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
}

pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Tags(cmd) => tags::run(cmd),
        Command::Validate(args) => validate::run(args),
        Command::Render(args) => render::run(args),
        Command::Serve(args) => service::serve(args),
        Command::Migrate(args) => service::migrate(args),
        Command::Import(args) => files::import(args),
        Command::Export(args) => files::export(args),
        Command::Openapi => service::openapi(),
        Command::Prune(args) => prune::run(args),
        Command::Token(cmd) => tokens::run(cmd),
        Command::Push(args) => registry::push(args),
        Command::Retag(args) => registry::retag(args),
    }
}

pub(crate) fn read_file(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

/// The default catalog file, `./COMPONENTS.yaml`.
pub(crate) fn default_catalog() -> PathBuf {
    PathBuf::from("COMPONENTS.yaml")
}

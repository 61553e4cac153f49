//! Command-line interface: argument definitions and dispatch.

mod client;
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
#[derive(Debug, Parser)]
#[command(name = "platform-catalog", version, propagate_version = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    remote: client::Remote,
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  invalid input or refused by a rule (a finding, a refused tag; the service's 4xx such as 409 or 422,
     401 and 403); `rollout status` exits 1 when the rollout halted or was aborted
  2  usage or I/O error (bad arguments, unreadable file, no server configured)
  3  internal or database failure; the service answered 5xx or could not be reached
  4  the service has no such resource (404)

Client commands (config, get, describe, pin, unpin, release, hotfix, rollback, hold, rollout) talk
to a running service: --server and --token (or PLATFORM_CATALOG_SERVER and PLATFORM_CATALOG_TOKEN),
else the current context of `config`.";

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
    /// Contexts: which service client commands talk to, and with which token.
    #[command(
        subcommand,
        after_help = "Example:\n  platform-catalog config set-context prod --server https://catalog.example.com --token-file ~/.catalog-token"
    )]
    Config(client::ConfigCommand),
    /// List resources of a running service (fleet, clusters, rollouts, drift, …).
    #[command(
        subcommand,
        after_help = "Examples:\n  platform-catalog get fleet --tier prod\n  platform-catalog get clusters -l region=eu-west-1 -o yaml"
    )]
    Get(client::GetCommand),
    /// Show one cluster, rollout or component in full.
    #[command(subcommand, after_help = "Example:\n  platform-catalog describe cluster prod-eu-1")]
    Describe(client::DescribeCommand),
    /// Pin a component on a cluster to a build (an override).
    #[command(
        after_help = "Examples:\n  platform-catalog pin qa-eu-1 grafana --tag v1.2.0-rc1 --expires 7d --reason canary\n  platform-catalog pin prod-eu-1 grafana --tag v1.1.0 --dry-run"
    )]
    Pin(client::PinArgs),
    /// Remove a component's override on a cluster: it follows the catalog again.
    #[command(after_help = "Example:\n  platform-catalog unpin qa-eu-1 grafana")]
    Unpin(client::UnpinArgs),
    /// Release a build: move an artifact's default tag, or some components' own tag.
    #[command(
        after_help = "Examples:\n  platform-catalog release platform v1.2.0 --reason 'monthly release' --dry-run\n  platform-catalog release platform v1.2.0 --component grafana=observability/grafana/7.4.0"
    )]
    Release(client::ReleaseArgs),
    /// Pin one component to a hotfix build on selected tiers or clusters.
    #[command(
        after_help = "Example:\n  platform-catalog hotfix grafana --tag v1.1.0-1 --path observability/grafana/7.3.9 --tier prod"
    )]
    Hotfix(client::HotfixArgs),
    /// Make a cluster run what it ran at an earlier revision.
    #[command(
        after_help = "Example:\n  platform-catalog rollback prod-eu-1 --to-revision 3 --reason 'grafana 1.2 broke dashboards'"
    )]
    Rollback(client::RollbackArgs),
    /// Holds: keep clusters or components where they are.
    #[command(
        subcommand,
        after_help = "Example:\n  platform-catalog hold create --component grafana --reason 'dashboards migration' --expires 3d"
    )]
    Hold(client::HoldCommand),
    /// Rollouts: plan, move, pause, abort and watch.
    #[command(
        subcommand,
        after_help = "Example:\n  platform-catalog rollout create --component grafana --tag v1.2.0 && platform-catalog rollout status 1 --watch"
    )]
    Rollout(client::RolloutCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  platform-catalog completion bash > /etc/bash_completion.d/platform-catalog\n  platform-catalog completion zsh > \"${fpath[1]}/_platform-catalog\"\n  platform-catalog completion fish > ~/.config/fish/completions/platform-catalog.fish"
    )]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
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
        Command::Config(cmd) => client::config(&cli.remote, cmd),
        Command::Get(cmd) => client::get(&cli.remote, cmd),
        Command::Describe(cmd) => client::describe(&cli.remote, cmd),
        Command::Pin(args) => client::pin(&cli.remote, args),
        Command::Unpin(args) => client::unpin(&cli.remote, args),
        Command::Release(args) => client::release(&cli.remote, args),
        Command::Hotfix(args) => client::hotfix(&cli.remote, args),
        Command::Rollback(args) => client::rollback(&cli.remote, args),
        Command::Hold(cmd) => client::hold(&cli.remote, cmd),
        Command::Rollout(cmd) => client::rollout(&cli.remote, cmd),
        Command::Completion { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "platform-catalog", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
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

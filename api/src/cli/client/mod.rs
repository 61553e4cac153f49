//! Client commands: `get`, `describe`, changes (`pin`, `release`, `rollout`, …) and `config`,
//! spoken to a running service over its REST API.

mod change;
mod columns;
mod config;
mod describe;
mod fleet;
mod get;
mod rollout;

use std::process::ExitCode;

use clap::Args;

pub use change::{HoldCommand, HotfixArgs, PinArgs, ReleaseArgs, RollbackArgs, UnpinArgs};
pub use config::ConfigCommand;
pub use describe::DescribeCommand;
pub use get::GetCommand;
pub use rollout::RolloutCommand;

use crate::client::config::{self as contexts, Target};
use crate::client::http::Client;
use crate::error::Error;

/// Where client commands connect; global, so they may come before or after the command.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The service's base URL, e.g. `https://catalog.example.com` (default: the context's).
    #[arg(
        long,
        global = true,
        env = "PLATFORM_CATALOG_SERVER",
        value_name = "URL",
        help_heading = "Connection"
    )]
    server: Option<String>,
    /// The bearer token (default: the context's). Prefer the environment variable or a
    /// context's token file: a command line is visible to other users.
    #[arg(
        long,
        global = true,
        env = "PLATFORM_CATALOG_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Connection"
    )]
    token: Option<String>,
    /// The context to use instead of the current one.
    #[arg(long, global = true, value_name = "NAME", help_heading = "Connection")]
    context: Option<String>,
}

impl Remote {
    /// A client for the service these flags (or the context) name.
    pub fn client(&self) -> Result<Client, Error> {
        let resolved = contexts::resolve(&Target {
            server: self.server.clone(),
            token: self.token.clone(),
            context: self.context.clone(),
        })?;
        Client::new(resolved)
    }
}

pub fn config(remote: &Remote, cmd: ConfigCommand) -> Result<ExitCode, Error> {
    config::run(cmd, remote.token.clone())
}

pub fn get(remote: &Remote, cmd: GetCommand) -> Result<ExitCode, Error> {
    get::run(&remote.client()?, cmd)
}

pub fn describe(remote: &Remote, cmd: DescribeCommand) -> Result<ExitCode, Error> {
    describe::run(&remote.client()?, cmd)
}

pub fn pin(remote: &Remote, args: PinArgs) -> Result<ExitCode, Error> {
    change::pin(&remote.client()?, args)
}

pub fn unpin(remote: &Remote, args: UnpinArgs) -> Result<ExitCode, Error> {
    change::unpin(&remote.client()?, args)
}

pub fn release(remote: &Remote, args: ReleaseArgs) -> Result<ExitCode, Error> {
    change::release(&remote.client()?, args)
}

pub fn hotfix(remote: &Remote, args: HotfixArgs) -> Result<ExitCode, Error> {
    change::hotfix(&remote.client()?, args)
}

pub fn rollback(remote: &Remote, args: RollbackArgs) -> Result<ExitCode, Error> {
    change::rollback(&remote.client()?, args)
}

pub fn hold(remote: &Remote, cmd: HoldCommand) -> Result<ExitCode, Error> {
    change::hold(&remote.client()?, cmd)
}

pub fn rollout(remote: &Remote, cmd: RolloutCommand) -> Result<ExitCode, Error> {
    rollout::run(&remote.client()?, cmd)
}

/// `--dry-run` and `--reason`, which every change takes.
#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Only show what would move (and the rendered diff); nothing is written.
    #[arg(long)]
    dry_run: bool,
    /// Why: recorded in the audit log and the clusters' new revisions.
    #[arg(long)]
    reason: Option<String>,
}

impl ChangeArgs {
    fn query(&self) -> Vec<(&'static str, String)> {
        match self.dry_run {
            true => vec![("dry_run", "true".to_owned())],
            false => Vec::new(),
        }
    }
}

/// An expiry given as a duration from now (`7d`, `12h`), as the API's RFC 3339 time.
fn expiry(raw: Option<&str>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else { return Ok(None) };
    let d = crate::service::time::parse_duration(raw).map_err(|e| Error::Usage(format!("--expires: {e}")))?;
    let at = chrono::Utc::now()
        .checked_add_signed(d)
        .ok_or_else(|| Error::Usage(format!("--expires {raw} is too far ahead")))?;
    Ok(Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
}

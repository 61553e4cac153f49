//! `config`: the contexts client commands connect with.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::client::config::{self, Context};
use crate::client::output;
use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Add or change a context: a server and where its token comes from.
    #[command(
        after_help = "Example:\n  platform-catalog config set-context prod --server https://catalog.example.com \\\n      --token-command 'pass show catalog/prod'"
    )]
    SetContext(SetContextArgs),
    /// Make a context the one client commands use.
    #[command(after_help = "Example:\n  platform-catalog config use-context prod")]
    UseContext { name: String },
    /// List the contexts; the current one is marked `*`. Tokens are never shown.
    #[command(after_help = "Example:\n  platform-catalog config get-contexts")]
    GetContexts,
}

#[derive(Debug, Args)]
pub struct SetContextArgs {
    name: String,
    /// The service's base URL.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A file holding the token (read at each command).
    #[arg(long, value_name = "FILE", conflicts_with = "token_command")]
    token_file: Option<PathBuf>,
    /// A shell command printing the token (run at each command).
    #[arg(long, value_name = "COMMAND")]
    token_command: Option<String>,
    /// Store the token taken from `--token` or `PLATFORM_CATALOG_TOKEN` in the context itself.
    #[arg(long, conflicts_with_all = ["token_file", "token_command"])]
    store_token: bool,
}

pub fn run(cmd: ConfigCommand, token: Option<String>) -> Result<ExitCode, Error> {
    let path = config::path()?;
    let mut file = config::load(&path)?;
    match cmd {
        ConfigCommand::SetContext(a) => {
            let existing = file.contexts.get(&a.name).cloned();
            let server = a
                .server
                .or(existing.as_ref().map(|c| c.server.clone()))
                .ok_or_else(|| Error::Usage(format!("a new context needs --server (context {:?})", a.name)))?;
            let stored_token = match a.store_token {
                true => Some(token.ok_or_else(|| {
                    Error::Usage(
                        "--store-token takes the token from --token or PLATFORM_CATALOG_TOKEN; neither is set".into(),
                    )
                })?),
                false => None,
            };
            let changes_token = a.token_file.is_some() || a.token_command.is_some() || stored_token.is_some();
            let context = match (changes_token, existing) {
                (false, Some(old)) => Context { server, ..old },
                _ => Context {
                    server,
                    token: stored_token,
                    token_file: a.token_file,
                    token_command: a.token_command,
                },
            };
            file.contexts.insert(a.name.clone(), context);
            if file.current_context.is_none() {
                file.current_context = Some(a.name.clone());
            }
            config::save(&path, &file)?;
            crate::sayln!("context {:?} set in {}", a.name, path.display());
        }
        ConfigCommand::UseContext { name } => {
            if !file.contexts.contains_key(&name) {
                return Err(Error::Usage(format!("no context {name:?} in {}", path.display())));
            }
            file.current_context = Some(name.clone());
            config::save(&path, &file)?;
            crate::sayln!("now using context {name:?}");
        }
        ConfigCommand::GetContexts => {
            let rows: Vec<Vec<String>> = file
                .contexts
                .iter()
                .map(|(name, c)| {
                    let current = file.current_context.as_deref() == Some(name.as_str());
                    vec![
                        if current { "*" } else { "" }.to_owned(),
                        name.clone(),
                        c.server.clone(),
                        c.token_source(),
                    ]
                })
                .collect();
            crate::say!("{}", output::table(&["CURRENT", "NAME", "SERVER", "TOKEN"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `platform-catalog token …`: API tokens straight on the database, for bootstrapping and scripts.

use std::process::ExitCode;

use catalog::ClusterName;
use clap::{Args, Subcommand, ValueEnum};

use super::service::DatabaseArgs;
use crate::error::{Error, Field};
use crate::server;
use crate::service::tokens::{self, NewToken, Role, TokenName};
use crate::service::Caller;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token and print it once to stdout; only its hash is stored.
    Create(CreateArgs),
    /// List the tokens (never their secrets).
    List(DatabaseArgs),
    /// Revoke a token by name; the next request carrying it is refused.
    Revoke(RevokeArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Admin,
    Operator,
    Viewer,
    Cluster,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::Operator => Role::Operator,
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Cluster => Role::Cluster,
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    db: DatabaseArgs,

    /// A unique name; the audit log shows it as the actor.
    #[arg(long)]
    name: String,

    #[arg(long, value_enum)]
    role: RoleArg,

    /// The cluster a `cluster` token may read.
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,

    /// Lifetime like 30d, 12h, 90m; without it the token does not expire.
    #[arg(long, value_name = "DURATION")]
    expires: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    db: DatabaseArgs,

    #[arg(long)]
    name: String,
}

fn cli_caller() -> Caller {
    Caller::internal("platform-catalog", "cli")
}

pub fn run(cmd: TokenCommand) -> Result<ExitCode, Error> {
    match cmd {
        TokenCommand::Create(args) => {
            let new = NewToken {
                name: Field::new("name").parsed(TokenName::parse(&args.name))?,
                role: args.role.into(),
                cluster: (args.cluster.as_deref())
                    .map(|c| Field::new("cluster").parsed(ClusterName::parse(c)))
                    .transpose()?,
                lifetime: (args.expires.as_deref())
                    .map(|text| {
                        crate::service::time::parse_duration(text).map_err(|m| Error::Usage(format!("--expires: {m}")))
                    })
                    .transpose()?,
            };
            let state = server::open(args.db.url(), 2)?;
            let (token, secret) = tokens::create(&state, &cli_caller(), new)?;
            eprintln!(
                "token {:?} ({}) created; it is shown once, here:",
                token.name,
                token.role.as_str()
            );
            crate::sayln!("{secret}");
        }
        TokenCommand::List(db) => {
            let state = server::open(db.url(), 2)?;
            for t in tokens::list(&state)? {
                let ts = |t: Option<chrono::NaiveDateTime>| t.map_or("-".to_owned(), crate::service::time::rfc3339);
                crate::sayln!(
                    "{}\t{}\t{}\tcreated {}\texpires {}\tlast used {}",
                    t.name,
                    t.role.as_str(),
                    t.cluster.as_deref().unwrap_or("-"),
                    crate::service::time::rfc3339(t.created_at),
                    ts(t.expires_at),
                    ts(t.last_used_at)
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let state = server::open(args.db.url(), 2)?;
            tokens::revoke(&state, &cli_caller(), &args.name)?;
            eprintln!("token {:?} revoked", args.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

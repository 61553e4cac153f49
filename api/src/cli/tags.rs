//! `platform-catalog tags sort`: order tags as the catalog does.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use catalog::tag::{sort_tags, TagPattern};
use clap::{Args, Subcommand};

use crate::error::Error;

#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// Print tags in ascending order, one per line.
    ///
    /// Hotfix tags sort after their release (v1.0.0 < v1.0.0-1 < v1.0.0-2 < v1.0.1), other
    /// pre-releases before it (v1.1.0-rc1 < v1.1.0). `v1.0.0` and `1.0.0` are equal versions,
    /// ordered by their text. Moving tags (latest, main, sha-…) cannot be ordered.
    ///
    /// Example: git tag | platform-catalog tags sort --reverse | head -1
    Sort(SortArgs),
}

#[derive(Debug, Args)]
pub struct SortArgs {
    /// Tags to sort; read one per line from standard input when none are given.
    tags: Vec<String>,

    /// A regex with named groups `(?P<version>…)` and/or `(?P<ts>…)` for prefixed schemes,
    /// e.g. '^production-(?P<version>v[0-9.]+)-[a-f0-9]+-(?P<ts>[0-9]+)$'. Tags ordered by
    /// version, then numerically by ts; tags that do not match are left out.
    #[arg(long, value_name = "RE")]
    pattern: Option<String>,

    /// Print newest first.
    #[arg(long)]
    reverse: bool,

    /// Drop invalid or unorderable tags with a warning instead of failing.
    #[arg(long)]
    skip_invalid: bool,
}

pub fn run(cmd: TagsCommand) -> Result<ExitCode, Error> {
    let TagsCommand::Sort(args) = cmd;
    let pattern = args.pattern.as_deref().map(TagPattern::new).transpose()?;
    let input = if args.tags.is_empty() { read_stdin()? } else { args.tags };
    let tags = input.iter().map(|t| t.trim()).filter(|t| !t.is_empty());
    let mut outcome = sort_tags(tags, pattern.as_ref());

    if let Some(first) = outcome.rejected.first() {
        if !args.skip_invalid {
            let more = outcome.rejected.len() - 1;
            let suffix = if more > 0 {
                format!(" (and {more} more; --skip-invalid drops them)")
            } else {
                String::new()
            };
            return Err(Error::Invalid(format!("{first}{suffix}")));
        }
        for e in &outcome.rejected {
            eprintln!("warning: skipped: {e}");
        }
    }
    if !outcome.unmatched.is_empty() {
        eprintln!(
            "note: {} tag(s) did not match --pattern and were left out",
            outcome.unmatched.len()
        );
    }
    if args.reverse {
        outcome.sorted.reverse();
    }
    let mut out = std::io::stdout().lock();
    for tag in &outcome.sorted {
        // A closed pipe (`| head -1`) is not an error worth reporting.
        if writeln!(out, "{tag}").is_err() {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin() -> Result<Vec<String>, Error> {
    std::io::stdin()
        .lock()
        .lines()
        .collect::<Result<_, _>>()
        .map_err(|source| Error::Read {
            path: "standard input".into(),
            source,
        })
}

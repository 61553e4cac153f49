//! `platform-catalog prune`: remove old version directories from the platform repo tree,
//! never one that anything still uses.
//!
//! What is in use comes from the service (`--server`, `GET /api/v1/paths/in-use`) or, offline,
//! from the catalog and clusters files. Without `--apply` it only prints the plan. It exits 1
//! when a directory older than the newest `--keep` is kept only because something uses it: a
//! stricter policy would break that user, so CI can warn. Failures exit 2 or 3, never 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use catalog::prune::{self, Decision, PrunePlan};
use clap::{Args, ValueEnum};
use serde::Deserialize;

use super::{default_catalog, read_file};
use crate::error::Error;
use crate::service::fleet::ClustersDocument;
use crate::service::paths::{self, InUse, PathUse};

/// Versions kept per component by default: the current one and a few to roll back to.
pub const DEFAULT_KEEP: usize = 3;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The platform repo checkout: one directory per component version (`core/cert-manager/1.14.5`).
    #[arg(long, value_name = "DIR")]
    tree: PathBuf,

    /// Version directories kept per component, newest first in tag order, used or not.
    #[arg(long, default_value_t = DEFAULT_KEEP)]
    keep: usize,

    /// Ask this service what is in use (needs a viewer token). --catalog or --clusters take
    /// precedence over it.
    #[arg(long, env = "PLATFORM_CATALOG_SERVER", value_name = "URL")]
    server: Option<String>,

    /// The bearer token for --server.
    #[arg(long, env = "PLATFORM_CATALOG_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// Offline: the catalog (default ./COMPONENTS.yaml), or an export stream, whose clusters
    /// document is read too.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,

    /// Offline: the clusters file, for overrides, hotfixes and cluster pins.
    #[arg(long, value_name = "FILE")]
    clusters: Option<PathBuf>,

    /// With --server: every revision a cluster ran within this long stays, so a rollback to
    /// it still builds.
    #[arg(long, default_value = paths::DEFAULT_ROLLBACK_WINDOW, value_parser = window)]
    rollback_window: String,

    /// Delete the directories the plan removes, and print what was done.
    #[arg(long)]
    apply: bool,

    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

fn window(text: &str) -> Result<String, String> {
    crate::service::time::parse_duration(text).map(|_| text.trim().to_owned())
}

pub fn run(args: PruneArgs) -> Result<ExitCode, Error> {
    // Exit 1 means one thing here, "an old directory is still in use", so CI can allow it:
    // every failure exits 2 (input, I/O, a refused request) or 3 (the service).
    prune(args).map_err(|e| match e.exit_code() {
        1 => Error::Usage(e.to_string()),
        _ => e,
    })
}

fn prune(args: PruneArgs) -> Result<ExitCode, Error> {
    if !args.tree.is_dir() {
        return Err(Error::Usage(format!("--tree {}: not a directory", args.tree.display())));
    }
    let offline = args.catalog.is_some() || args.clusters.is_some();
    let in_use = match (&args.server, offline) {
        (Some(url), false) => fetch(url, args.token.as_deref(), &args.rollback_window)?,
        _ => offline_in_use(
            &args.catalog.clone().unwrap_or_else(default_catalog),
            args.clusters.as_deref(),
        )?,
    };
    let plan = plan(&args.tree, &in_use, args.keep)?;
    let mut done = Vec::new();
    if args.apply {
        for v in plan.removed() {
            let dir = args.tree.join(&v.path);
            std::fs::remove_dir_all(&dir).map_err(|e| Error::Usage(format!("cannot remove {}: {e}", dir.display())))?;
            done.push(v.path.clone());
        }
    }
    match args.output {
        Output::Text => crate::say!("{}", text(&plan, args.apply)),
        Output::Json => {
            let doc = serde_json::json!({"plan": plan, "applied": args.apply, "removed": done});
            crate::sayln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
    Ok(if plan.protected().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The plan for the tree on disk: each component directory's subdirectories, read now.
pub fn plan(tree: &Path, in_use: &InUse, keep: usize) -> Result<PrunePlan, Error> {
    // Used paths decide which directories are listed and deleted: one that could leave the
    // tree (`..`, absolute) is refused, wherever it came from.
    for path in in_use.keys() {
        catalog::ComponentPath::parse(path)
            .map_err(|e| Error::Invalid(format!("{path:?} is in use but not a component path: {e}")))?;
    }
    let mut listing = BTreeMap::new();
    for dir in prune::component_dirs(in_use.keys().map(String::as_str)) {
        let Ok(entries) = std::fs::read_dir(tree.join(&dir)) else {
            continue;
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::Usage(format!("cannot list {}: {e}", tree.join(&dir).display())))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        listing.insert(dir, names);
    }
    let uses = in_use
        .iter()
        .map(|(path, uses)| (path.clone(), uses.iter().map(PathUse::label).collect()))
        .collect();
    Ok(prune::plan(&listing, &uses, keep))
}

/// The plan as people read it: per component directory, each version and what happens to it.
pub fn text(plan: &PrunePlan, applied: bool) -> String {
    let mut out = String::new();
    for c in &plan.components {
        out.push_str(&format!("{}/\n", c.dir));
        for v in &c.versions {
            let what = match (v.decision, applied) {
                (Decision::Keep, _) => "keep     ",
                (Decision::Protect, _) => "protected",
                (Decision::Remove, false) => "remove   ",
                (Decision::Remove, true) => "removed  ",
            };
            let why = if v.uses.is_empty() {
                String::new()
            } else {
                format!("  ({})", summary(&v.uses))
            };
            out.push_str(&format!("  {what} {}{why}\n", v.name));
        }
        for name in &c.not_versions {
            out.push_str(&format!("  skipped   {name}  (not a version; never touched)\n"));
        }
    }
    for (path, uses) in &plan.missing {
        out.push_str(&format!(
            "missing: {path}/ is in use but not in the tree ({})\n",
            summary(uses)
        ));
    }
    let removed = plan.removed().count();
    let protected = plan.protected().count();
    out.push_str(&format!(
        "{} {removed} director{}; kept the newest {} of each component; {protected} older one(s) protected because in use\n",
        if applied { "removed" } else { "would remove" },
        if removed == 1 { "y" } else { "ies" },
        plan.keep,
    ));
    out
}

/// Uses grouped by kind, a few named each: a fleet's revisions would fill the screen.
/// `default: cert-manager; revision: dev-eu-1@1 cert-manager, … and 9 more`.
fn summary(labels: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for label in labels {
        let (kind, who) = label.split_once(' ').unwrap_or((label, ""));
        match groups.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, whos)) => whos.push(who),
            None => groups.push((kind, vec![who])),
        }
    }
    groups
        .iter()
        .map(|(kind, whos)| {
            let mut text = format!(
                "{kind}: {}",
                whos.iter().take(SHOWN).copied().collect::<Vec<_>>().join(", ")
            );
            if whos.len() > SHOWN {
                text.push_str(&format!(" and {} more", whos.len() - SHOWN));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the catalog and clusters files use; a stream given as the catalog brings its clusters.
fn offline_in_use(catalog_path: &Path, clusters: Option<&Path>) -> Result<InUse, Error> {
    let name = catalog_path.display().to_string();
    let text = read_file(catalog_path)?;
    let loaded = catalog::validate::load(&name, &text).map_err(|report| {
        eprintln!("{report}");
        Error::Invalid(format!("{name} is not a valid catalog"))
    })?;
    let doc: Option<ClustersDocument> = match clusters {
        Some(path) => Some(read_clusters(&path.display().to_string(), &read_file(path)?)?),
        None => match catalog::stream::split(&text)
            .map_err(|e| Error::Invalid(format!("{name}: {e}")))?
            .side("clusters")
        {
            Some(doc) => Some(from_value(&name, doc.value.clone())?),
            None => None,
        },
    };
    Ok(paths::in_use_offline(&loaded.catalog, doc.as_ref()))
}

fn read_clusters(name: &str, text: &str) -> Result<ClustersDocument, Error> {
    let doc = catalog::yaml::parse(text).map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
    from_value(name, doc.value)
}

fn from_value(name: &str, value: serde_json::Value) -> Result<ClustersDocument, Error> {
    serde_json::from_value(value).map_err(|e| Error::Invalid(format!("{name}: {e}")))
}

/// One page of `GET /api/v1/paths/in-use`.
#[derive(Deserialize)]
struct Page {
    items: Vec<Item>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    path: String,
    uses: Vec<PathUse>,
}

/// Every path in use, page by page, from the service.
fn fetch(server: &str, token: Option<&str>, window: &str) -> Result<InUse, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the HTTP client: {e}")))?;
    let client = reqwest::Client::new();
    let base = format!("{}/api/v1/paths/in-use", server.trim_end_matches('/'));
    let mut in_use = InUse::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}?limit=500&rollback_window={window}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Page = runtime.block_on(get_json(&client, &url, token))?;
        for item in page.items {
            in_use.entry(item.path).or_default().extend(item.uses);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(in_use),
        }
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<T, Error> {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let unavailable = |e: reqwest::Error| Error::Unavailable(format!("GET {url}: {e}"));
    let response = request.send().await.map_err(unavailable)?;
    let status = response.status();
    let body = response.text().await.map_err(unavailable)?;
    if !status.is_success() {
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
            .unwrap_or(body);
        let message = format!("GET {url}: {status}: {detail}");
        return Err(if status.is_server_error() {
            Error::Unavailable(message)
        } else {
            Error::Usage(message)
        });
    }
    serde_json::from_str(&body).map_err(|e| Error::Unavailable(format!("GET {url}: not the expected answer: {e}")))
}

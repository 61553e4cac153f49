//! Catalog and fleet files in and out: `import`, `export` (one YAML stream; `--all` a full
//! backup), and reading the files `serve` seeds an empty database from.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::read_file;
use super::service::DatabaseArgs;
use crate::error::Error;
use crate::server;
use crate::service::artifacts::TagsDocument;
use crate::service::fleet::{self, ClustersDocument};
use crate::service::{self, seed};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    db: DatabaseArgs,

    /// A stream as `export` writes it: `---`-separated documents, the catalog and any of the
    /// `tags:`, `clusters:` and `holds:` documents, applied in one write.
    #[arg(value_name = "FILE", conflicts_with_all = ["catalog", "tags", "clusters"])]
    stream: Option<PathBuf>,

    /// The catalog, COMPONENTS.yaml.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,

    /// A clusters file: `clusters: [{name, tier, labels, oci_tag, components: {id: {oci_tag, …}}}]`.
    #[arg(long, value_name = "FILE")]
    clusters: Option<PathBuf>,

    /// A tags file: `tags: [{artifact, tag, digest}]`, the builds CI registered.
    #[arg(long, value_name = "FILE")]
    tags: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DatabaseArgs,

    /// Print only one document: the catalog (a COMPONENTS.yaml) or the clusters file. By
    /// default both, as one stream that `import` and `validate` read.
    #[arg(long, value_enum)]
    what: Option<Export>,

    /// Everything `import` needs to rebuild the database with the same renders for every
    /// cluster: the catalog (with tier policies), the registered builds with their digests,
    /// the clusters with their overrides and revision numbers, and the holds in force.
    /// Refused while a rollout is active or halted (its steps are not exported).
    #[arg(long, conflicts_with = "what")]
    all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Export {
    Catalog,
    Clusters,
}

/// A side document of a stream as its type, or an error naming the file and the document.
fn side_doc<T: serde::de::DeserializeOwned>(name: &str, kind: &str, value: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Invalid(format!("{name}: the `{kind}:` document: {e}")))
}

/// Reads an export stream: its catalog (every finding printed) and side documents.
fn read_stream(path: &Path) -> Result<seed::Files, Error> {
    let name = path.display().to_string();
    let text = read_file(path)?;
    let stream = catalog::stream::split(&text).map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
    let mut files = seed::Files::default();
    if stream.catalog.is_some() {
        files.catalog = Some(seed::FileDoc::new(name.clone(), load_catalog(&name, &text)?)?);
    }
    for (kind, doc) in stream.sides {
        let source = format!("{name} ({kind})");
        match kind {
            "tags" => files.tags = Some(seed::FileDoc::new(source, side_doc(&name, kind, doc.value)?)?),
            "clusters" => files.clusters = Some(seed::FileDoc::new(source, side_doc(&name, kind, doc.value)?)?),
            _ => files.holds = Some(seed::FileDoc::new(source, side_doc(&name, kind, doc.value)?)?),
        }
    }
    Ok(files)
}

/// The catalog of a file (a stream's catalog document) as a normalised document; findings are printed.
fn load_catalog(name: &str, text: &str) -> Result<serde_json::Value, Error> {
    let loaded = catalog::validate::load(name, text).map_err(|report| {
        eprintln!("{report}");
        Error::Invalid(format!("{name} is not a valid catalog"))
    })?;
    Ok(loaded.catalog.to_document())
}

fn yaml_value(path: &Path) -> Result<serde_json::Value, Error> {
    let text = read_file(path)?;
    catalog::yaml::parse(&text)
        .map(|d| d.value)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// The files to load: catalog, tags, clusters (clusters may name the tags).
pub(super) struct FilePaths<'a> {
    pub catalog: Option<&'a Path>,
    pub tags: Option<&'a Path>,
    pub clusters: Option<&'a Path>,
}

/// Reads and checks the files; a catalog with findings prints them all.
pub(super) fn read_files(paths: FilePaths<'_>) -> Result<seed::Files, Error> {
    let mut files = seed::Files::default();
    if let Some(path) = paths.catalog {
        let name = path.display().to_string();
        let text = read_file(path)?;
        files.catalog = Some(seed::FileDoc::new(name.clone(), load_catalog(&name, &text)?)?);
    }
    if let Some(path) = paths.tags {
        let doc: TagsDocument = serde_json::from_value(yaml_value(path)?)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        files.tags = Some(seed::FileDoc::new(path.display().to_string(), doc)?);
    }
    if let Some(path) = paths.clusters {
        let doc: ClustersDocument = serde_json::from_value(yaml_value(path)?)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        files.clusters = Some(seed::FileDoc::new(path.display().to_string(), doc)?);
    }
    Ok(files)
}

pub fn import(args: ImportArgs) -> Result<ExitCode, Error> {
    let files = match &args.stream {
        Some(path) => read_stream(path)?,
        None if args.catalog.is_none() && args.clusters.is_none() && args.tags.is_none() => {
            return Err(Error::Usage(
                "nothing to import: give an export stream FILE, or --catalog, --tags and/or --clusters".into(),
            ))
        }
        None => read_files(FilePaths {
            catalog: args.catalog.as_deref(),
            tags: args.tags.as_deref(),
            clusters: args.clusters.as_deref(),
        })?,
    };
    let state = server::open(args.db.url(), 2)?;
    let done = seed::import(&state, &files)?;
    eprintln!(
        "imported: {} cluster(s) created, {} build(s) registered, {} hold(s) created",
        done.clusters, done.tags, done.holds
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export(args: ExportArgs) -> Result<ExitCode, Error> {
    let state = server::open(args.db.url(), 2)?;
    if args.all {
        refuse_active_rollouts(&state)?;
    }
    let (catalog, clusters) = match args.what {
        None => (true, true),
        Some(Export::Catalog) => (true, false),
        Some(Export::Clusters) => (false, true),
    };
    let mut docs = Vec::new();
    if catalog {
        let mut conn = state.conn()?;
        docs.push(state.catalog(&mut conn)?.1.to_document());
    }
    if args.all {
        docs.push(to_value(service::artifacts::export_tags(&state)?)?);
    }
    if clusters {
        docs.push(to_value(fleet::export(&state, args.all)?)?);
    }
    if args.all {
        docs.push(to_value(service::holds::export(&state)?)?);
    }
    let mut out = String::new();
    for doc in &docs {
        out.push_str("---\n");
        out.push_str(&catalog::yaml::to_yaml(doc));
    }
    crate::say!("{out}");
    Ok(ExitCode::SUCCESS)
}

fn to_value(doc: impl serde::Serialize) -> Result<serde_json::Value, Error> {
    serde_json::to_value(doc).map_err(|e| Error::Internal(e.to_string()))
}

/// A full export cannot carry a rollout's steps: while one moves clusters, their renders come
/// from it, and an import would not reproduce them.
fn refuse_active_rollouts(state: &service::AppState) -> Result<(), Error> {
    let active: Vec<String> = service::rollouts::list(state)?
        .into_iter()
        .filter(|r| service::rollouts::ACTIVE.contains(&r.state))
        .map(|r| format!("{} ({})", r.id, r.state.as_str()))
        .collect();
    if active.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "export --all: rollout(s) {} still move clusters, and a rollout's steps are not exported; \
         complete or abort them first, so that an import renders every cluster as it renders now",
        active.join(", ")
    )))
}

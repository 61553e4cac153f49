//! Start-up files: `--catalog`, `--tags` and `--clusters` seed an empty database, and never
//! overwrite one behind the API's back.
//!
//! On a database that holds data, each file given is compared with what was last seeded or
//! applied from files (its fingerprint is stored) and with the store itself: a file that is
//! unchanged since, or that matches the store, changes nothing. A file that would change
//! something makes the start refuse with a short list of what would change, unless the caller
//! asks to apply it; then it goes through the write engine like any API write (same checks,
//! audited as `files`, refused if it moves what an active rollout moves). Every file given is
//! applied in one write: all of them, or none.

use serde_json::Value;

use super::artifacts::{self, TagsDocument};
use super::fleet::{self, ClustersDocument};
use super::holds::{self, HoldsDocument};
use super::{AppState, Caller, Ctx};
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{self, effective::sha256_hex};

/// The actor start-up writes are audited as.
pub const ACTOR: &str = "files";

/// A file as read: where it came from, its document, and its fingerprint.
#[derive(Clone, Debug)]
pub struct FileDoc<T> {
    pub source: String,
    pub doc: T,
    pub sha256: String,
}

impl<T: serde::Serialize> FileDoc<T> {
    pub fn new(source: String, doc: T) -> Result<Self, Error> {
        let text = serde_json::to_string(&doc).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(FileDoc {
            source,
            sha256: sha256_hex(text.as_bytes()),
            doc,
        })
    }
}

/// The files a start or an import names; any may be absent.
#[derive(Clone, Debug, Default)]
pub struct Files {
    /// The catalog as a normalised document (what `Catalog::to_document` gives).
    pub catalog: Option<FileDoc<Value>>,
    pub tags: Option<FileDoc<TagsDocument>>,
    pub clusters: Option<FileDoc<ClustersDocument>>,
    /// Holds, from a full export; only `import` reads them.
    pub holds: Option<FileDoc<HoldsDocument>>,
}

/// What a start did with its files.
#[derive(Debug, PartialEq, Eq)]
pub enum Started {
    /// The database was empty: the files seeded it.
    Seeded { clusters: usize, tags: usize },
    /// Nothing to do: every file matches the store or is unchanged since it was applied.
    Unchanged,
    /// `--apply-files`: the differences below were applied.
    Applied { differences: Vec<String> },
}

/// At start: seeds an empty database; on one that holds data, applies the files only when
/// `apply`, and otherwise refuses (409) with what would change.
pub fn on_start(state: &AppState, files: &Files, apply: bool) -> Result<Started, Error> {
    if files.catalog.is_none() && files.tags.is_none() && files.clusters.is_none() && files.holds.is_none() {
        return Ok(Started::Unchanged);
    }
    let mut conn = state.conn()?;
    if is_empty(&mut conn)? {
        drop(conn);
        let imported = apply_files(state, files)?;
        return Ok(Started::Seeded {
            clusters: imported.clusters,
            tags: imported.tags,
        });
    }
    let differences = differences(state, &mut conn, files)?;
    drop(conn);
    if differences.is_empty() {
        record_matching(state, files)?;
        return Ok(Started::Unchanged);
    }
    if !apply {
        return Err(Error::Conflict(refusal(&differences)));
    }
    apply_files(state, files)?;
    Ok(Started::Applied { differences })
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    pub tags: usize,
    pub clusters: usize,
    pub holds: usize,
}

/// `import`: applies the files through the write engine, whatever the database holds.
pub fn import(state: &AppState, files: &Files) -> Result<Imported, Error> {
    apply_files(state, files)
}

/// How many lines of differences a refusal shows; the rest are counted.
const SHOWN: usize = 20;

fn refusal(differences: &[String]) -> String {
    let mut text = format!(
        "the start-up files differ from the database, which holds data (changed through the API, or \
         the files were edited); starting would change {} thing(s):\n",
        differences.len()
    );
    for d in differences.iter().take(SHOWN) {
        text.push_str(&format!("  {d}\n"));
    }
    if differences.len() > SHOWN {
        text.push_str(&format!("  … and {} more\n", differences.len() - SHOWN));
    }
    text.push_str(
        "Start without --catalog/--tags/--clusters to serve the database as it is, or add --apply-files \
         to apply the files through the API's checks (audited as `files`).",
    );
    text
}

fn is_empty(conn: &mut DbConnection) -> Result<bool, Error> {
    Ok(store::current_catalog_revision(conn)?.is_none()
        && store::clusters(conn)?.is_empty()
        && store::all_tags(conn)?.is_empty())
}

/// What applying the files would change, for each file not unchanged since it was applied.
fn differences(state: &AppState, conn: &mut DbConnection, files: &Files) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    if let Some(file) = changed_since_applied(conn, "catalog", &files.catalog)? {
        match store::current_catalog_revision(conn)? {
            None => out.push("catalog: none is loaded".to_owned()),
            Some(_) => {
                let stored = state.catalog(conn)?.1.to_document();
                leaf_diff("catalog", &stored, &file.doc, &mut out);
            }
        }
    }
    if let Some(file) = changed_since_applied(conn, "tags", &files.tags)? {
        out.extend(artifacts::tag_differences(conn, &file.doc)?);
    }
    if let Some(file) = changed_since_applied(conn, "clusters", &files.clusters)? {
        out.extend(fleet::differences(conn, &file.doc)?);
    }
    Ok(out)
}

/// The file, unless its fingerprint is the one last applied for `kind`.
fn changed_since_applied<'a, T>(
    conn: &mut DbConnection,
    kind: &str,
    file: &'a Option<FileDoc<T>>,
) -> Result<Option<&'a FileDoc<T>>, Error> {
    let Some(file) = file else { return Ok(None) };
    let applied = store::applied_file(conn, kind)?;
    Ok((applied.as_deref() != Some(file.sha256.as_str())).then_some(file))
}

/// Files that match the store are recorded as applied, so a later start that finds the API
/// moved the store on knows the files did not change.
fn record_matching(state: &AppState, files: &Files) -> Result<(), Error> {
    state
        .write(&caller(), false, "start-up files match the database", |ctx| {
            record(ctx, files)
        })
        .map(drop)
}

fn apply_files(state: &AppState, files: &Files) -> Result<Imported, Error> {
    let outcome = state.write(&caller(), false, "start-up files applied", |ctx| {
        if let Some(file) = &files.catalog {
            super::import_catalog_in(ctx, file.doc.clone(), &format!("import {}", file.source))?;
        }
        let tags = match &files.tags {
            Some(file) => artifacts::import_tags_in(ctx, &file.doc)?,
            None => 0,
        };
        let clusters = match &files.clusters {
            Some(file) => fleet::import_in(ctx, &file.doc)?.0,
            None => 0,
        };
        let holds = match &files.holds {
            Some(file) => holds::import_in(ctx, &file.doc)?,
            None => 0,
        };
        record(ctx, files)?;
        Ok(Imported { tags, clusters, holds })
    })?;
    Ok(outcome.value)
}

fn record(ctx: &mut Ctx<'_>, files: &Files) -> Result<(), Error> {
    let now = ctx.now;
    let mut put = |kind: &str, source: &str, sha: &str| store::record_applied_file(ctx.conn, kind, sha, source, now);
    if let Some(f) = &files.catalog {
        put("catalog", &f.source, &f.sha256)?;
    }
    if let Some(f) = &files.tags {
        put("tags", &f.source, &f.sha256)?;
    }
    if let Some(f) = &files.clusters {
        put("clusters", &f.source, &f.sha256)?;
    }
    Ok(())
}

fn caller() -> Caller {
    Caller::internal(ACTOR, "start-up")
}

/// The leaves where two JSON documents differ, as `path: stored X, file Y`. Arrays of objects
/// with an `id` or `name` are matched by it, so one added component is one line.
fn leaf_diff(path: &str, stored: &Value, file: &Value, out: &mut Vec<String>) {
    match (stored, file) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                match b.get(k) {
                    Some(vb) => leaf_diff(&format!("{path}.{k}"), va, vb, out),
                    None => out.push(format!("{path}.{k}: stored {}, file has none", short(va))),
                }
            }
            for (k, vb) in b.iter().filter(|(k, _)| !a.contains_key(*k)) {
                out.push(format!("{path}.{k}: stored none, file {}", short(vb)));
            }
        }
        (Value::Array(a), Value::Array(b)) if keyed(a).is_some() && keyed(b).is_some() => {
            let (ka, kb) = (keyed(a).unwrap_or_default(), keyed(b).unwrap_or_default());
            for (k, va) in &ka {
                match kb.iter().find(|(kk, _)| kk == k) {
                    Some((_, vb)) => leaf_diff(&format!("{path}[{k}]"), va, vb, out),
                    None => out.push(format!("{path}[{k}]: stored, not in the file")),
                }
            }
            for (k, _) in kb.iter().filter(|(k, _)| !ka.iter().any(|(kk, _)| kk == k)) {
                out.push(format!("{path}[{k}]: in the file, not stored"));
            }
        }
        (a, b) if a != b => out.push(format!("{path}: stored {}, file {}", short(a), short(b))),
        _ => {}
    }
}

/// An array's elements by their `id` (or `name`), when every element has one.
fn keyed(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    items
        .iter()
        .map(|v| {
            v.get("id")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .map(|k| (k.to_owned(), v))
        })
        .collect()
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_document_diff_names_each_changed_leaf_and_matches_components_by_id() {
        let stored = json!({"artifacts": [{"id": "platform", "oci_tag": "v1.2.0"}],
            "components": [{"id": "a", "component_path": "x"}, {"id": "b"}]});
        let file = json!({"artifacts": [{"id": "platform", "oci_tag": "v1.1.0"}],
            "components": [{"id": "b"}, {"id": "a", "component_path": "x"}, {"id": "c"}]});
        let mut out = Vec::new();
        leaf_diff("catalog", &stored, &file, &mut out);
        assert_eq!(
            out,
            vec![
                "catalog.artifacts[platform].oci_tag: stored \"v1.2.0\", file \"v1.1.0\"".to_owned(),
                "catalog.components[c]: in the file, not stored".to_owned(),
            ]
        );
    }
}

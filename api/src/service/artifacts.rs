//! Artifacts and their registered builds (tags with digests).

use catalog::ids::Digest;
use catalog::tag::{TagKind, Version};
use catalog::{Artifact, OciTag};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::{AppState, Caller, Ctx, Outcome};
use crate::db::models::ArtifactTagRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store;

/// Whether a registration created the tag, gave a known tag its first digest, or found it
/// already there with the same digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    DigestAdded,
    Unchanged,
}

/// An artifact of the catalog with how many builds are registered for it.
#[derive(Debug, Clone)]
pub struct ArtifactSummary {
    pub artifact: Artifact,
    pub tag_count: i64,
    pub sync: Option<super::sync::SyncStatus>,
}

/// The catalog's artifacts, in declared order.
pub fn list(state: &AppState) -> Result<Vec<ArtifactSummary>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    catalog
        .artifacts()
        .iter()
        .map(|a| {
            Ok(ArtifactSummary {
                artifact: a.clone(),
                tag_count: store::tag_count(&mut conn, a.id.as_str())?,
                sync: sync_status(&mut conn, a.id.as_str())?,
            })
        })
        .collect()
}

pub fn get(state: &AppState, id: &str) -> Result<ArtifactSummary, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    let artifact = catalog
        .artifacts()
        .iter()
        .find(|a| a.id.as_str() == id)
        .cloned()
        .ok_or_else(|| not_found(id))?;
    let tag_count = store::tag_count(&mut conn, id)?;
    let sync = sync_status(&mut conn, id)?;
    Ok(ArtifactSummary {
        artifact,
        tag_count,
        sync,
    })
}

fn sync_status(conn: &mut DbConnection, id: &str) -> Result<Option<super::sync::SyncStatus>, Error> {
    Ok(store::registry::sync_status(conn, id)?
        .as_ref()
        .map(super::sync::SyncStatus::from))
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: "artifact",
        name: id.to_owned(),
    }
}

/// A registered build of an artifact as the service shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactTagView {
    pub tag: String,
    pub digest: Option<String>,
    pub registered_at: NaiveDateTime,
    /// When a registry sync first saw the tag; `None` for tags only registered through the API.
    pub first_seen_at: Option<NaiveDateTime>,
    /// How the tag orders; `None` for a moving tag (or a stored one that no longer parses,
    /// which orders nowhere either).
    pub kind: Option<TagKind>,
}

impl From<&ArtifactTagRow> for ArtifactTagView {
    fn from(r: &ArtifactTagRow) -> Self {
        ArtifactTagView {
            tag: r.tag.clone(),
            digest: r.digest.clone(),
            registered_at: r.registered_at,
            first_seen_at: r.first_seen_at,
            kind: OciTag::parse(&r.tag).ok().and_then(|t| t.version().map(|v| v.kind())),
        }
    }
}

/// Register a build (a tag, with its digest when known) of an artifact.
#[derive(Debug, Clone)]
pub struct RegisterTag {
    pub artifact: String,
    pub tag: OciTag,
    pub digest: Option<Digest>,
}

impl RegisterTag {
    /// Parses a registration as a request or a file states it; a refusal names the field.
    pub fn parse(artifact: &str, tag: &str, digest: Option<&str>) -> Result<RegisterTag, Error> {
        let refused = |field: &'static str, e: catalog::Error| Error::refused(field, e.to_string());
        Ok(RegisterTag {
            artifact: artifact.to_owned(),
            tag: OciTag::parse(tag).map_err(|e| refused("tag", e))?,
            digest: digest
                .map(|d| Digest::parse(d).map_err(|e| refused("digest", e)))
                .transpose()?,
        })
    }
}

/// Registers a built tag with its digest. Tags are immutable: the same tag with another digest
/// is refused (409), the same pair again is a no-op. A tag registered without a digest may get
/// one later.
pub fn register_tag(
    state: &AppState,
    caller: &Caller,
    command: RegisterTag,
    dry_run: bool,
) -> Result<Outcome<(Registered, ArtifactTagView)>, Error> {
    let RegisterTag { artifact, tag, digest } = command;
    let reason = format!("tag {tag} registered for {artifact}");
    state.write(caller, dry_run, &reason, |ctx| {
        let (registered, row) = register_tag_in(ctx, &artifact, &tag, digest.as_ref())?;
        Ok((registered, ArtifactTagView::from(&row)))
    })
}

/// Registers a build inside a write (see [`register_tag`]).
pub(super) fn register_tag_in(
    ctx: &mut Ctx<'_>,
    artifact: &str,
    tag: &OciTag,
    digest: Option<&Digest>,
) -> Result<(Registered, ArtifactTagRow), Error> {
    if !ctx.catalog().artifacts().iter().any(|a| a.id.as_str() == artifact) {
        return Err(not_found(artifact));
    }
    let existing = store::tag(ctx.conn, artifact, tag.as_str())?;
    let target = format!("artifact/{artifact}/tags/{tag}");
    match (existing, digest) {
        (Some(row), Some(d)) if row.digest.as_deref().is_some_and(|old| old != d.as_str()) => {
            Err(Error::Conflict(format!(
                "tag {tag} of {artifact} is registered with digest {}; tags are immutable, so {} needs a new tag",
                row.digest.unwrap_or_default(),
                d
            )))
        }
        (Some(row), Some(d)) if row.digest.is_none() => {
            store::set_tag_digest(ctx.conn, artifact, tag.as_str(), d.as_str())?;
            ctx.audit(
                "tag.digest",
                &target,
                Some(&view(&row)),
                Some(&serde_json::json!({"digest": d.as_str()})),
            );
            Ok((
                Registered::DigestAdded,
                ArtifactTagRow {
                    digest: Some(d.to_string()),
                    ..row
                },
            ))
        }
        (Some(row), _) => Ok((Registered::Unchanged, row)),
        (None, _) => {
            let row = ArtifactTagRow {
                artifact_id: artifact.to_owned(),
                tag: tag.to_string(),
                digest: digest.as_ref().map(ToString::to_string),
                actor: ctx.caller().actor.clone(),
                registered_at: ctx.now,
                first_seen_at: None,
            };
            store::insert_tag(ctx.conn, &row)?;
            ctx.audit("tag.register", &target, None::<&serde_json::Value>, Some(&view(&row)));
            Ok((Registered::Created, row))
        }
    }
}

fn view(row: &ArtifactTagRow) -> serde_json::Value {
    serde_json::json!({"artifact": row.artifact_id, "tag": row.tag, "digest": row.digest})
}

/// Registered tags of an artifact, newest first in the catalog's order; moving tags (which
/// cannot be ordered) come last, by name.
pub fn tags(state: &AppState, artifact: &str, tier: Option<&str>) -> Result<Vec<ArtifactTagView>, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    if !catalog.artifacts().iter().any(|a| a.id.as_str() == artifact) {
        return Err(not_found(artifact));
    }
    // The artifact exists, so an unknown tier is the query's fault, not a missing resource.
    let policy = tier
        .map(|t| {
            catalog
                .tier(t)
                .cloned()
                .map_err(|e| Error::refused("tier", e.to_string()))
        })
        .transpose()?;
    let mut rows: Vec<(Option<Version>, ArtifactTagRow)> = Vec::new();
    for row in store::tags(&mut conn, artifact)? {
        let Ok(tag) = OciTag::parse(&row.tag) else { continue };
        if let Some(t) = &policy {
            if t.policy.check(&t.name, &tag).is_err() {
                continue;
            }
        }
        rows.push((tag.version().cloned(), row));
    }
    rows.sort_by(|(va, a), (vb, b)| match (va, vb) {
        (Some(x), Some(y)) => y.cmp(x).then_with(|| b.tag.cmp(&a.tag)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.tag.cmp(&b.tag),
    });
    Ok(rows.iter().map(|(_, r)| ArtifactTagView::from(r)).collect())
}

/// A tags file: builds to register, as CI would through the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsDocument {
    pub tags: Vec<TagEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagEntry {
    pub artifact: String,
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// Every registered build, by artifact and tag name, with its digest when known.
pub fn export_tags(state: &AppState) -> Result<TagsDocument, Error> {
    let mut conn = state.conn()?;
    let mut rows = store::all_tags(&mut conn)?;
    rows.sort_by(|a, b| a.artifact_id.cmp(&b.artifact_id).then_with(|| a.tag.cmp(&b.tag)));
    Ok(TagsDocument {
        tags: rows
            .into_iter()
            .map(|r| TagEntry {
                artifact: r.artifact_id,
                tag: r.tag,
                digest: r.digest,
            })
            .collect(),
    })
}

/// Registers every tag of the document in one write; returns how many were new.
pub fn import_tags(state: &AppState, caller: &Caller, doc: &TagsDocument) -> Result<usize, Error> {
    Ok(state
        .write(caller, false, "tags imported", |ctx| import_tags_in(ctx, doc))?
        .value)
}

/// Registers every tag of the document inside a write; returns how many were new.
pub(super) fn import_tags_in(ctx: &mut Ctx<'_>, doc: &TagsDocument) -> Result<usize, Error> {
    let mut created = 0;
    for (i, t) in doc.tags.iter().enumerate() {
        let at = |e: Error| Error::Invalid(format!("tags[{i}] ({} {}): {e}", t.artifact, t.tag));
        let command = RegisterTag::parse(&t.artifact, &t.tag, t.digest.as_deref()).map_err(at)?;
        let (registered, _) =
            register_tag_in(ctx, &command.artifact, &command.tag, command.digest.as_ref()).map_err(at)?;
        created += usize::from(registered == Registered::Created);
    }
    Ok(created)
}

/// What registering the document would change in the store, one line each (empty: nothing).
/// Tags the store knows and the document does not name are no difference: syncs add them.
pub(super) fn tag_differences(conn: &mut DbConnection, doc: &TagsDocument) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for t in &doc.tags {
        match store::tag(conn, &t.artifact, &t.tag)? {
            None => out.push(format!("tag {} of {}: not registered", t.tag, t.artifact)),
            Some(row) if t.digest.is_some() && row.digest != t.digest => out.push(format!(
                "tag {} of {}: digest: stored {}, file {}",
                t.tag,
                t.artifact,
                row.digest.as_deref().unwrap_or("none"),
                t.digest.as_deref().unwrap_or("none")
            )),
            Some(_) => {}
        }
    }
    Ok(out)
}

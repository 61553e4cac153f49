//! Tag sync: what the registry really holds. New tags are stored with their digest and the
//! time they were first seen; a tag whose digest changed in the registry is a moved tag: the
//! catalog keeps the digest it pinned, records the move and writes it to the audit log.

use std::collections::BTreeMap;
use std::time::Instant;

use catalog::{Artifact, OciTag};
use chrono::NaiveDateTime;

use super::{AppState, Caller};
use crate::db::models::ArtifactTagRow;
use crate::db::registry_rows::{NewTagMoveRow, SyncRow, TagMoveRow};
use crate::error::Error;
use crate::registry::Target;
use crate::store;

/// A tag whose registry digest differs from the pinned one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedTag {
    pub tag: String,
    pub pinned_digest: String,
    pub registry_digest: String,
    pub detected_at: NaiveDateTime,
}

impl From<&TagMoveRow> for MovedTag {
    fn from(r: &TagMoveRow) -> Self {
        MovedTag {
            tag: r.tag.clone(),
            pinned_digest: r.pinned_digest.clone(),
            registry_digest: r.registry_digest.clone(),
            detected_at: r.detected_at,
        }
    }
}

/// What one sync found.
#[derive(Clone, Debug)]
pub struct SyncReport {
    pub artifact: String,
    pub synced_at: NaiveDateTime,
    /// Every tag the registry lists.
    pub registry_tags: usize,
    /// Tags the registry lists that are not OCI tags the catalog can use.
    pub ignored_tags: Vec<String>,
    /// Tags stored for the first time.
    pub new_tags: Vec<String>,
    /// Known tags that got their first digest.
    pub digests_added: Vec<String>,
    /// Moves detected by this sync (known moves are not repeated).
    pub moved: Vec<MovedTag>,
    pub duration_ms: u64,
}

/// The target (`oci://` URL, plain http or not) of an artifact.
pub fn target_of(artifact: &Artifact) -> Result<Target, Error> {
    Target::parse(artifact.url.as_str(), artifact.insecure)
}

fn artifact_of(state: &AppState, id: &str) -> Result<Artifact, Error> {
    let mut conn = state.conn()?;
    let (_, catalog) = state.catalog(&mut conn)?;
    catalog
        .artifacts()
        .iter()
        .find(|a| a.id.as_str() == id)
        .cloned()
        .ok_or_else(|| Error::NotFound {
            kind: "artifact",
            name: id.to_owned(),
        })
}

/// Lists the registry's tags, resolves their digests, and stores what changed. A registry that
/// cannot be reached is recorded in the artifact's sync status and answered as 503.
pub fn sync(state: &AppState, caller: &Caller, id: &str) -> Result<SyncReport, Error> {
    let artifact = artifact_of(state, id)?;
    let started = Instant::now();
    let attempt_at = state.clock.now();
    let fetched = fetch(state, &artifact);
    let (listed, digests) = match fetched {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(artifact = id, error = %e, "registry sync failed");
            let previous = store::registry::sync_status(&mut *state.conn()?, id)?;
            store::registry::put_sync_status(
                &mut *state.conn()?,
                &SyncRow {
                    artifact_id: id.to_owned(),
                    last_attempt_at: attempt_at,
                    last_success_at: previous.and_then(|p| p.last_success_at),
                    last_error: Some(e.to_string()),
                    registry_tags: 0,
                    new_tags: 0,
                    moved_tags: 0,
                    duration_ms: elapsed_ms(started),
                },
            )?;
            return Err(e);
        }
    };
    let ignored: Vec<String> = listed.iter().filter(|t| OciTag::parse(t).is_err()).cloned().collect();
    let stored = store::tags(&mut *state.conn()?, id)?;
    let mut report = SyncReport {
        artifact: id.to_owned(),
        synced_at: attempt_at,
        registry_tags: listed.len(),
        ignored_tags: ignored,
        new_tags: Vec::new(),
        digests_added: Vec::new(),
        moved: Vec::new(),
        duration_ms: 0,
    };
    if needs_write(state, id, &stored, &digests)? {
        apply(state, caller, id, &digests, &mut report)?;
    }
    report.duration_ms = u64::try_from(elapsed_ms(started)).unwrap_or(0);
    store::registry::put_sync_status(
        &mut *state.conn()?,
        &SyncRow {
            artifact_id: id.to_owned(),
            last_attempt_at: attempt_at,
            last_success_at: Some(attempt_at),
            last_error: None,
            registry_tags: report.registry_tags as i64,
            new_tags: report.new_tags.len() as i64,
            moved_tags: report.moved.len() as i64,
            duration_ms: report.duration_ms as i64,
        },
    )?;
    Ok(report)
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

type Fetched = (Vec<String>, BTreeMap<String, String>);

/// The registry's tags and the digest of every usable one (network only; no database).
fn fetch(state: &AppState, artifact: &Artifact) -> Result<Fetched, Error> {
    let registry = state.registry()?;
    let target = target_of(artifact)?;
    let listed = registry.list_tags(&target)?;
    let usable: Vec<String> = listed.iter().filter(|t| OciTag::parse(t).is_ok()).cloned().collect();
    let digests = registry
        .digests(&target, &usable)?
        .into_iter()
        .filter_map(|(tag, digest)| digest.map(|d| (tag, d)))
        .collect();
    Ok((listed, digests))
}

/// Whether `digests` changes anything stored: most periodic syncs find nothing new and then
/// take no write lock.
fn needs_write(
    state: &AppState,
    id: &str,
    stored: &[ArtifactTagRow],
    digests: &BTreeMap<String, String>,
) -> Result<bool, Error> {
    let by_tag: BTreeMap<&str, &ArtifactTagRow> = stored.iter().map(|r| (r.tag.as_str(), r)).collect();
    let mut conn = state.conn()?;
    for (tag, digest) in digests {
        let changed = match by_tag.get(tag.as_str()) {
            None => true,
            Some(row) => match &row.digest {
                None => true,
                Some(pinned) if pinned != digest => !store::registry::move_known(&mut conn, id, tag, digest)?,
                Some(_) => row.first_seen_at.is_none(),
            },
        };
        if changed {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Stores the changes in one audited write, re-planned inside the transaction so a concurrent
/// registration or sync is never overwritten.
fn apply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    digests: &BTreeMap<String, String>,
    report: &mut SyncReport,
) -> Result<(), Error> {
    let reason = format!("registry sync of {id}");
    let outcome = state.write(caller, false, &reason, |ctx| {
        let stored = store::tags(ctx.conn, id)?;
        let by_tag: BTreeMap<String, ArtifactTagRow> = stored.into_iter().map(|r| (r.tag.clone(), r)).collect();
        let (mut new, mut added, mut moved) = (Vec::new(), Vec::new(), Vec::new());
        for (tag, digest) in digests {
            let target = format!("artifact/{id}/tags/{tag}");
            match by_tag.get(tag) {
                None => {
                    let row = ArtifactTagRow {
                        artifact_id: id.to_owned(),
                        tag: tag.clone(),
                        digest: Some(digest.clone()),
                        actor: ctx.caller().actor.clone(),
                        registered_at: ctx.now,
                        first_seen_at: Some(ctx.now),
                    };
                    store::insert_tag(ctx.conn, &row)?;
                    let after = serde_json::json!({"artifact": id, "tag": tag, "digest": digest});
                    ctx.audit("tag.discovered", &target, None::<&serde_json::Value>, Some(&after));
                    new.push(tag.clone());
                }
                Some(row) if row.digest.is_none() => {
                    store::set_tag_digest(ctx.conn, id, tag, digest)?;
                    store::registry::set_first_seen(ctx.conn, id, tag, ctx.now)?;
                    let before = serde_json::json!({"artifact": id, "tag": tag, "digest": null});
                    let after = serde_json::json!({"artifact": id, "tag": tag, "digest": digest});
                    ctx.audit("tag.digest", &target, Some(&before), Some(&after));
                    added.push(tag.clone());
                }
                Some(row) => {
                    let pinned = row.digest.clone().unwrap_or_default();
                    if &pinned != digest {
                        if store::registry::move_known(ctx.conn, id, tag, digest)? {
                            continue;
                        }
                        let m = MovedTag {
                            tag: tag.clone(),
                            pinned_digest: pinned.clone(),
                            registry_digest: digest.clone(),
                            detected_at: ctx.now,
                        };
                        store::registry::insert_move(
                            ctx.conn,
                            &NewTagMoveRow {
                                artifact_id: id.to_owned(),
                                tag: tag.clone(),
                                pinned_digest: pinned.clone(),
                                registry_digest: digest.clone(),
                                detected_at: ctx.now,
                            },
                        )?;
                        let before = serde_json::json!({"artifact": id, "tag": tag, "digest": pinned});
                        let after = serde_json::json!({"artifact": id, "tag": tag, "registry_digest": digest,
                            "pinned_digest": pinned, "note": "the tag moved in the registry; the catalog keeps the pinned digest"});
                        ctx.audit("tag.moved", &target, Some(&before), Some(&after));
                        tracing::warn!(artifact = id, tag = %tag, pinned = %pinned, registry = %digest,
                            "a tag moved in the registry; the pinned digest is kept");
                        moved.push(m);
                    } else if row.first_seen_at.is_none() {
                        store::registry::set_first_seen(ctx.conn, id, tag, ctx.now)?;
                    }
                }
            }
        }
        // A first digest can complete a pinned tier's render, so every cluster is re-resolved.
        if !added.is_empty() {
            ctx.touch_all();
        }
        Ok((new, added, moved))
    })?;
    let (new, added, moved) = outcome.value;
    report.new_tags = new;
    report.digests_added = added;
    report.moved = moved;
    Ok(())
}

/// How the last sync of an artifact with its registry went, as the service shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncStatus {
    pub last_attempt_at: NaiveDateTime,
    pub last_success_at: Option<NaiveDateTime>,
    /// Why the last attempt failed; `None` when it succeeded.
    pub last_error: Option<String>,
    /// Tags the registry listed at the last success.
    pub registry_tags: i64,
    pub duration_ms: i64,
}

impl From<&SyncRow> for SyncStatus {
    fn from(r: &SyncRow) -> Self {
        SyncStatus {
            last_attempt_at: r.last_attempt_at,
            last_success_at: r.last_success_at,
            last_error: r.last_error.clone(),
            registry_tags: r.registry_tags,
            duration_ms: r.duration_ms,
        }
    }
}

/// The last sync of an artifact, if any.
pub fn status(state: &AppState, id: &str) -> Result<Option<SyncStatus>, Error> {
    Ok(store::registry::sync_status(&mut *state.conn()?, id)?
        .as_ref()
        .map(SyncStatus::from))
}

/// The recorded moves of an artifact's tags, by tag (the latest move last).
pub fn moves(state: &AppState, id: &str) -> Result<BTreeMap<String, Vec<MovedTag>>, Error> {
    let mut out: BTreeMap<String, Vec<MovedTag>> = BTreeMap::new();
    for row in store::registry::moves(&mut *state.conn()?, id)? {
        out.entry(row.tag.clone()).or_default().push(MovedTag::from(&row));
    }
    Ok(out)
}

/// One artifact the periodic sync tried, and how it went.
pub type DueSync = (String, Result<SyncReport, Error>);

/// Syncs every artifact whose `sync_interval` has passed since its last attempt; returns the
/// artifacts tried and how each went. Failures are recorded, never raised: the next tick retries.
pub fn sync_due(state: &AppState) -> Result<Vec<DueSync>, Error> {
    let artifacts = {
        let mut conn = state.conn()?;
        match state.catalog(&mut conn) {
            Ok((_, c)) => c.artifacts().to_vec(),
            Err(Error::Conflict(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        }
    };
    let now = state.clock.now();
    let caller = Caller::internal("registry-sync", format!("sync-{}", now.and_utc().timestamp()));
    let mut out = Vec::new();
    for a in artifacts {
        let Some(interval) = &a.sync_interval else { continue };
        let last = status(state, a.id.as_str())?.map(|s| s.last_attempt_at);
        let every = chrono::Duration::from_std(interval.to_duration()).unwrap_or(chrono::Duration::MAX);
        if last.is_some_and(|l| l + every > now) {
            continue;
        }
        let result = sync(state, &caller, a.id.as_str());
        out.push((a.id.to_string(), result));
    }
    Ok(out)
}

//! Publishing cluster configs to a registry: every new cluster revision becomes a Flux artifact
//! of its rendered YAML at `<publish-to>/<cluster>:rev-<n>`, and the channel tag (`live`) moves
//! to the cluster's newest one. Clusters then follow their config straight from the registry.
//!
//! The jobs are an outbox written in the same transaction as the revision, so a revision is
//! never lost to a crash or a registry outage: a background publisher pushes them, retries
//! failures with growing waits, and keeps the last error visible on the cluster.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime, Utc};

use super::{AppState, ClusterChange};
use crate::db::registry_rows::{NewPublishJobRow, PublishJobRow};
use crate::db::DbConnection;
use crate::error::Error;
use crate::registry::artifact::{pack_files, FluxArtifact, Provenance};
use crate::registry::Target;
use crate::store;

/// Where cluster configs go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishSettings {
    /// `oci://HOST/PREFIX`; each cluster gets the repository `PREFIX/<cluster>`.
    pub target: Target,
    /// The tag that follows each cluster's newest revision.
    pub channel: String,
}

pub const DEFAULT_CHANNEL: &str = "live";
/// Failed pushes wait 2^attempts seconds, at most this long, before the next try.
const MAX_BACKOFF_SECS: i64 = 300;
/// Jobs handled per publisher pass.
const BATCH: i64 = 50;

/// Queues a publish job for every revision `changes` stored; runs inside the write's transaction.
pub(super) fn enqueue(
    state: &AppState,
    conn: &mut DbConnection,
    changes: &[ClusterChange],
    now: NaiveDateTime,
) -> Result<(), Error> {
    let Some(settings) = state.publish_settings()? else {
        return Ok(());
    };
    for change in changes {
        let row = NewPublishJobRow {
            cluster: change.cluster.clone(),
            revision: change.to_revision,
            target: settings.target.url(),
            channel: settings.channel.clone(),
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        };
        store::registry::insert_publish_job(conn, &row)?;
    }
    Ok(())
}

/// The tag a revision is published under.
pub fn revision_tag(revision: i64) -> String {
    format!("rev-{revision}")
}

/// Pushes every job due at `now`; returns how many were published. A failure is recorded on
/// its job (retried later) and does not stop the others.
pub fn run_due(state: &AppState, now: NaiveDateTime) -> Result<usize, Error> {
    let Some(settings) = state.publish_settings()? else {
        return Ok(0);
    };
    let jobs = store::registry::due_publish_jobs(&mut *state.conn()?, now, BATCH)?;
    let mut published = 0;
    for job in jobs {
        match publish_one(state, &settings, &job) {
            Ok(digest) => {
                store::registry::publish_done(&mut *state.conn()?, job.id, &digest, Utc::now().naive_utc())?;
                published += 1;
            }
            Err(e) => {
                let wait = (1_i64 << job.attempts.clamp(0, 16)).min(MAX_BACKOFF_SECS);
                tracing::warn!(cluster = %job.cluster, revision = job.revision, attempt = job.attempts + 1,
                    error = %e, "publishing the cluster config failed; retrying in {wait}s");
                store::registry::publish_failed(
                    &mut *state.conn()?,
                    job.id,
                    &e.to_string(),
                    now.checked_add_signed(Duration::seconds(wait)).unwrap_or(now),
                )?;
            }
        }
    }
    Ok(published)
}

fn publish_one(state: &AppState, settings: &PublishSettings, job: &PublishJobRow) -> Result<String, Error> {
    let insecure = settings.target.insecure && job.target == settings.target.url();
    let base = Target::parse(&job.target, insecure)?;
    let target = base.child(&job.cluster);
    let (rendered, created_at, current) = {
        let mut conn = state.conn()?;
        let rendered = state.renders.get(&mut conn, &job.cluster, job.revision)?;
        let revision = store::revision(&mut conn, &job.cluster, job.revision)?.ok_or(Error::NotFound {
            kind: "revision",
            name: format!("{}@{}", job.cluster, job.revision),
        })?;
        let current = store::cluster(&mut conn, &job.cluster)?.map(|c| c.revision);
        (rendered, revision.created_at, current)
    };
    let mut files = BTreeMap::new();
    files.insert(format!("{}.yaml", job.cluster), rendered.yaml.to_vec());
    let provenance = Provenance {
        source: None,
        revision: Some(format!("{}@{}", job.cluster, revision_tag(job.revision))),
        // The revision's own time: publishing the same revision again gives the same digest.
        created: created_at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let artifact = FluxArtifact::new(pack_files(&files)?, &provenance);
    let registry = state.registry()?;
    let tag = revision_tag(job.revision);
    let digest = registry.push_flux(&target, &tag, &artifact)?;
    // Only the newest revision moves the channel: a late retry of an old one must not roll it back.
    if current == Some(job.revision) {
        registry.retag(&target, &tag, &job.channel)?;
    }
    Ok(digest)
}

/// One cluster revision's publication as a Flux artifact, as the service shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    pub revision: i64,
    /// `oci://HOST/PREFIX/<cluster>`
    pub repository: String,
    /// `rev-<n>`
    pub tag: String,
    /// The tag that follows the cluster's newest revision.
    pub channel: String,
    /// `pending` (not yet pushed, or failed and waiting for its retry) or `done`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// When the next attempt runs, while pending.
    pub next_attempt_at: Option<NaiveDateTime>,
    /// The pushed manifest's digest, once done.
    pub digest: Option<String>,
    pub created_at: NaiveDateTime,
    pub done_at: Option<NaiveDateTime>,
}

impl From<&PublishJobRow> for Publication {
    fn from(r: &PublishJobRow) -> Self {
        Publication {
            revision: r.revision,
            repository: format!("{}/{}", r.target, r.cluster),
            tag: revision_tag(r.revision),
            channel: r.channel.clone(),
            state: r.state.clone(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            next_attempt_at: (r.state == "pending").then_some(r.next_attempt_at),
            digest: r.digest.clone(),
            created_at: r.created_at,
            done_at: r.done_at,
        }
    }
}

/// A cluster's publications, newest first.
pub fn jobs(state: &AppState, cluster: &str) -> Result<Vec<Publication>, Error> {
    let mut conn = state.conn()?;
    if store::cluster(&mut conn, cluster)?.is_none() {
        return Err(Error::NotFound {
            kind: "cluster",
            name: cluster.to_owned(),
        });
    }
    Ok(store::registry::publish_jobs_of(&mut conn, cluster)?
        .iter()
        .map(Publication::from)
        .collect())
}

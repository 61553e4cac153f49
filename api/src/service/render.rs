//! Rendered revisions, cached: a revision never changes, so it is rendered once and served
//! from memory after that.

use std::collections::HashMap;

use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use catalog::ids::{ArtifactId, Digest};
use catalog::render::{render, DigestMode, RenderOptions};
use catalog::resolve::EffectiveConfig;
use catalog::OciTag;

use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{
    self,
    effective::{sha256_hex, EffectiveRecord},
};

/// One revision's renders, with the ETag of each body.
#[derive(Debug)]
pub struct Rendered {
    pub revision: i64,
    /// Bodies as shared bytes: serving one is a reference count, not a copy.
    pub yaml: Bytes,
    pub yaml_etag: String,
    pub json: Bytes,
    pub json_etag: String,
    pub inputs: Bytes,
    pub inputs_etag: String,
    /// How many inputs `inputs` holds: one per component.
    pub input_count: usize,
}

/// Renders by (cluster, revision); bounded so a large fleet cannot exhaust memory.
type Entries = HashMap<(String, i64), Arc<Rendered>>;

/// How long a cluster's current revision is trusted without asking the database. Writes made
/// by this process forget it at once; a write by another replica shows after at most this long.
const CURRENT_FOR: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct RenderCache {
    entries: Mutex<Entries>,
    /// cluster → (current revision, when it was read).
    current: Mutex<HashMap<String, (i64, Instant)>>,
}

const CACHE_LIMIT: usize = 20_000;

fn etag(body: &str) -> String {
    format!("\"{}\"", &sha256_hex(body.as_bytes())[..32])
}

impl RenderCache {
    /// The render of `cluster` at `revision`, from the cache or rendered now.
    pub fn get(&self, conn: &mut DbConnection, cluster: &str, revision: i64) -> Result<Arc<Rendered>, Error> {
        let key = (cluster.to_owned(), revision);
        if let Some(hit) = self.lock()?.get(&key) {
            return Ok(hit.clone());
        }
        let row = store::revision(conn, cluster, revision)?.ok_or(Error::NotFound {
            kind: "revision",
            name: format!("{cluster}@{revision}"),
        })?;
        let config = EffectiveConfig::try_from(&EffectiveRecord::decode(&row.effective)?)?;
        let digests = if config.pin_digest {
            digest_map(conn)?
        } else {
            HashMap::new()
        };
        let opts = RenderOptions {
            revision: Some(revision as u64),
            digests: &digests,
            mode: DigestMode::Require,
        };
        let rendering = render(&config, &opts).map_err(|e| match e {
            catalog::Error::DigestUnresolved { .. } => Error::Conflict(format!(
                "{e}; sync the artifact from its registry (POST /api/v1/artifacts/{{id}}/sync) or register the tag \
                 with its digest (POST /api/v1/artifacts/{{id}}/tags) before this cluster can be served: \
                 a pinned tier is never served a bare tag"
            )),
            other => Error::Catalog(other),
        })?;
        let (yaml, json, inputs) = (rendering.to_yaml(), rendering.to_json(), rendering.inputs_json()?);
        if config.components.len() > catalog::render::RSIP_DEFAULT_LIMIT {
            // Logged once per revision (renders are cached); the response says it on every fetch.
            tracing::warn!(
                cluster,
                revision,
                inputs = config.components.len(),
                limit = catalog::render::RSIP_DEFAULT_LIMIT,
                "more inputs than a ResourceSetInputProvider keeps by default: raise its spec.filter.limit"
            );
        }
        let rendered = Arc::new(Rendered {
            revision,
            yaml_etag: etag(&yaml),
            json_etag: etag(&json),
            inputs_etag: etag(&inputs),
            yaml: Bytes::from(yaml),
            json: Bytes::from(json),
            inputs: Bytes::from(inputs),
            input_count: config.components.len(),
        });
        let mut entries = self.lock()?;
        if entries.len() >= CACHE_LIMIT {
            entries.clear();
        }
        entries.insert(key, rendered.clone());
        Ok(rendered)
    }

    /// The current render when both the revision and its render are in memory: no database,
    /// no blocking thread. Clusters polling an unchanged config are served from here.
    pub fn current(&self, cluster: &str) -> Option<Arc<Rendered>> {
        let revision = {
            let current = self.current.lock().ok()?;
            let (revision, read_at) = current.get(cluster)?;
            (read_at.elapsed() < CURRENT_FOR).then_some(*revision)?
        };
        self.entries.lock().ok()?.get(&(cluster.to_owned(), revision)).cloned()
    }

    /// Records a cluster's current revision as just read from the database.
    pub fn remember_current(&self, cluster: &str, revision: i64) {
        if let Ok(mut current) = self.current.lock() {
            if current.len() >= CACHE_LIMIT {
                current.clear();
            }
            current.insert(cluster.to_owned(), (revision, Instant::now()));
        }
    }

    /// Forgets every current revision: called after each committed write.
    pub fn forget_current(&self) {
        if let Ok(mut current) = self.current.lock() {
            current.clear();
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, Error> {
        self.entries
            .lock()
            .map_err(|_| Error::Internal("the render cache lock was poisoned".into()))
    }
}

pub(super) fn digest_map(conn: &mut DbConnection) -> Result<HashMap<(ArtifactId, OciTag), Digest>, Error> {
    let mut map = HashMap::new();
    for row in store::all_tags(conn)? {
        let Some(digest) = row.digest else { continue };
        if let (Ok(a), Ok(t), Ok(d)) = (
            ArtifactId::parse(&row.artifact_id),
            OciTag::parse(&row.tag),
            Digest::parse(&digest),
        ) {
            map.insert((a, t), d);
        }
    }
    Ok(map)
}

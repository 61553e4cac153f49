//! Rendered revisions, cached: a revision never changes, so it is rendered once and served
//! from memory after that, within a budget of bytes (`--render-cache-bytes`): a fleet whose
//! renders do not all fit keeps the most recently rendered, and renders the others again on
//! demand (a few milliseconds each).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use std::sync::{Arc, Mutex, RwLock, Weak};
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

impl Rendered {
    /// The bytes this render holds in memory, bodies and tags.
    fn size(&self) -> usize {
        self.yaml.len()
            + self.json.len()
            + self.inputs.len()
            + self.yaml_etag.len()
            + self.json_etag.len()
            + self.inputs_etag.len()
            + std::mem::size_of::<Rendered>()
    }
}

/// Renders by (cluster, revision), at most `budget` bytes of them; the oldest go first.
#[derive(Default)]
struct Entries {
    map: HashMap<(String, i64), Arc<Rendered>>,
    /// Keys in the order they came in.
    order: VecDeque<(String, i64)>,
    bytes: usize,
}

impl Entries {
    fn insert(&mut self, key: (String, i64), rendered: Arc<Rendered>, budget: usize) {
        let size = rendered.size() + key.0.len();
        if size > budget || self.map.contains_key(&key) {
            return;
        }
        while self.bytes.saturating_add(size) > budget {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(gone) = self.map.remove(&old) {
                self.bytes = self.bytes.saturating_sub(gone.size() + old.0.len());
            }
        }
        self.bytes = self.bytes.saturating_add(size);
        self.order.push_back(key.clone());
        self.map.insert(key, rendered);
    }
}

/// The default budget: about 1,400 renders of a 50-component cluster.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How long a cluster's current revision is trusted without asking the database. Writes made
/// by this process forget it at once; a write by another replica shows after at most this long.
const CURRENT_FOR: Duration = Duration::from_secs(1);

pub struct RenderCache {
    entries: Mutex<Entries>,
    budget: AtomicUsize,
    /// What the cached renders hold now, for the metrics.
    held: AtomicUsize,
    /// cluster → its current render and when its revision was read. Weak: a render the byte
    /// budget dropped is not kept alive from here, and is then read and rendered again.
    current: RwLock<HashMap<String, (Weak<Rendered>, Instant)>>,
}

impl Default for RenderCache {
    fn default() -> Self {
        RenderCache {
            entries: Mutex::default(),
            budget: AtomicUsize::new(DEFAULT_CACHE_BYTES),
            held: AtomicUsize::new(0),
            current: RwLock::default(),
        }
    }
}

/// Current revisions remembered at most (a few dozen bytes each).
const CURRENT_LIMIT: usize = 100_000;

fn etag(body: &str) -> String {
    format!("\"{}\"", &sha256_hex(body.as_bytes())[..32])
}

impl RenderCache {
    /// The render of `cluster` at `revision`, from the cache or rendered now.
    pub fn get(&self, conn: &mut DbConnection, cluster: &str, revision: i64) -> Result<Arc<Rendered>, Error> {
        let key = (cluster.to_owned(), revision);
        if let Some(hit) = self.lock()?.map.get(&key) {
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
        entries.insert(key, rendered.clone(), self.budget.load(Ordering::Relaxed));
        self.held.store(entries.bytes, Ordering::Relaxed);
        Ok(rendered)
    }

    /// The current render when both the revision and its render are in memory: no database,
    /// no blocking thread, one shared lock and no allocation. Clusters polling an unchanged
    /// config are served from here.
    pub fn current(&self, cluster: &str) -> Option<Arc<Rendered>> {
        let current = self.current.read().ok()?;
        let (rendered, read_at) = current.get(cluster)?;
        (read_at.elapsed() < CURRENT_FOR).then(|| rendered.upgrade())?
    }

    /// Sets the budget in bytes; renders over it are dropped, oldest first, as new ones come.
    pub fn set_budget(&self, bytes: usize) {
        self.budget.store(bytes, Ordering::Relaxed);
    }

    /// (bytes held, budget).
    pub fn usage(&self) -> (usize, usize) {
        (self.held.load(Ordering::Relaxed), self.budget.load(Ordering::Relaxed))
    }

    /// Records the render of a cluster's current revision, as just read from the database.
    pub fn remember_current(&self, cluster: &str, rendered: &Arc<Rendered>) {
        if let Ok(mut current) = self.current.write() {
            if current.len() >= CURRENT_LIMIT {
                current.clear();
            }
            current.insert(cluster.to_owned(), (Arc::downgrade(rendered), Instant::now()));
        }
    }

    /// Forgets every current revision: called after each committed write.
    pub fn forget_current(&self) {
        if let Ok(mut current) = self.current.write() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(revision: i64, body: usize) -> Arc<Rendered> {
        Arc::new(Rendered {
            revision,
            yaml: Bytes::from(vec![b'a'; body]),
            yaml_etag: String::new(),
            json: Bytes::new(),
            json_etag: String::new(),
            inputs: Bytes::new(),
            inputs_etag: String::new(),
            input_count: 0,
        })
    }

    #[test]
    fn the_cache_keeps_the_newest_renders_within_its_byte_budget() {
        let one = rendered(1, 1000).size() + 2;
        let mut entries = Entries::default();
        for (i, name) in ["c1", "c2", "c3"].iter().enumerate() {
            entries.insert((name.to_string(), 1), rendered(i as i64, 1000), one * 2);
        }
        let mut kept: Vec<&str> = entries.map.keys().map(|(n, _)| n.as_str()).collect();
        kept.sort_unstable();
        assert_eq!(kept, vec!["c2", "c3"]);
        assert_eq!(entries.bytes, one * 2);
    }

    #[test]
    fn a_remembered_current_render_is_served_until_forgotten_or_dropped() {
        let cache = RenderCache::default();
        let kept = rendered(7, 10);
        cache.remember_current("prod-eu-1", &kept);
        assert_eq!(cache.current("prod-eu-1").map(|r| r.revision), Some(7));
        assert!(cache.current("prod-eu-2").is_none());
        cache.forget_current();
        assert!(cache.current("prod-eu-1").is_none());
        cache.remember_current("prod-eu-1", &rendered(8, 10));
        assert!(
            cache.current("prod-eu-1").is_none(),
            "a render nobody holds is read again"
        );
    }

    #[test]
    fn a_render_larger_than_the_whole_budget_is_served_but_not_kept() {
        let mut entries = Entries::default();
        entries.insert(("c1".into(), 1), rendered(1, 1000), 500);
        assert!(entries.map.is_empty());
        assert_eq!(entries.bytes, 0);
    }
}

//! The service's core: the shared state, reading the current catalog, and the one way to write.
//!
//! Every write runs through [`AppState::write`]: one transaction that takes the write lock,
//! applies the change, re-resolves every cluster the change can affect, stores a new revision
//! for each whose effective config changed, and appends the audit entries. A dry run does all
//! of it and rolls back.

mod admission;
pub mod artifacts;
pub mod assignments;
pub mod clock;
mod cluster_model;
pub mod clusters;
pub mod components;
pub mod diff;
pub mod domain;
mod engine;
pub mod evidence;
pub mod expiry;
mod findings;
pub mod fleet;
pub mod fleet_view;
pub mod history;
pub mod holds;
pub mod hotfixes;
pub mod observed;
pub mod overrides;
pub mod paths;
mod phases;
mod plan;
mod promotion_retag;
pub mod promotions;
pub mod publish;
pub mod releases;
mod render;
pub mod rollback;
pub mod rollouts;
pub mod seed;
mod shapes;
pub mod sync;
pub mod tiers;
pub mod time;
pub mod tokens;
pub mod verify;
pub mod version;
pub mod windows;

use std::sync::{Arc, Mutex};

use catalog::validate::load_value;
use catalog::Catalog;
use serde::Serialize;
use serde_json::Value;

use crate::db::models::CatalogRevisionRow;
use crate::db::{DbConnection, Pool, PooledConnection};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::registry::{Registry, RegistrySettings};
use crate::store;
pub use engine::{Ctx, Outcome, WriteFault};
pub use plan::{ClusterChange, ComponentChange, TagPath};
pub use render::{RenderCache, Rendered, DEFAULT_CACHE_BYTES};
pub use version::{version_of, Expected};

/// Who is asking, for the audit log and for the rules that depend on who asks.
#[derive(Clone, Debug)]
pub struct Caller {
    pub actor: String,
    pub request_id: String,
    /// The token's role; `None` for the service's own writes (runner, expiry, start-up files).
    pub role: Option<tokens::Role>,
    /// Why an admin skips the evidence and change-window rules for this one write; checked
    /// (admin only) where the request enters, and audited by the write that uses it.
    pub break_glass: Option<String>,
}

impl Caller {
    /// The service itself acting (a background task, start-up, the CLI on the database).
    pub fn internal(actor: &str, request_id: impl Into<String>) -> Caller {
        Caller {
            actor: actor.to_owned(),
            request_id: request_id.into(),
            role: None,
            break_glass: None,
        }
    }
}

pub struct AppState {
    pub pool: Pool,
    catalog: Mutex<Option<(i64, Arc<Catalog>)>>,
    pub renders: RenderCache,
    pub metrics: Metrics,
    pub verified: tokens::VerifiedTokens,
    /// What clusters report back, and the caches the receiver and drift reports read through.
    pub observed: observed::Observed,
    /// Numbers request ids for callers that send no `X-Request-Id`.
    pub requests: std::sync::atomic::AtomicU64,
    registry_settings: Mutex<RegistrySettings>,
    /// Built on first use, so a service that never talks to a registry starts no runtime for it.
    registry: Mutex<Option<Arc<Registry>>>,
    /// Where new cluster revisions are published, when they are.
    publish: Mutex<Option<publish::PublishSettings>>,
    /// Called inside every write's transaction; `None` but in tests.
    write_fault: Mutex<Option<WriteFault>>,
    /// The time every rule reads.
    pub clock: clock::Clock,
}

impl AppState {
    pub fn new(pool: Pool) -> Self {
        AppState {
            pool,
            catalog: Mutex::new(None),
            renders: RenderCache::default(),
            metrics: Metrics::default(),
            verified: tokens::VerifiedTokens::default(),
            observed: observed::Observed::default(),
            requests: std::sync::atomic::AtomicU64::new(0),
            registry_settings: Mutex::new(RegistrySettings::default()),
            registry: Mutex::new(None),
            publish: Mutex::new(None),
            write_fault: Mutex::new(None),
            clock: clock::Clock::default(),
        }
    }

    /// Makes every later write call `fault` inside its transaction (a test hook: a panic or a
    /// failure there is what a bug inside a write would do); `None` removes it.
    pub fn set_write_fault(&self, fault: Option<WriteFault>) -> Result<(), Error> {
        *self.write_fault.lock().map_err(poisoned)? = fault;
        Ok(())
    }

    fn write_fault(&self) -> Result<Option<WriteFault>, Error> {
        Ok(self.write_fault.lock().map_err(poisoned)?.clone())
    }

    /// How registries are reached from now on (credentials, timeouts, size bound).
    pub fn set_registry_settings(&self, settings: RegistrySettings) -> Result<(), Error> {
        *self.registry_settings.lock().map_err(poisoned)? = settings;
        *self.registry.lock().map_err(poisoned)? = None;
        Ok(())
    }

    /// Publish every new cluster revision from now on (`None`: stop).
    pub fn set_publish_settings(&self, settings: Option<publish::PublishSettings>) -> Result<(), Error> {
        *self.publish.lock().map_err(poisoned)? = settings;
        Ok(())
    }

    pub fn publish_settings(&self) -> Result<Option<publish::PublishSettings>, Error> {
        Ok(self.publish.lock().map_err(poisoned)?.clone())
    }

    /// Whether writes check that a build holds the paths they deploy.
    pub fn verifies_paths(&self) -> bool {
        self.registry_settings.lock().map(|s| s.verify_paths).unwrap_or(false)
    }

    /// The registry client, made on first use with the current settings.
    pub fn registry(&self) -> Result<Arc<Registry>, Error> {
        let mut slot = self.registry.lock().map_err(poisoned)?;
        if let Some(r) = slot.as_ref() {
            return Ok(r.clone());
        }
        let settings = self.registry_settings.lock().map_err(poisoned)?.clone();
        let made = Arc::new(Registry::new(settings)?);
        *slot = Some(made.clone());
        Ok(made)
    }

    pub fn conn(&self) -> Result<PooledConnection, Error> {
        Ok(self.pool.get()?)
    }

    /// The current catalog and its revision.
    pub fn catalog(&self, conn: &mut DbConnection) -> Result<(i64, Arc<Catalog>), Error> {
        let Some(revision) = store::current_catalog_revision(conn)? else {
            return Err(Error::Conflict(
                "no catalog is loaded yet: import one with `platform-catalog import --catalog FILE`".into(),
            ));
        };
        if let Some((cached, catalog)) = self.catalog.lock().map_err(poisoned)?.as_ref() {
            if *cached == revision {
                return Ok((revision, catalog.clone()));
            }
        }
        let row =
            store::current_catalog(conn)?.ok_or_else(|| Error::Internal("the catalog revision vanished".into()))?;
        let catalog = Arc::new(parse_stored_catalog(&row)?);
        *self.catalog.lock().map_err(poisoned)? = Some((row.revision, catalog.clone()));
        Ok((row.revision, catalog))
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal("a cache lock was poisoned by a panic".into())
}

fn parse_stored_catalog(row: &CatalogRevisionRow) -> Result<Catalog, Error> {
    let doc: Value = serde_json::from_str(&row.document)
        .map_err(|e| Error::Internal(format!("catalog revision {} is not readable: {e}", row.revision)))?;
    load_value(&format!("catalog revision {}", row.revision), doc)
        .map(|l| l.catalog)
        .map_err(|r| Error::Internal(format!("catalog revision {} no longer validates:\n{r}", row.revision)))
}

/// JSON text of a value we built ourselves (audit before/after, stored JSON columns). Plain
/// structs, maps and strings always serialise; a failure would be a bug, so it is shown, not hidden.
pub(crate) fn json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"unserializable\": {:?}}}", e.to_string()))
}

/// The current render of a cluster.
pub fn current_render(state: &AppState, cluster: &str) -> Result<Arc<Rendered>, Error> {
    let mut conn = state.conn()?;
    let row = store::cluster(&mut conn, cluster)?.ok_or(Error::NotFound {
        kind: "cluster",
        name: cluster.to_owned(),
    })?;
    let rendered = state.renders.get(&mut conn, cluster, row.revision)?;
    state.renders.remember_current(cluster, &rendered);
    let (held, budget) = state.renders.usage();
    state.metrics.render_cache(held, budget);
    Ok(rendered)
}

/// A cluster's effective config at its current revision (or at `revision`), as stored.
pub fn effective(
    state: &AppState,
    cluster: &str,
    revision: Option<i64>,
) -> Result<(i64, store::effective::EffectiveRecord), Error> {
    let mut conn = state.conn()?;
    let row = store::cluster(&mut conn, cluster)?.ok_or(Error::NotFound {
        kind: "cluster",
        name: cluster.to_owned(),
    })?;
    let n = revision.unwrap_or(row.revision);
    let rev = store::revision(&mut conn, cluster, n)?.ok_or(Error::NotFound {
        kind: "revision",
        name: format!("{cluster}@{n}"),
    })?;
    Ok((n, store::effective::EffectiveRecord::decode(&rev.effective)?))
}

/// Loads a first catalog (or a new revision of it) outside any request: `import` and the
/// start-up seed. The same document again changes nothing.
pub fn import_catalog(state: &AppState, caller: &Caller, document: Value, source: &str) -> Result<Outcome<i64>, Error> {
    let loaded = load_value(source, document).map_err(Error::InvalidCatalog)?;
    let new_doc = loaded.catalog.to_document();
    state
        .write(caller, false, "catalog import", |ctx| {
            import_catalog_in(ctx, new_doc, source)?;
            Ok(ctx.catalog_revision + 1)
        })
        .map(|mut outcome| {
            outcome.value = outcome.catalog_revision;
            outcome
        })
}

/// Replaces the catalog inside a write unless it is the same document; refuses a change of
/// what an active rollout moves, as a release or a component change would be refused.
pub(crate) fn import_catalog_in(ctx: &mut Ctx<'_>, new_doc: Value, source: &str) -> Result<(), Error> {
    if ctx.has_catalog() && ctx.catalog().to_document() == new_doc {
        return Ok(());
    }
    let before = ctx.has_catalog().then(|| ctx.catalog().clone());
    ctx.set_catalog(new_doc.clone(), source)?;
    if let Some(before) = &before {
        let moved = moved_defaults(before, ctx.catalog());
        rollouts::refuse_if_moving(ctx.conn, moved.iter().map(String::as_str), "changing its default")?;
    }
    let before_doc = before.map(|c| c.to_document());
    ctx.audit("catalog.import", "catalog", before_doc.as_ref(), Some(&new_doc));
    Ok(())
}

/// Components whose default tag or path differs between two catalogs (or that went).
fn moved_defaults(before: &Catalog, after: &Catalog) -> Vec<String> {
    before
        .components()
        .iter()
        .filter(|old| match after.component(old.id.as_str()) {
            None => true,
            Some(new) => before.default_tag(old) != after.default_tag(new) || old.component_path != new.component_path,
        })
        .map(|c| c.id.to_string())
        .collect()
}

/// RFC 7396 JSON merge patch: `null` removes a field, objects merge, anything else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

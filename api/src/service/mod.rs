//! The service's core: the shared state, reading the current catalog, and the one way to write.
//!
//! Every write runs through [`AppState::write`]: one transaction that takes the write lock,
//! applies the change, re-resolves every cluster the change can affect, stores a new revision
//! for each whose effective config changed, and appends the audit entries. A dry run does all
//! of it and rolls back.

pub mod artifacts;
pub mod clusters;
pub mod components;
mod diff;
pub mod domain;
pub mod expiry;
pub mod fleet;
pub mod history;
pub mod holds;
pub mod hotfixes;
pub mod observed;
pub mod overrides;
mod plan;
pub mod publish;
pub mod releases;
mod render;
pub mod rollback;
pub mod rollouts;
pub mod sync;
pub mod tiers;
pub mod tokens;
pub mod verify;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use catalog::validate::load_value;
use catalog::Catalog;
use chrono::{NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::db::models::{CatalogRevisionRow, NewAuditRow};
use crate::db::{self, DbConnection, Pool, PooledConnection};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::registry::{Registry, RegistrySettings};
use crate::store::{self, effective::sha256_hex};
pub use plan::{ClusterChange, ComponentChange, TagPath};
pub use render::{RenderCache, Rendered};

/// Who is asking, for the audit log.
#[derive(Clone, Debug)]
pub struct Caller {
    pub actor: String,
    pub request_id: String,
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
        }
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

    /// Runs a write: see the module documentation.
    pub fn write<T>(
        &self,
        caller: &Caller,
        dry_run: bool,
        reason: &str,
        change: impl FnOnce(&mut Ctx<'_>) -> Result<T, Error>,
    ) -> Result<Outcome<T>, Error> {
        let mut conn = self.conn()?;
        let mut kept: Option<Outcome<T>> = None;
        let result = db::write_transaction(&mut conn, |conn| {
            let (catalog_revision, catalog) = self.catalog(conn)?;
            let mut ctx = Ctx {
                conn,
                catalog,
                catalog_revision,
                new_catalog: None,
                caller,
                now: Utc::now().naive_utc(),
                touched: Touched::Some(BTreeSet::new()),
                audit: Vec::new(),
            };
            let value = change(&mut ctx)?;
            ctx.commit_catalog()?;
            let changes = plan::recompute(&mut ctx, reason, !dry_run)?;
            if !dry_run {
                publish::enqueue(self, ctx.conn, &changes, ctx.now)?;
            }
            for row in &ctx.audit {
                store::insert_audit(ctx.conn, row)?;
            }
            kept = Some(Outcome {
                value,
                changes,
                catalog_revision: ctx.catalog_revision,
                dry_run,
            });
            if dry_run {
                return Err(Error::RolledBack);
            }
            Ok(())
        });
        if result.is_ok() {
            self.renders.forget_current();
        }
        match (result, kept) {
            (Ok(()) | Err(Error::RolledBack), Some(outcome)) => Ok(outcome),
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(Error::Internal("a write finished without an outcome".into())),
        }
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

/// What a write did: its own result, the clusters whose effective config changed, and whether
/// it was only a plan.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub changes: Vec<ClusterChange>,
    pub catalog_revision: i64,
    pub dry_run: bool,
}

enum Touched {
    All,
    Some(BTreeSet<String>),
}

/// A write in progress: the connection inside the transaction, the catalog as it stands, and
/// what the write has touched so far.
pub struct Ctx<'a> {
    pub conn: &'a mut DbConnection,
    catalog: Arc<Catalog>,
    catalog_revision: i64,
    new_catalog: Option<(Catalog, String)>,
    caller: &'a Caller,
    pub now: NaiveDateTime,
    touched: Touched,
    audit: Vec<NewAuditRow>,
}

impl Ctx<'_> {
    /// The catalog as this write sees it: changed if the write changed it.
    pub fn catalog(&self) -> &Catalog {
        self.new_catalog.as_ref().map(|(c, _)| c).unwrap_or(&self.catalog)
    }

    pub fn caller(&self) -> &Caller {
        self.caller
    }

    /// Replaces the catalog with `document`, validated in full; every cluster is re-resolved.
    pub fn set_catalog(&mut self, document: Value, source: &str) -> Result<&Catalog, Error> {
        let loaded = load_value("catalog", document).map_err(Error::InvalidCatalog)?;
        self.new_catalog = Some((loaded.catalog, source.to_owned()));
        self.touched = Touched::All;
        Ok(self.catalog())
    }

    /// Marks a cluster for re-resolution at the end of the write.
    pub fn touch(&mut self, cluster: &str) {
        if let Touched::Some(set) = &mut self.touched {
            set.insert(cluster.to_owned());
        }
    }

    pub fn touch_all(&mut self) {
        self.touched = Touched::All;
    }

    /// Appends an audit entry; `before` and `after` are the resource as the API shows it.
    pub fn audit(
        &mut self,
        action: &str,
        target: &str,
        before: Option<&impl Serialize>,
        after: Option<&impl Serialize>,
    ) {
        self.audit.push(NewAuditRow {
            at: self.now,
            actor: self.caller.actor.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            before: before.map(json_text),
            after: after.map(json_text),
            request_id: self.caller.request_id.clone(),
        });
    }

    fn commit_catalog(&mut self) -> Result<(), Error> {
        let Some((catalog, source)) = &self.new_catalog else {
            return Ok(());
        };
        let document = catalog.to_document().to_string();
        let row = CatalogRevisionRow {
            revision: self.catalog_revision + 1,
            sha256: sha256_hex(document.as_bytes()),
            document,
            source: source.clone(),
            actor: self.caller.actor.clone(),
            created_at: self.now,
        };
        store::insert_catalog(self.conn, &row)?;
        self.catalog_revision = row.revision;
        Ok(())
    }
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
    state.renders.remember_current(cluster, row.revision);
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

/// Loads a first catalog (or a new revision of it) outside any request: `import` and `serve --catalog`.
pub fn import_catalog(state: &AppState, caller: &Caller, document: Value, source: &str) -> Result<Outcome<i64>, Error> {
    let loaded = load_value(source, document).map_err(Error::InvalidCatalog)?;
    let mut conn = state.conn()?;
    let existing = store::current_catalog(&mut conn)?;
    let new_doc = loaded.catalog.to_document();
    if let Some(row) = &existing {
        if row.sha256 == sha256_hex(new_doc.to_string().as_bytes()) {
            return Ok(Outcome {
                value: row.revision,
                changes: Vec::new(),
                catalog_revision: row.revision,
                dry_run: false,
            });
        }
    } else {
        // The very first catalog: there is nothing for `write` to start from yet.
        db::write_transaction(&mut conn, |conn| {
            let document = new_doc.to_string();
            let row = CatalogRevisionRow {
                revision: 1,
                sha256: sha256_hex(document.as_bytes()),
                document,
                source: source.to_owned(),
                actor: caller.actor.clone(),
                created_at: Utc::now().naive_utc(),
            };
            store::insert_catalog(conn, &row)?;
            store::insert_audit(
                conn,
                &NewAuditRow {
                    at: row.created_at,
                    actor: caller.actor.clone(),
                    action: "catalog.import".into(),
                    target: "catalog".into(),
                    before: None,
                    after: Some(row.document.clone()),
                    request_id: caller.request_id.clone(),
                },
            )?;
            Ok::<_, Error>(())
        })?;
        return Ok(Outcome {
            value: 1,
            changes: Vec::new(),
            catalog_revision: 1,
            dry_run: false,
        });
    }
    drop(conn);
    state.write(caller, false, "catalog import", |ctx| {
        let before = ctx.catalog().to_document();
        ctx.set_catalog(new_doc.clone(), source)?;
        ctx.audit("catalog.import", "catalog", Some(&before), Some(&new_doc));
        Ok(ctx.catalog_revision + 1)
    })
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

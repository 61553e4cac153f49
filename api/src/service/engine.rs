//! The one write engine: every change to stored state runs through [`AppState::write`].
//!
//! One transaction takes the write lock, applies the change, re-resolves every cluster the
//! change can affect, checks that each cluster whose config changed may run what it now runs
//! (`admission`, and the build's paths when registry checks are on), stores a new revision for
//! each, queues them for publishing, and appends the audit entries. A dry run does all of it
//! and rolls back. An error or a panic anywhere inside rolls the whole write back, and the
//! connection goes back to the pool clean (see `db::write_transaction`).

use std::collections::BTreeSet;
use std::sync::Arc;

use catalog::Catalog;
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::Value;

use super::phases::Phases;
use super::{json_text, plan, publish, AppState, Caller, ClusterChange};
use crate::db::models::{CatalogRevisionRow, NewAuditRow};
use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::store::{self, effective::sha256_hex};

/// Writes changing more clusters than this log where their time went.
const LOG_PHASES_FROM: usize = 100;

/// A hook called inside every write's transaction, after the change and before anything is
/// committed, with the write's reason. Tests use it to make a write fail (or panic) midway.
pub type WriteFault = Arc<dyn Fn(&str) + Send + Sync>;

impl AppState {
    /// Runs a write: see the module documentation. `reason` is what the new cluster revisions
    /// say about why they exist.
    pub fn write<T>(
        &self,
        caller: &Caller,
        dry_run: bool,
        reason: &str,
        change: impl FnOnce(&mut Ctx<'_>) -> Result<T, Error>,
    ) -> Result<Outcome<T>, Error> {
        let mut phases = Phases::default();
        let mut conn = self.conn()?;
        let mut kept: Option<Outcome<T>> = None;
        let fault = self.write_fault()?;
        let result = db::write_transaction(&mut conn, |conn| {
            let (catalog_revision, catalog) = self.catalog_or_empty(conn)?;
            let mut ctx = Ctx {
                conn,
                catalog,
                catalog_revision,
                new_catalog: None,
                caller,
                now: self.clock.now(),
                touched: Touched::Some(BTreeSet::new()),
                audit: Vec::new(),
                carried_break_glass: None,
            };
            phases.mark("lock and catalog");
            let value = change(&mut ctx)?;
            if let Some(fault) = &fault {
                fault(reason);
            }
            ctx.commit_catalog()?;
            phases.mark("change");
            let changes = plan::recompute(&mut ctx, reason, !dry_run, &mut phases)?;
            if self.verifies_paths() {
                super::verify::check_changes(self, &mut ctx, &changes)?;
                phases.mark("verify paths");
            }
            if !dry_run {
                publish::enqueue(self, ctx.conn, &changes, ctx.now)?;
                phases.mark("outbox");
            }
            for row in &ctx.audit {
                store::insert_audit(ctx.conn, row, &concerned(&row.target, &changes))?;
            }
            phases.mark("audit");
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
        phases.mark("commit");
        if result.is_ok() {
            self.renders.forget_current();
            if let Some(outcome) = &kept {
                self.remember_desired(&outcome.changes);
            }
            phases.mark("cache refresh");
        }
        if kept.as_ref().is_some_and(|k| k.changes.len() > LOG_PHASES_FROM) {
            tracing::info!(reason, clusters = kept.as_ref().map_or(0, |k| k.changes.len()), phases = %phases.summary(), "large write");
        }
        match (result, kept) {
            (Ok(()) | Err(Error::RolledBack), Some(outcome)) => Ok(outcome),
            (Err(e), _) => Err(e),
            (Ok(()), None) => Err(Error::Internal("a write finished without an outcome".into())),
        }
    }

    /// Hands drift what each changed cluster now wants, so its next report reads nothing back.
    fn remember_desired(&self, changes: &[ClusterChange]) {
        let wanted = changes
            .iter()
            .map(|c| (c.cluster.as_str(), c.to_revision, c.desired.clone()));
        if let Err(e) = self.observed.views.remember_all(wanted) {
            tracing::warn!(error = %e, "drift's cache of desired components was not refreshed");
        }
    }

    /// The current catalog, or an empty one (revision 0) before the first is loaded: writes
    /// that need no catalog (tokens, the first import) run before there is one.
    fn catalog_or_empty(&self, conn: &mut DbConnection) -> Result<(i64, Arc<Catalog>), Error> {
        match store::current_catalog_revision(conn)? {
            Some(_) => self.catalog(conn),
            None => Ok((0, Arc::new(Catalog::empty()))),
        }
    }
}

/// The clusters an audit entry is filed under: the cluster its target names (`cluster/X`,
/// `cluster/X/components/Y`), else every cluster whose effective config the write changed (a
/// release, a rollout step, a catalog or tier change).
fn concerned<'a>(target: &'a str, changes: &'a [ClusterChange]) -> Vec<&'a str> {
    match target.strip_prefix("cluster/") {
        Some(rest) => vec![rest.split('/').next().unwrap_or(rest)],
        None => changes.iter().map(|c| c.cluster.as_str()).collect(),
    }
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

pub(super) enum Touched {
    All,
    Some(BTreeSet<String>),
}

/// A write in progress: the connection inside the transaction, the catalog as it stands, and
/// what the write has touched so far.
pub struct Ctx<'a> {
    pub conn: &'a mut DbConnection,
    catalog: Arc<Catalog>,
    pub(super) catalog_revision: i64,
    new_catalog: Option<(Catalog, String)>,
    caller: &'a Caller,
    pub now: NaiveDateTime,
    pub(super) touched: Touched,
    audit: Vec<NewAuditRow>,
    /// A break-glass reason the write carries for something created with one (a rollout's
    /// later steps), when the caller gave none.
    carried_break_glass: Option<String>,
}

impl Ctx<'_> {
    /// The catalog as this write sees it: changed if the write changed it.
    pub fn catalog(&self) -> &Catalog {
        self.new_catalog.as_ref().map(|(c, _)| c).unwrap_or(&self.catalog)
    }

    /// Whether a catalog was loaded before this write (or this write loads the first one).
    pub fn has_catalog(&self) -> bool {
        self.catalog_revision > 0 || self.new_catalog.is_some()
    }

    pub fn caller(&self) -> &Caller {
        self.caller
    }

    /// The break-glass reason this write applies with: the caller's, else one it carries.
    pub fn break_glass(&self) -> Option<&str> {
        (self.caller.break_glass.as_deref()).or(self.carried_break_glass.as_deref())
    }

    /// Applies the rest of this write with the break-glass reason something was created with.
    pub(crate) fn carry_break_glass(&mut self, reason: &str) {
        self.carried_break_glass = Some(reason.to_owned());
    }

    /// Replaces the catalog with `document`, validated in full; every cluster is re-resolved.
    pub fn set_catalog(&mut self, document: Value, source: &str) -> Result<&Catalog, Error> {
        let loaded = catalog::validate::load_value("catalog", document).map_err(Error::InvalidCatalog)?;
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

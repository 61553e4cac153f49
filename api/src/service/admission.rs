//! The one rule for "may this cluster run this build", applied by every write.
//!
//! The rule itself is [`catalog::TierPolicy::admit`]: the tier's tag rules, a registered build
//! where the tier requires one, and a known digest where the tier pins digests. This module
//! feeds it what the store knows of each build.
//!
//! The invariant it keeps: **every cluster revision a write stores is servable** — each of its
//! components passes its tier's rule for what changed in it, and every component of a pinned
//! tier has a known digest — so no accepted write can leave a cluster whose render is refused.
//! The engine checks every cluster whose effective config a write changes ([`Admission`]), so
//! the rule holds whatever path the change took (override, pin, cluster change, component
//! change, release, rollout step, hotfix, rollback, import, start-up seed); planners that need
//! an answer before anything changes (rollout creation, a release's default) ask [`admit`].

use std::collections::HashMap;

use catalog::{OciTag, Registration, Tier};

use super::Ctx;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store::{
    self,
    effective::{EffectiveRecord, PreviousComponent, PreviousRecord},
};

/// Whether a cluster of `tier` may run `tag` of `artifact`, as planners ask before a change.
pub(super) fn admit(ctx: &mut Ctx<'_>, tier: &Tier, artifact: &str, tag: &OciTag) -> Result<(), Error> {
    let build = registration(ctx.conn, artifact, tag.as_str())?;
    Ok(tier.policy.admit(&tier.name, tag, artifact, build)?)
}

fn registration(conn: &mut DbConnection, artifact: &str, tag: &str) -> Result<Registration, Error> {
    Ok(match store::tag(conn, artifact, tag)? {
        None => Registration::Unknown,
        Some(row) if row.digest.is_none() => Registration::WithoutDigest,
        Some(_) => Registration::WithDigest,
    })
}

/// The check of every changed cluster within one write; remembers each build it looked up.
#[derive(Default)]
pub(super) struct Admission {
    /// artifact → tag → what is registered: looked up without building a key per component.
    builds: HashMap<String, HashMap<String, Registration>>,
    /// The write's time, which the evidence rule measures ready periods up to.
    now: chrono::NaiveDateTime,
    /// Break-glass: the evidence rule is judged but not applied; what it would refuse is kept.
    break_glass: bool,
    /// The service's own write (start-up files, `import`): a cluster it creates is the fleet
    /// as it stands, written down, so it needs no evidence; its later changes do.
    internal: bool,
    /// (tier, component, tag) → the evidence rule's verdict, judged once per write.
    evidence: HashMap<(String, String, String), Option<String>>,
    /// What break-glass let through: one entry per cluster and component.
    pub(super) skipped: Vec<Skipped>,
}

/// A change the evidence rule would have refused, let through by break-glass.
#[derive(Clone, Debug, serde::Serialize)]
pub(super) struct Skipped {
    pub rule: &'static str,
    pub cluster: String,
    pub component: String,
    pub tag: String,
    pub evidence: String,
}

impl Admission {
    pub(super) fn new(now: chrono::NaiveDateTime, break_glass: bool, internal: bool) -> Admission {
        Admission {
            now,
            break_glass,
            internal,
            ..Admission::default()
        }
    }

    /// The evidence rule for a component whose build changed on a cluster of `tier`.
    fn check_evidence(
        &mut self,
        conn: &mut DbConnection,
        tier: &Tier,
        cluster: &str,
        c: &store::effective::ComponentRecord,
    ) -> Result<(), Error> {
        if tier.policy.require_verified.is_empty() {
            return Ok(());
        }
        let key = (tier.name.to_string(), c.id.clone(), c.oci_tag.clone());
        let verdict = match self.evidence.get(&key) {
            Some(known) => known.clone(),
            None => {
                let found = super::evidence::shortfall(conn, tier, &c.id, &c.artifact, &c.oci_tag, self.now)?;
                self.evidence.insert(key, found.clone());
                found
            }
        };
        let Some(shortfall) = verdict else {
            return Ok(());
        };
        if !self.break_glass {
            let refused = super::evidence::refusal(tier, &c.oci_tag, shortfall);
            return Err(on_cluster(refused, cluster, &c.id));
        }
        self.skipped.push(Skipped {
            rule: catalog::PolicyRule::RequireVerified.as_str(),
            cluster: cluster.to_owned(),
            component: c.id.clone(),
            tag: c.oci_tag.clone(),
            evidence: shortfall,
        });
        Ok(())
    }

    fn build(&mut self, conn: &mut DbConnection, artifact: &str, tag: &str) -> Result<Registration, Error> {
        if let Some(known) = self.builds.get(artifact).and_then(|tags| tag_of(tags, tag)) {
            return Ok(known);
        }
        let found = registration(conn, artifact, tag)?;
        self.builds
            .entry(artifact.to_owned())
            .or_default()
            .insert(tag.to_owned(), found);
        Ok(found)
    }

    /// Checks `cluster`'s new effective config against its tier: components whose build (or
    /// tier) changed must pass the whole rule; the others must stay servable.
    pub(super) fn check(
        &mut self,
        conn: &mut DbConnection,
        tier: &Tier,
        before: Option<&PreviousRecord<'_>>,
        after: &EffectiveRecord,
        cluster: &str,
    ) -> Result<(), Error> {
        let same_tier = before.is_some_and(|b| b.tier == after.tier);
        for (i, c) in after.components.iter().enumerate() {
            let same =
                |old: &&PreviousComponent<'_>| old.id == c.id && old.artifact == c.artifact && old.oci_tag == c.oci_tag;
            // Records list components in the catalog's order: the same place first.
            let unchanged = same_tier
                && before.is_some_and(|b| {
                    b.components.get(i).filter(same).is_some() || b.components.iter().any(|old| same(&old))
                });
            // Resolution only yields tags that parsed once; one that no longer does is our fault.
            let tag = OciTag::parse(&c.oci_tag)
                .map_err(|e| Error::Internal(format!("cluster {cluster} resolves to an unreadable tag: {e}")))?;
            let build = self.build(conn, &c.artifact, &c.oci_tag)?;
            let verdict = match unchanged {
                true => tier.policy.servable(&tier.name, &tag, &c.artifact, build),
                false => tier.policy.admit(&tier.name, &tag, &c.artifact, build),
            };
            verdict.map_err(|e| on_cluster(e, cluster, &c.id))?;
            // A cluster the service's own write creates needs none (see `internal`).
            let created_by_files = self.internal && before.is_none();
            if !(unchanged || created_by_files) {
                self.check_evidence(conn, tier, cluster, c)?;
            }
        }
        Ok(())
    }
}

fn tag_of(tags: &HashMap<String, Registration>, tag: &str) -> Option<Registration> {
    tags.get(tag).copied()
}

/// Names the cluster and component in a refusal, so a change that reaches many clusters says
/// which one it would break.
fn on_cluster(e: catalog::Error, cluster: &str, component: &str) -> Error {
    match e {
        catalog::Error::PolicyRefused {
            rule,
            tier,
            tag,
            detail,
        } => Error::Catalog(catalog::Error::PolicyRefused {
            rule,
            tier,
            tag,
            detail: format!("{detail} (cluster {cluster} would run it for {component})"),
        }),
        other => Error::Catalog(other),
    }
}

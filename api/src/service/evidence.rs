//! The evidence a build has: what the clusters of a tier reported of a component's digest,
//! gathered from the store for `catalog::evidence` to judge.
//!
//! A build is known by its digest, never by its tag: a tag can be pushed again, the digest is
//! what ran. A tag with no known digest (never synced, registered without one) has no
//! evidence at all, so a tier that requires evidence refuses it, saying why.

use catalog::evidence::{ClusterReport, RequireVerified};
use catalog::{PolicyRule, Tier};
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::models_observed::EvidenceRow;
use crate::db::DbConnection;
use crate::error::Error;
use crate::store;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    DateTime::<Utc>::from_naive_utc_and_offset(t, Utc)
}

impl From<&EvidenceRow> for ClusterReport {
    fn from(r: &EvidenceRow) -> Self {
        ClusterReport {
            cluster: r.cluster.clone(),
            ready_since: Some(utc(r.ready_since)),
            ready_until: r.ready_until.map(utc),
            failed_at: r.failed_at.map(utc),
        }
    }
}

/// What the clusters of `rule`'s tier reported of `digest` of `component`.
pub fn reports(
    conn: &mut DbConnection,
    rule: &RequireVerified,
    component: &str,
    digest: &str,
) -> Result<Vec<ClusterReport>, Error> {
    let rows = store::evidence::of_tier(conn, rule.tier.as_str(), component, digest)?;
    Ok(rows.iter().map(ClusterReport::from).collect())
}

/// The digest registered for `tag` of `artifact`, if any.
pub fn digest_of(conn: &mut DbConnection, artifact: &str, tag: &str) -> Result<Option<String>, Error> {
    Ok(store::tag(conn, artifact, tag)?.and_then(|row| row.digest))
}

/// Whether `component` may reach a cluster of `tier` at `tag` of `artifact` by the tier's
/// `require_verified` rules: `None` when it has the evidence, else why not (the rule's text and
/// the evidence found).
pub fn shortfall(
    conn: &mut DbConnection,
    tier: &Tier,
    component: &str,
    artifact: &str,
    tag: &str,
    now: NaiveDateTime,
) -> Result<Option<String>, Error> {
    let rules = &tier.policy.require_verified;
    if rules.is_empty() {
        return Ok(None);
    }
    let Some(digest) = digest_of(conn, artifact, tag)? else {
        return Ok(Some(format!(
            "no digest is known for {tag} of artifact {artifact}, so no cluster's report can vouch for it; \
             sync the artifact or register the tag with its digest first"
        )));
    };
    for rule in rules {
        let found = reports(conn, rule, component, &digest)?;
        if let Err(short) = rule.judge(&digest, &found, utc(now)) {
            return Ok(Some(short.0));
        }
    }
    Ok(None)
}

/// The refusal of a build that lacks evidence.
pub fn refusal(tier: &Tier, tag: &str, shortfall: String) -> catalog::Error {
    catalog::Error::PolicyRefused {
        rule: PolicyRule::RequireVerified,
        tier: tier.name.to_string(),
        tag: tag.to_owned(),
        detail: shortfall,
    }
}

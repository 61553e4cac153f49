//! The evidence rule: a build reaches a tier only after enough clusters of another tier ran it
//! ready for long enough. Given what each cluster reported and `now`, this module decides; the
//! service gathers the reports.

use chrono::{DateTime, Duration, Utc};

use crate::ids::{FluxDuration, TierName};

/// `require_verified` entry: at least `clusters` clusters of `tier` reported the digest applied
/// and ready for at least `ready_for`, and none of them reported it failed since.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequireVerified {
    pub tier: TierName,
    pub clusters: u32,
    pub ready_for: FluxDuration,
}

/// What one cluster of the evidence tier reported of one component at one digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterReport {
    pub cluster: String,
    /// When its current ready period at the digest began (the first ready report after the
    /// digest was applied, or after a failure).
    pub ready_since: Option<DateTime<Utc>>,
    /// When the cluster moved on to another digest, ending the period.
    pub ready_until: Option<DateTime<Utc>>,
    /// When it last reported the digest failed, if after `ready_since`.
    pub failed_at: Option<DateTime<Utc>>,
}

impl ClusterReport {
    /// How long the cluster has run the digest ready, or `None` when a failure withdrew it.
    fn ready_for(&self, now: DateTime<Utc>) -> Option<Duration> {
        if self.failed_at.is_some() {
            return None;
        }
        let since = self.ready_since?;
        let until = self.ready_until.unwrap_or(now);
        Some(until.signed_duration_since(since).max(Duration::zero()))
    }
}

/// Why the evidence falls short: the rule's text and the evidence found, in one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortfall(pub String);

impl RequireVerified {
    fn needed(&self) -> Duration {
        Duration::from_std(self.ready_for.to_duration()).unwrap_or(Duration::MAX)
    }

    /// Whether the reports of the evidence tier's clusters for `digest` meet this rule at `now`.
    /// The refusal names the rule and each cluster's evidence ("qa: 0 of 1 clusters ready at
    /// sha256:… for 1h; qa-eu-1 ready for 12m").
    pub fn judge(&self, digest: &str, reports: &[ClusterReport], now: DateTime<Utc>) -> Result<(), Shortfall> {
        let needed = self.needed();
        let verified = reports
            .iter()
            .filter(|r| r.ready_for(now).is_some_and(|d| d >= needed))
            .count();
        if u32::try_from(verified).unwrap_or(u32::MAX) >= self.clusters {
            return Ok(());
        }
        let mut found: Vec<String> = reports
            .iter()
            .map(|r| match (r.failed_at, r.ready_for(now)) {
                (Some(at), _) => format!(
                    "{} reported it failed at {}",
                    r.cluster,
                    at.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                (None, Some(d)) => format!("{} ready for {}", r.cluster, short(d)),
                (None, None) => format!("{} applied it, not yet ready", r.cluster),
            })
            .collect();
        if found.is_empty() {
            found.push(format!("no {} cluster reported it", self.tier));
        }
        Err(Shortfall(format!(
            "{}: {verified} of {} clusters ready at {digest} for {}; {}",
            self.tier,
            self.clusters,
            self.ready_for,
            found.join("; ")
        )))
    }
}

/// A duration as people read it: `12m`, `1h5m`, `40s`.
fn short(d: Duration) -> String {
    let secs = d.num_seconds();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, _) => format!("{m}m"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> RequireVerified {
        RequireVerified {
            tier: TierName::parse("qa").unwrap(),
            clusters: 1,
            ready_for: FluxDuration::parse("ready_for", "1h").unwrap(),
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(minutes)
    }

    fn ready(cluster: &str, since: i64) -> ClusterReport {
        ClusterReport {
            cluster: cluster.into(),
            ready_since: Some(at(since)),
            ready_until: None,
            failed_at: None,
        }
    }

    #[test]
    fn a_cluster_ready_long_enough_verifies_the_digest() {
        assert!(rule().judge("sha256:aa", &[ready("qa-eu-1", 0)], at(60)).is_ok());
    }

    #[test]
    fn too_short_a_period_is_refused_naming_the_evidence() {
        let err = rule().judge("sha256:aa", &[ready("qa-eu-1", 0)], at(12)).unwrap_err();
        assert_eq!(
            err.0,
            "qa: 0 of 1 clusters ready at sha256:aa for 1h; qa-eu-1 ready for 12m"
        );
        let none = rule().judge("sha256:aa", &[], at(12)).unwrap_err();
        assert_eq!(
            none.0,
            "qa: 0 of 1 clusters ready at sha256:aa for 1h; no qa cluster reported it"
        );
    }

    #[test]
    fn a_failure_since_withdraws_the_evidence_and_moving_on_ends_the_period() {
        let mut failed = ready("qa-eu-1", 0);
        failed.failed_at = Some(at(70));
        assert!(rule().judge("sha256:aa", &[failed], at(90)).is_err());
        let mut moved = ready("qa-eu-1", 0);
        moved.ready_until = Some(at(30));
        assert!(rule().judge("sha256:aa", &[moved], at(90)).is_err());
    }
}

//! Reading a tier policy's `require_verified` list, and checking the tiers it names.

use serde_json::Value;

use super::{get, items, Checker};
use crate::evidence::RequireVerified;
use crate::ids::{FluxDuration, TierName};
use crate::policy::Tier;
use crate::yaml::JsonPath;

impl Checker<'_> {
    /// The entries of `policy.require_verified`; `None` when one of them is wrong (reported).
    pub(super) fn require_verified(&mut self, policy: &Value, at: &JsonPath) -> Option<Vec<RequireVerified>> {
        let at = at.key("require_verified");
        let mut out = Vec::new();
        let mut complete = true;
        for (i, entry) in items(get(policy, "require_verified")).iter().enumerate() {
            let at = at.index(i);
            let tier = self.field(entry, &at, "tier", "dns-1123-label", TierName::parse);
            let ready_for = self.field(entry, &at, "ready_for", "duration", |s| {
                FluxDuration::parse("ready_for", s)
            });
            let clusters = get(entry, "clusters").and_then(Value::as_u64);
            let clusters = match clusters.map(u32::try_from) {
                Some(Ok(n)) if n >= 1 => Some(n),
                Some(_) => {
                    self.fail(
                        at.key("clusters"),
                        "at-least-one",
                        "must be a whole number of clusters, at least 1",
                    );
                    None
                }
                None => None,
            };
            match (tier, clusters, ready_for) {
                (Some(tier), Some(clusters), Some(ready_for)) => out.push(RequireVerified {
                    tier,
                    clusters,
                    ready_for,
                }),
                _ => complete = false,
            }
        }
        complete.then_some(out)
    }

    /// Each `require_verified` entry names another tier of the catalog.
    pub(super) fn verified_tiers(&mut self, tiers: &[&Tier], at: &JsonPath) {
        for (i, tier) in tiers.iter().enumerate() {
            for (j, rule) in tier.policy.require_verified.iter().enumerate() {
                let path = at.index(i).key("policy").key("require_verified").index(j).key("tier");
                if rule.tier == tier.name {
                    self.fail(
                        path,
                        "known-tier",
                        format!("tier {} cannot require evidence from itself", tier.name),
                    );
                } else if !tiers.iter().any(|t| t.name == rule.tier) {
                    let known: Vec<&str> = tiers.iter().map(|t| t.name.as_str()).collect();
                    let message = format!("unknown tier \"{}\" (known: {})", rule.tier, known.join(", "));
                    self.fail(path, "known-tier", message);
                }
            }
        }
    }
}

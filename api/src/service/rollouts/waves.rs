//! Planning waves: which target cluster goes in which wave and step. Pure: no database.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Catalog;
use serde::{Deserialize, Serialize};

use super::CreateWave;
use crate::error::{Error, Field};

/// A cluster the rollout moves, as planning needs it.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
}

/// A wave as planned and stored: its selector, batch size, soak and approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    pub name: String,
    #[serde(default)]
    pub tiers: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub clusters: Vec<String>,
    /// Clusters changed per step; `None` means the whole wave in one step.
    pub batch_size: Option<u32>,
    /// Minimum time after each of this wave's steps before the next step (or completion).
    pub soak: Option<String>,
    pub max_failures: u32,
    pub approval: String,
    /// What passing `max_failures` does: `halt` (stop, keep what is applied), `abort` (stop and
    /// return every changed cluster to what it ran before) or `rollback` (as abort, and the audit
    /// names the failure events that decided it).
    #[serde(default = "halt")]
    pub on_failure: String,
}

fn halt() -> String {
    "halt".into()
}

impl Wave {
    fn selects(&self, t: &Target) -> bool {
        (self.tiers.is_empty() || self.tiers.contains(&t.tier))
            && self.labels.iter().all(|(k, v)| t.labels.get(k) == Some(v))
            && (self.clusters.is_empty() || self.clusters.contains(&t.name))
    }
}

/// Each wave with its steps, each step the names of its clusters.
pub type Plan = Vec<(Wave, Vec<Vec<String>>)>;

/// Plans `specs` (or the default waves) over `targets`, which are sorted by name. Every target
/// must land in exactly one wave: completing the rollout moves the catalog default, so a
/// target no step covers would change without ever being a step.
pub fn plan(
    catalog: &Catalog,
    targets: &[Target],
    specs: Option<&[CreateWave]>,
    known_clusters: &BTreeSet<String>,
) -> Result<Plan, Error> {
    let waves = match specs {
        None => return Ok(default_plan(catalog, targets)),
        Some(specs) => specs
            .iter()
            .enumerate()
            .map(|(i, s)| wave_of(catalog, i, s, known_clusters))
            .collect::<Result<Vec<_>, _>>()?,
    };
    if waves.is_empty() {
        return Err(Error::refused(
            "waves",
            "give at least one wave, or leave `waves` out for the default ones",
        ));
    }
    let mut left: Vec<&Target> = targets.iter().collect();
    let mut plan = Vec::new();
    for (i, wave) in waves.into_iter().enumerate() {
        let (mine, rest): (Vec<&Target>, Vec<&Target>) = left.into_iter().partition(|t| wave.selects(t));
        left = rest;
        if let Some(named) = wave.clusters.iter().find(|c| !targets.iter().any(|t| &t.name == *c)) {
            return Err(Error::refused(
                Field::new("waves").index(i).field("clusters"),
                format!("cluster {named} does not run what the rollout moves"),
            ));
        }
        if mine.is_empty() {
            return Err(Error::refused(
                Field::new("waves").index(i),
                "selects no cluster (none matches, or earlier waves took them)",
            ));
        }
        let names: Vec<String> = mine.iter().map(|t| t.name.clone()).collect();
        let steps = batches(names, wave.batch_size);
        plan.push((wave, steps));
    }
    if !left.is_empty() {
        let names: Vec<&str> = left.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::refused("waves",
            format!(
                "no wave selects {}, which run(s) what the rollout moves; completing it would change them without a step",
                names.join(", ")
            ),
        ));
    }
    Ok(plan)
}

fn wave_of(catalog: &Catalog, i: usize, s: &CreateWave, known: &BTreeSet<String>) -> Result<Wave, Error> {
    for (j, tier) in s.tiers.iter().enumerate() {
        if catalog.tier(tier.as_str()).is_err() {
            let names: Vec<&str> = catalog.tiers().iter().map(|t| t.name.as_str()).collect();
            return Err(Error::refused(
                Field::new("waves").index(i).field("tiers").index(j),
                format!("unknown tier {:?} (known: {})", tier.as_str(), names.join(", ")),
            ));
        }
    }
    for (j, name) in s.clusters.iter().enumerate() {
        if !known.contains(name.as_str()) {
            return Err(Error::refused(
                Field::new("waves").index(i).field("clusters").index(j),
                format!("unknown cluster {:?}", name.as_str()),
            ));
        }
    }
    Ok(Wave {
        name: s.name.clone().unwrap_or_else(|| format!("wave-{}", i + 1)),
        tiers: s.tiers.iter().map(ToString::to_string).collect(),
        labels: s.labels.clone(),
        clusters: s.clusters.iter().map(ToString::to_string).collect(),
        batch_size: s.batch_size.map(std::num::NonZeroU32::get),
        soak: s.soak.as_ref().map(|soak| soak.as_str().to_owned()),
        max_failures: s.max_failures,
        approval: s.approval.as_str().to_owned(),
        on_failure: s.on_failure.as_str().to_owned(),
    })
}

/// One canary (the first cluster by name of the lowest tier that has targets), then each tier
/// in order without it, the last tier (prod) in batches of 10% (at least one cluster).
fn default_plan(catalog: &Catalog, targets: &[Target]) -> Plan {
    let manual = |name: &str, tiers: Vec<String>, clusters: Vec<String>, batch_size: Option<u32>| Wave {
        name: name.to_owned(),
        tiers,
        labels: BTreeMap::new(),
        clusters,
        batch_size,
        soak: None,
        max_failures: 0,
        approval: "manual".into(),
        on_failure: halt(),
    };
    let tiers = catalog.tiers();
    let mut plan = Vec::new();
    let canary = tiers
        .iter()
        .find_map(|tier| targets.iter().find(|t| t.tier == tier.name.as_str()));
    if let Some(c) = canary {
        let wave = manual("canary", Vec::new(), vec![c.name.clone()], None);
        plan.push((wave, vec![vec![c.name.clone()]]));
    }
    for (i, tier) in tiers.iter().enumerate() {
        let names: Vec<String> = targets
            .iter()
            .filter(|t| t.tier == tier.name.as_str() && Some(&t.name) != canary.map(|c| &c.name))
            .map(|t| t.name.clone())
            .collect();
        if names.is_empty() {
            continue;
        }
        let batch = (i + 1 == tiers.len()).then(|| names.len().div_ceil(10).max(1) as u32);
        let wave = manual(tier.name.as_str(), vec![tier.name.to_string()], Vec::new(), batch);
        let steps = batches(names, batch);
        plan.push((wave, steps));
    }
    plan
}

fn batches(names: Vec<String>, size: Option<u32>) -> Vec<Vec<String>> {
    match size {
        None => vec![names],
        Some(n) => names.chunks(n.max(1) as usize).map(<[String]>::to_vec).collect(),
    }
}

//! The observed-state metrics: drift findings by kind and tier, and how long ago clusters last
//! reported, per tier (quantiles rather than one series per cluster, for fleets of thousands).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::drift::{report, DriftKind, Filter};
use super::AppState;
use crate::error::Error;
use crate::store;

/// Drift counts and event ages for `/metrics`, computed at most every few seconds.
#[derive(Default)]
pub struct MetricsCache {
    last: Mutex<Option<(Instant, Arc<String>)>>,
}

const METRICS_FOR: Duration = Duration::from_secs(10);

/// The observed-state metrics text: findings by kind and tier, and per tier the age of the
/// clusters' last events (median, 90th percentile and oldest), not one series per cluster.
pub fn metrics_text(state: &AppState) -> Result<Arc<String>, Error> {
    let cache = &state.observed.metrics;
    if let Some((at, text)) = cache.last.lock().map_err(|_| poisoned())?.as_ref() {
        if at.elapsed() < METRICS_FOR {
            return Ok(text.clone());
        }
    }
    let report = report(state, &Filter::default())?;
    let mut conn = state.conn()?;
    let tiers: HashMap<String, String> = store::clusters(&mut conn)?
        .into_iter()
        .map(|c| (c.name, c.tier))
        .collect();
    let now = state.clock.now();
    let mut ages: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    state.observed.snapshot.with_rows(&mut conn, |rows| {
        for (cluster, list) in rows {
            let (Some(tier), Some(last)) = (tiers.get(cluster), list.iter().map(|r| r.received_at).max()) else {
                continue;
            };
            ages.entry(tier.clone())
                .or_default()
                .push((now - last).num_milliseconds() as f64 / 1000.0);
        }
    })?;
    let text = Arc::new(render_metrics(&report.counts, &mut ages));
    *cache.last.lock().map_err(|_| poisoned())? = Some((Instant::now(), text.clone()));
    Ok(text)
}

fn poisoned() -> Error {
    Error::Internal("the drift metrics lock was poisoned by a panic".into())
}

fn render_metrics(counts: &BTreeMap<(DriftKind, String), u64>, ages: &mut BTreeMap<String, Vec<f64>>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    out.push_str("# HELP platform_catalog_drift_findings Drift findings by kind and tier.\n");
    out.push_str("# TYPE platform_catalog_drift_findings gauge\n");
    for ((kind, tier), n) in counts {
        let _ = writeln!(
            out,
            "platform_catalog_drift_findings{{kind=\"{}\",tier=\"{tier}\"}} {n}",
            kind.as_str()
        );
    }
    out.push_str(
        "# HELP platform_catalog_observed_last_event_age_seconds Age of each cluster's last Flux event, by tier.\n",
    );
    out.push_str("# TYPE platform_catalog_observed_last_event_age_seconds summary\n");
    for (tier, list) in ages.iter_mut() {
        list.sort_by(f64::total_cmp);
        for (q, label) in [(0.5, "0.5"), (0.9, "0.9"), (1.0, "1")] {
            let i = ((list.len() as f64 * q).ceil() as usize).clamp(1, list.len()) - 1;
            let _ = writeln!(
                out,
                "platform_catalog_observed_last_event_age_seconds{{tier=\"{tier}\",quantile=\"{label}\"}} {:.3}",
                list[i]
            );
        }
        let _ = writeln!(
            out,
            "platform_catalog_observed_last_event_age_seconds_count{{tier=\"{tier}\"}} {}",
            list.len()
        );
        let _ = writeln!(
            out,
            "platform_catalog_observed_last_event_age_seconds_sum{{tier=\"{tier}\"}} {:.3}",
            list.iter().sum::<f64>()
        );
    }
    out
}

//! Prometheus metrics: requests by route and status, request latency, renders served, and the
//! database pool. Kept in the shared state (no globals) and written out as text on `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Clone, Copy, Default)]
struct Latency {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// (method, route pattern, status).
type RequestLabels = (String, String, u16);

/// One route's requests by (method, status), and its latency.
#[derive(Default)]
struct RouteStats {
    /// A few entries per route: looked up by a scan, without building a key.
    requests: Vec<(String, u16, u64)>,
    latency: Latency,
}

#[derive(Default)]
pub struct Metrics {
    /// route pattern → its requests and latency: one lock and, once a route was seen, no
    /// allocation per request. Sorted only when written out.
    routes: Mutex<HashMap<String, RouteStats>>,
    renders: AtomicU64,
    /// Bytes the render cache holds, and its budget.
    render_cache: (AtomicU64, AtomicU64),
}

impl Metrics {
    /// Records one request; `route` is the matched pattern (`/api/v1/clusters/{name}`), so the
    /// label set stays bounded whatever the paths.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut routes) = self.routes.lock() else { return };
        let stats = match routes.get_mut(route) {
            Some(stats) => stats,
            None => routes.entry(route.to_owned()).or_default(),
        };
        match stats.requests.iter_mut().find(|(m, s, _)| m == method && *s == status) {
            Some((_, _, n)) => *n += 1,
            None => stats.requests.push((method.to_owned(), status, 1)),
        }
        let h = &mut stats.latency;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// Requests by (method, route, status), and each route's latency, in label order.
    fn snapshot(&self) -> (BTreeMap<RequestLabels, u64>, BTreeMap<String, Latency>) {
        let (mut requests, mut latency) = (BTreeMap::new(), BTreeMap::new());
        if let Ok(routes) = self.routes.lock() {
            for (route, stats) in routes.iter() {
                for (method, status, n) in &stats.requests {
                    requests.insert((method.clone(), route.clone(), *status), *n);
                }
                latency.insert(route.clone(), stats.latency);
            }
        }
        (requests, latency)
    }

    /// Records what the render cache holds after a render went in.
    pub fn render_cache(&self, held: usize, budget: usize) {
        self.render_cache.0.store(held as u64, Ordering::Relaxed);
        self.render_cache.1.store(budget as u64, Ordering::Relaxed);
    }

    pub fn render_served(&self) {
        self.renders.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the pool's current state.
    pub fn exposition(&self, pool_connections: u32, pool_idle: u32, pool_max: u32) -> String {
        let mut out = String::new();
        let (requests, latency) = self.snapshot();
        out.push_str("# HELP platform_catalog_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE platform_catalog_http_requests_total counter\n");
        for ((method, route, status), n) in requests.iter() {
            let _ = writeln!(
                out,
                "platform_catalog_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP platform_catalog_http_request_duration_seconds Time to answer a request, by route.\n");
        out.push_str("# TYPE platform_catalog_http_request_duration_seconds histogram\n");
        for (route, h) in latency.iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "platform_catalog_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "platform_catalog_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "platform_catalog_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "platform_catalog_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP platform_catalog_renders_served_total Cluster renders and inputs documents served.\n");
        out.push_str("# TYPE platform_catalog_renders_served_total counter\n");
        let _ = writeln!(
            out,
            "platform_catalog_renders_served_total {}",
            self.renders.load(Ordering::Relaxed)
        );
        out.push_str("# HELP platform_catalog_render_cache_bytes Bytes of renders the cache holds, and its budget.\n");
        out.push_str("# TYPE platform_catalog_render_cache_bytes gauge\n");
        let _ = writeln!(
            out,
            "platform_catalog_render_cache_bytes{{kind=\"held\"}} {}",
            self.render_cache.0.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "platform_catalog_render_cache_bytes{{kind=\"budget\"}} {}",
            self.render_cache.1.load(Ordering::Relaxed)
        );
        out.push_str("# HELP platform_catalog_db_pool_connections Database connections open, idle and allowed.\n");
        out.push_str("# TYPE platform_catalog_db_pool_connections gauge\n");
        let _ = writeln!(
            out,
            "platform_catalog_db_pool_connections{{state=\"open\"}} {pool_connections}"
        );
        let _ = writeln!(
            out,
            "platform_catalog_db_pool_connections{{state=\"idle\"}} {pool_idle}"
        );
        let _ = writeln!(out, "platform_catalog_db_pool_connections{{state=\"max\"}} {pool_max}");
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_pattern_and_latency_lands_in_buckets() {
        let m = Metrics::default();
        m.record("GET", "/api/v1/clusters/{name}/render", 200, 0.002);
        m.record("GET", "/api/v1/clusters/{name}/render", 200, 0.2);
        m.render_served();
        let text = m.exposition(3, 1, 8);
        assert!(text.contains(
            "platform_catalog_http_requests_total{method=\"GET\",route=\"/api/v1/clusters/{name}/render\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "platform_catalog_http_request_duration_seconds_bucket{route=\"/api/v1/clusters/{name}/render\",le=\"0.0025\"} 1\n"
        ));
        assert!(text.contains(
            "platform_catalog_http_request_duration_seconds_bucket{route=\"/api/v1/clusters/{name}/render\",le=\"0.25\"} 2\n"
        ));
        assert!(text.contains("platform_catalog_renders_served_total 1\n"));
        assert!(text.contains("platform_catalog_db_pool_connections{state=\"max\"} 8\n"));
    }
}

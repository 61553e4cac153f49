//! `get fleet`: the clusters × components matrix, from `GET /api/v1/fleet`.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::client::http::Client;
use crate::client::output::{self, Format};
use crate::error::Error;
use crate::http::fleet::{FleetClusterDto, FleetComponentDto};

/// How `get fleet` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FleetFormat {
    Table,
    Wide,
    Yaml,
    Json,
    Csv,
}

/// The legend printed under the matrix.
pub const LEGEND: &str = "* not the catalog default (override, pin, rollout or hotfix; -o wide says which)   ! drift or failure reported   - not on the cluster";

/// Every cluster of the fleet the filters keep.
pub fn fetch(client: &Client, query: &[(&str, String)]) -> Result<Vec<FleetClusterDto>, Error> {
    client.all("/api/v1/fleet", query)
}

/// The fleet as CSV, every page, one header line.
pub fn csv(client: &Client, query: &[(&str, String)]) -> Result<String, Error> {
    let mut out = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = query.to_vec();
        q.push(("limit", "500".to_owned()));
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let reply = client.request(Method::GET, "/api/v1/fleet", &q, None, crate::http::fleet::TEXT_CSV)?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        match out.is_empty() {
            true => out.push_str(&text),
            false => out.extend(text.lines().skip(1).map(|l| format!("{l}\n"))),
        }
        match reply.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// One cell: the tag, `*` when it is not the catalog default, `!` when something is wrong.
fn cell(c: &FleetComponentDto, wide: bool) -> String {
    let mut s = c.oci_tag.clone();
    if c.provenance != "default" {
        s.push('*');
    }
    let failed = c.state.as_deref() == Some("failed");
    if failed || !c.drift.is_empty() {
        s.push('!');
    }
    if wide {
        let mut notes = Vec::new();
        if c.provenance != "default" {
            notes.push(c.provenance.clone());
        }
        notes.push(c.state.clone().unwrap_or_else(|| "unreported".to_owned()));
        notes.extend(c.drift.iter().cloned());
        s.push_str(&format!(" ({})", notes.join(",")));
    }
    s
}

/// The matrix: a row per cluster, a column per component, and the legend.
pub fn matrix(rows: &[FleetClusterDto], wide: bool) -> String {
    let components: BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.components.iter().map(|c| c.component.as_str()))
        .collect();
    let upper: Vec<String> = components.iter().map(|c| c.to_uppercase()).collect();
    let mut headers: Vec<&str> = vec!["CLUSTER", "TIER"];
    if wide {
        headers.extend(["LABELS", "REVISION"]);
    }
    headers.extend(upper.iter().map(String::as_str));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut line = vec![r.name.clone(), r.tier.clone()];
            if wide {
                line.push(output::labels(&r.labels));
                line.push(r.revision.to_string());
            }
            for id in &components {
                let found = r.components.iter().find(|c| c.component == *id);
                line.push(found.map_or("-".to_owned(), |c| cell(c, wide)));
            }
            line
        })
        .collect();
    format!("{}\n{LEGEND}\n", output::table(&headers, &table).trim_end())
}

/// Prints the fleet as asked.
pub fn print(client: &Client, query: &[(&str, String)], format: FleetFormat) -> Result<(), Error> {
    match format {
        FleetFormat::Csv => crate::say!("{}", csv(client, query)?),
        FleetFormat::Yaml => crate::say!("{}", output::structured(&fetch(client, query)?, Format::Yaml)?),
        FleetFormat::Json => crate::say!("{}", output::structured(&fetch(client, query)?, Format::Json)?),
        FleetFormat::Table | FleetFormat::Wide => {
            crate::say!("{}", matrix(&fetch(client, query)?, format == FleetFormat::Wide))
        }
    }
    Ok(())
}

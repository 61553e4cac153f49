//! `/api/v1/fleet`: every cluster with what each component runs, why, and what it reports, as
//! JSON pages or CSV.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{get, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::clusters::label_filter;
use super::dto::Page;
use super::extract::query;
use super::problem::Problem;
use super::{blocking, paging, Shared};
use crate::error::Error;
use crate::service::clusters::ClusterFilter;
use crate::service::fleet_view::{self, Cell, Row};

const CURSOR_KIND: &str = "fleet";
/// The media type of the CSV form.
pub const TEXT_CSV: &str = "text/csv";
/// The header carrying the next page's cursor in the CSV form, which has no place for it.
pub const NEXT_CURSOR_HEADER: &str = "X-Next-Cursor";

/// One component on one cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FleetComponentDto {
    pub component: String,
    pub oci_tag: String,
    pub component_path: String,
    /// Why this tag: `default`, `override`, `pin` (the cluster's own tag), `rollout` or `hotfix`.
    pub provenance: String,
    /// The rollout id or the override's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What Flux last reported: `ready`, `applied`, `progressing` or `failed` (the worse of the
    /// component's two objects); null before any report.
    pub state: Option<String>,
    /// Drift kinds reported for it (see `/drift`); empty when it runs what it should.
    pub drift: Vec<String>,
}

/// One cluster of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FleetClusterDto {
    pub name: String,
    pub tier: String,
    pub labels: BTreeMap<String, String>,
    /// The cluster's current revision.
    pub revision: i64,
    /// In component id order.
    pub components: Vec<FleetComponentDto>,
}

impl From<&Cell> for FleetComponentDto {
    fn from(c: &Cell) -> Self {
        FleetComponentDto {
            component: c.component.clone(),
            oci_tag: c.oci_tag.clone(),
            component_path: c.component_path.clone(),
            provenance: c.provenance.as_str().to_owned(),
            detail: c.detail.clone(),
            state: c.state.map(|s| s.as_str().to_owned()),
            drift: c.drift.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

impl From<&Row> for FleetClusterDto {
    fn from(r: &Row) -> Self {
        FleetClusterDto {
            name: r.name.clone(),
            tier: r.tier.clone(),
            labels: r.labels.clone(),
            revision: r.revision,
            components: r.components.iter().map(FleetComponentDto::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FleetQuery {
    /// Only clusters of this tier.
    tier: Option<String>,
    /// Only clusters with this label, as `key=value`.
    #[param(pattern = r"^[^=]+=.*$")]
    label: Option<String>,
    /// Only clusters that run this component, and only its column.
    component: Option<String>,
    /// Clusters per page, 1 to 500 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` of the previous page (in CSV, the `X-Next-Cursor` header).
    cursor: Option<String>,
}

/// The CSV header line.
pub const CSV_HEADER: &str = "cluster,tier,labels,component,oci_tag,component_path,provenance,detail,state,drift";

/// One line per cluster and component; labels as `k=v;k=v`, drift kinds as `a;b`.
pub fn to_csv(rows: &[FleetClusterDto]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for c in &r.components {
            let fields = [
                r.name.as_str(),
                r.tier.as_str(),
                &labels.join(";"),
                c.component.as_str(),
                c.oci_tag.as_str(),
                c.component_path.as_str(),
                c.provenance.as_str(),
                c.detail.as_deref().unwrap_or(""),
                c.state.as_deref().unwrap_or(""),
                &c.drift.join(";"),
            ];
            let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}

/// RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled.
fn csv_field(s: &str) -> String {
    match s.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", s.replace('"', "\"\"")),
        false => s.to_owned(),
    }
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|m| m.trim().starts_with(TEXT_CSV)))
}

/// The fleet: one row per cluster, in name order, with each component's tag, path, why it
/// runs that tag, what Flux reports and its drift. `Accept: text/csv` answers one line per
/// cluster and component instead, the next page's cursor in `X-Next-Cursor`.
#[utoipa::path(tag = "observed", params(FleetQuery),
    responses(
        (status = 200, description = "A page of the fleet",
            content((Page<FleetClusterDto> = "application/json"), (String = "text/csv")),
            headers(("X-Next-Cursor" = String, description = "CSV only: the next page's cursor, absent on the last page"))),
        (status = 422, description = "A filter or paging parameter is invalid (named)", body = Problem)),
    extensions(("x-required-role" = json!("viewer"))))]
#[get("/fleet")]
pub async fn get_fleet(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: FleetQuery = query(&req)?;
    let filter = ClusterFilter {
        tier: q.tier,
        label: label_filter(q.label)?,
        component: q.component,
    };
    let limit = paging::limit(q.limit.as_deref())? as usize;
    let after = paging::decode_name_cursor(CURSOR_KIND, q.cursor.as_deref())?;
    let page = blocking(move || fleet_view::page(&state, &filter, after.as_deref(), limit)).await?;
    let items: Vec<FleetClusterDto> = page.rows.iter().map(FleetClusterDto::from).collect();
    let next_cursor = match (page.more, items.last()) {
        (true, Some(last)) => Some(paging::encode_name_cursor(CURSOR_KIND, &last.name)),
        _ => None,
    };
    if wants_csv(&req) {
        let mut reply = HttpResponse::Ok();
        reply.content_type("text/csv; charset=utf-8");
        if let Some(c) = &next_cursor {
            reply.insert_header((NEXT_CURSOR_HEADER, c.as_str()));
        }
        return Ok(reply.body(to_csv(&items)));
    }
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_fleet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_quotes_or_line_breaks_are_quoted() {
        let row = FleetClusterDto {
            name: "prod-eu-1".into(),
            tier: "prod".into(),
            labels: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
            revision: 3,
            components: vec![FleetComponentDto {
                component: "grafana".into(),
                oci_tag: "v1.1.0".into(),
                component_path: "observability/grafana/7.3.9".into(),
                provenance: "override".into(),
                detail: Some("rollback, \"bad\" dashboards".into()),
                state: Some("failed".into()),
                drift: vec!["failed".into(), "silent".into()],
            }],
        };
        assert_eq!(
            to_csv(&[row]),
            format!("{CSV_HEADER}\nprod-eu-1,prod,a=1;b=2,grafana,v1.1.0,observability/grafana/7.3.9,override,\"rollback, \"\"bad\"\" dashboards\",failed,failed;silent\n")
        );
    }
}

//! Drift: the fleet report and one cluster's desired versus observed status.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::extract::query;
use super::observed_dto::{ClusterStatusDto, DriftCountDto, DriftReportDto, FindingDto};
use super::problem::Problem;
use super::{blocking, paging, Shared};
use crate::error::Error;
use crate::service::observed::{drift, status};
use crate::service::time::parse_duration;

const CURSOR_KIND: &str = "drift";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DriftQuery {
    pub tier: Option<String>,
    /// Findings of this cluster, and fleet findings that name it.
    pub cluster: Option<String>,
    pub component: Option<String>,
    /// `version_mismatch`, `digest_mismatch`, `failed`, `silent`, `mixed_versions` or `unmanaged`.
    #[param(pattern = r"^(version_mismatch|digest_mismatch|failed|silent|mixed_versions|unmanaged)$")]
    pub kind: Option<String>,
    /// Silence allowed before `silent` (e.g. `30m`); default twice the component's interval
    /// plus five minutes.
    #[param(pattern = r"^[1-9][0-9]{0,9}[smhdw]$")]
    pub silent_after: Option<String>,
    /// 1 to 500, default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl DriftQuery {
    fn filter(&self) -> Result<drift::Filter, Error> {
        let kind = match &self.kind {
            None => None,
            Some(k) => Some(drift::DriftKind::parse(k).ok_or_else(|| {
                Error::field(
                    "kind",
                    format!("must be one of version_mismatch, digest_mismatch, failed, silent, mixed_versions, unmanaged, not {k:?}"),
                )
            })?),
        };
        let silent_after = self
            .silent_after
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| Error::field("silent_after", e))?;
        Ok(drift::Filter {
            tier: self.tier.clone(),
            cluster: self.cluster.clone(),
            component: self.component.clone(),
            kind,
            silent_after,
        })
    }
}

/// The fleet's drift: every place a cluster runs something other than it should, or stopped
/// telling us, in a stable order, with fleet-wide counts by kind and tier.
#[utoipa::path(tag = "observed", params(DriftQuery),
    responses((status = 200, body = DriftReportDto), (status = 422, description = "A filter or paging parameter is invalid (named)", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/drift")]
pub async fn get_drift(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: DriftQuery = query(&req)?;
    let filter = q.filter()?;
    let limit = paging::limit(q.limit.as_deref())?;
    let skip = paging::decode_cursor(CURSOR_KIND, q.cursor.as_deref())?.unwrap_or(0);
    let report = blocking(move || drift::report(&state, &filter)).await?;
    let total = report.findings.len();
    let end = (skip as usize).saturating_add(limit as usize).min(total);
    let items = report.findings.get(skip as usize..end).unwrap_or_default();
    Ok(HttpResponse::Ok().json(DriftReportDto {
        counts: report
            .counts
            .iter()
            .map(|((kind, tier), n)| DriftCountDto {
                kind: kind.as_str().to_owned(),
                tier: tier.clone(),
                count: *n,
            })
            .collect(),
        total,
        items: items.iter().map(FindingDto::from).collect(),
        next_cursor: (end < total).then(|| paging::encode_cursor(CURSOR_KIND, end as i64)),
    }))
}

/// One cluster's desired versus observed state per component, the objects reporting that we
/// did not render, and its drift findings.
#[utoipa::path(tag = "observed", params(("name" = String, Path)),
    responses((status = 200, body = ClusterStatusDto), (status = 404, body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/clusters/{name}/status")]
pub async fn get_cluster_status(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let s = blocking(move || status::cluster_status(&state, &name)).await?;
    Ok(HttpResponse::Ok().json(ClusterStatusDto::from(&s)))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_drift).service(get_cluster_status);
}

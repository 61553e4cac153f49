//! `/api/v1/tiers`: the ordered environment classes and their tag policies.

use actix_web::http::StatusCode;
use actix_web::{get, put, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{Page, RequireVerifiedDto, TierDto, TierPolicyDto};
use super::extract::{caller, expected, query, Body, WriteParams};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, respond_write, Shared};
use crate::error::Error;
use crate::service::tiers::{self, PolicySpec, TierView, VerifiedSpec};

impl From<&TierView> for TierDto {
    fn from(t: &TierView) -> Self {
        let p = &t.policy;
        let (windows, freezes) = super::safety_dto::safety_dto(&p.safety);
        TierDto {
            name: t.name.clone(),
            policy: TierPolicyDto {
                allow_mutable: p.allow_mutable,
                allow_prerelease: p.allow_prerelease,
                pin_digest: p.pin_digest,
                require_known_tag: p.require_known_tag,
                pattern: p.pattern.clone(),
                windows,
                freezes,
                approvals: p.safety.approvals,
                require_verified: p
                    .require_verified
                    .iter()
                    .map(|r| RequireVerifiedDto {
                        tier: r.tier.clone(),
                        clusters: r.clusters,
                        ready_for: r.ready_for.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// List the tiers in their order, lowest first, with their policies.
#[utoipa::path(tag = "tiers", params(PageQuery),
    responses((status = 200, description = "A page of tiers", body = Page<TierDto>), (status = 409, description = "No catalog loaded", body = Problem),
        (status = 422, description = "A bad `limit` or `cursor`", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/tiers")]
pub async fn list_tiers(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let list = blocking(move || tiers::list(&state)).await?;
    let items = list.iter().map(TierDto::from).collect();
    let page = paging::page_positional(items, limit, "tiers", q.cursor.as_deref(), |t: &TierDto| t.name.clone())?;
    Ok(HttpResponse::Ok().json(page))
}

/// Show one tier and its policy.
#[utoipa::path(tag = "tiers", params(("name" = String, Path, description = "Tier name")),
    responses((status = 200, body = TierDto, headers(("ETag" = String))), (status = 404, body = Problem),
        (status = 409, description = "No catalog loaded", body = Problem)), extensions(("x-required-role" = json!("viewer"))))]
#[get("/tiers/{name}")]
pub async fn get_tier(state: Shared, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let view = blocking(move || tiers::get(&state, &name)).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", view.version()))
        .json(TierDto::from(&view)))
}

/// Replace a tier's policy (a new catalog revision). Refused when a default tag, or a pin or
/// override on one of the tier's clusters, would break it; `If-Match` guards against lost updates.
#[utoipa::path(tag = "tiers",
    params(("name" = String, Path, description = "Tier name"), WriteParams), request_body = TierPolicyDto,
    responses((status = 200, description = "The tier; on a dry run, the plan (PlanDto)", body = TierDto, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, description = "A field breaks a rule (`pattern` must be a valid regular expression), or a default tag of the catalog breaks the new policy: each named in `errors`", body = Problem)), extensions(("x-required-role" = json!("admin"))))]
#[put("/tiers/{name}")]
pub async fn replace_tier(
    state: Shared,
    req: HttpRequest,
    name: web::Path<String>,
    body: Body<TierPolicyDto>,
) -> Result<HttpResponse, Error> {
    let params: WriteParams = query(&req)?;
    let (caller, expected) = (caller(&req), expected(&req));
    let p = body.0;
    let spec = PolicySpec {
        allow_mutable: p.allow_mutable,
        allow_prerelease: p.allow_prerelease,
        pin_digest: p.pin_digest,
        require_known_tag: p.require_known_tag,
        pattern: p.pattern,
        safety: super::safety_dto::safety_spec(p.windows, p.freezes, p.approvals),
        require_verified: p
            .require_verified
            .into_iter()
            .map(|r| VerifiedSpec {
                tier: r.tier,
                clusters: r.clusters,
                ready_for: r.ready_for,
            })
            .collect(),
    };
    let outcome = blocking(move || tiers::put_policy(&state, &caller, &name, spec, expected, params.dry_run)).await?;
    respond_write(outcome, StatusCode::OK, |t| TierDto::from(t))
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tiers).service(get_tier).service(replace_tier);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::etag_of;
    use crate::service::tiers::PolicyView;

    #[test]
    fn a_tier_version_is_the_etag_of_the_tier_as_shown() {
        let view = TierView {
            name: "prod".into(),
            policy: PolicyView {
                allow_mutable: false,
                allow_prerelease: false,
                pin_digest: true,
                require_known_tag: true,
                pattern: Some("^v".into()),
                safety: Default::default(),
                require_verified: Vec::new(),
            },
        };
        assert_eq!(view.version(), etag_of(&TierDto::from(&view)));
    }
}

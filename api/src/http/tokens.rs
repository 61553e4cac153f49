//! `/api/v1/tokens`: issuing, listing and revoking API tokens (admin only).

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use catalog::ClusterName;
use chrono::{NaiveDateTime, SecondsFormat};
use utoipa_actix_web::service_config::ServiceConfig;

use super::dto::{Page, TokenCreatedDto, TokenDto, TokenInput};
use super::extract::{caller, query, Body};
use super::paging::{self, PageQuery};
use super::problem::Problem;
use super::{blocking, Shared};
use crate::error::{Error, Field};
use crate::service::time::parse_duration;
use crate::service::tokens::{self, NewToken, Role, Token, TokenName};

fn ts(t: NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl From<&Token> for TokenDto {
    fn from(t: &Token) -> Self {
        TokenDto {
            name: t.name.clone(),
            role: t.role.as_str().to_owned(),
            cluster: t.cluster.clone(),
            created_by: t.created_by.clone(),
            created_at: ts(t.created_at),
            expires_at: t.expires_at.map(ts),
            last_used_at: t.last_used_at.map(ts),
        }
    }
}

impl TryFrom<TokenInput> for NewToken {
    type Error = Error;

    fn try_from(input: TokenInput) -> Result<NewToken, Error> {
        let role = Role::parse(&input.role)
            .ok_or_else(|| Error::refused("role", "the role is one of admin, operator, viewer, cluster"))?;
        Ok(NewToken {
            name: Field::new("name").parsed(TokenName::parse(&input.name))?,
            role,
            cluster: (input.cluster.as_deref())
                .map(|c| Field::new("cluster").parsed(ClusterName::parse(c)))
                .transpose()?,
            lifetime: (input.expires.as_deref())
                .map(|text| Field::new("expires").parsed(parse_duration(text)))
                .transpose()?,
        })
    }
}

/// List the tokens: name, role, cluster and dates; never a secret.
#[utoipa::path(tag = "tokens", params(PageQuery),
    responses((status = 200, description = "A page of tokens, in name order", body = Page<TokenDto>), (status = 422, description = "A bad `limit` or `cursor`", body = Problem)),
    extensions(("x-required-role" = json!("admin"))))]
#[get("/tokens")]
pub async fn list_tokens(state: Shared, req: HttpRequest) -> Result<HttpResponse, Error> {
    let q: PageQuery = query(&req)?;
    let limit = paging::limit(q.limit.as_deref())?;
    let list = blocking(move || tokens::list(&state)).await?;
    let mut items: Vec<TokenDto> = list.iter().map(TokenDto::from).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    let page = paging::page_sorted(items, limit, "tokens", q.cursor.as_deref(), |t| t.name.clone())?;
    Ok(HttpResponse::Ok().json(page))
}

/// Issue a token. The response is the only time its secret is shown; only a hash is stored.
#[utoipa::path(tag = "tokens", request_body = TokenInput,
    responses((status = 201, body = TokenCreatedDto), (status = 400, body = Problem), (status = 409, body = Problem),
        (status = 422, description = "A field breaks a rule; only a `cluster` token names a `cluster`", body = Problem)), extensions(("x-required-role" = json!("admin"))))]
#[post("/tokens")]
pub async fn create_token(state: Shared, req: HttpRequest, body: Body<TokenInput>) -> Result<HttpResponse, Error> {
    let (caller, new) = (caller(&req), NewToken::try_from(body.0)?);
    let (token, secret) = blocking(move || tokens::create(&state, &caller, new)).await?;
    let dto = TokenCreatedDto {
        token: secret,
        info: TokenDto::from(&token),
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(dto))
}

/// Revoke a token: the next request that carries it is refused with 401.
#[utoipa::path(tag = "tokens", params(("name" = String, Path, description = "Token name")),
    responses((status = 204, description = "Revoked"), (status = 404, body = Problem)), extensions(("x-required-role" = json!("admin"))))]
#[delete("/tokens/{name}")]
pub async fn revoke_token(state: Shared, req: HttpRequest, name: web::Path<String>) -> Result<HttpResponse, Error> {
    let caller = caller(&req);
    blocking(move || tokens::revoke(&state, &caller, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_tokens).service(create_token).service(revoke_token);
}

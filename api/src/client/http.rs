//! The client's side of the REST API: requests with the bearer token, pages followed to the
//! end, and problem documents turned into errors that say which token was used and what
//! role the route needs.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::config::Resolved;
use crate::error::{Error, FieldError};
use crate::http::dto::Page;

/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Items per page when fetching a whole list.
const PAGE: &str = "500";

/// A connection to one service.
pub struct Client {
    target: Resolved,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

/// An answer: its status, the headers the CLI reads, and its body.
pub struct Reply {
    pub status: u16,
    pub next_cursor: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::Internal(format!("the service's answer is not what this client reads: {e}")))
    }
}

#[derive(Deserialize)]
struct ProblemDoc {
    #[serde(default)]
    detail: String,
    #[serde(default)]
    errors: Vec<ProblemFieldDoc>,
}

#[derive(Deserialize)]
struct ProblemFieldDoc {
    path: String,
    message: String,
}

impl Client {
    pub fn new(target: Resolved) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("platform-catalog/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Usage(format!("cannot build the HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the client runtime: {e}")))?;
        Ok(Client { target, http, runtime })
    }

    pub fn server(&self) -> &str {
        &self.target.server
    }

    /// One request; a non-2xx answer becomes an error.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        accept: &str,
    ) -> Result<Reply, Error> {
        let mut url = format!("{}{path}", self.target.server);
        if !query.is_empty() {
            let qs: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            url = format!("{url}?{qs}");
        }
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::ACCEPT, accept);
        if let Some(t) = &self.target.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let unreachable = |e: reqwest::Error| Error::Unavailable(format!("cannot reach {}: {e}", self.target.server));
        let (status, next_cursor, body) = self.runtime.block_on(async {
            let res = req.send().await.map_err(unreachable)?;
            let status = res.status();
            let next = res
                .headers()
                .get(crate::http::fleet::NEXT_CURSOR_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = res.bytes().await.map_err(unreachable)?;
            Ok::<_, Error>((status, next, body.to_vec()))
        })?;
        if !status.is_success() {
            return Err(self.refusal(&method, path, status, &body));
        }
        Ok(Reply {
            status: status.as_u16(),
            next_cursor,
            body,
        })
    }

    /// `GET` a JSON document.
    pub fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T, Error> {
        self.request(Method::GET, path, query, None, "application/json")?.json()
    }

    /// A write with a JSON body (or none).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Reply, Error> {
        self.request(method, path, query, body, "application/json")
    }

    /// Every item of a paged list, following `next_cursor` to the last page.
    pub fn all<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q: Vec<(&str, String)> = query.to_vec();
            q.push(("limit", PAGE.to_owned()));
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let page: Page<T> = self.get(path, &q)?;
            items.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(items),
            }
        }
    }

    fn refusal(&self, method: &Method, path: &str, status: StatusCode, body: &[u8]) -> Error {
        let problem: Option<ProblemDoc> = serde_json::from_slice(body).ok();
        let detail = match &problem {
            Some(p) if !p.detail.is_empty() => p.detail.clone(),
            _ => format!("{method} {path}: {status}"),
        };
        let errors = problem
            .map(|p| {
                p.errors
                    .into_iter()
                    .map(|f| FieldError {
                        path: f.path,
                        message: f.message,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let needs = required_role(method.as_str(), path)
                    .map(|r| format!("; {method} {path} needs the {r} role"))
                    .unwrap_or_default();
                Some(format!(
                    "used {} against {}{needs}",
                    self.target.credential, self.target.server
                ))
            }
            _ => None,
        };
        Error::Remote {
            status: status.as_u16(),
            detail,
            errors,
            hint,
        }
    }
}

/// The role the API's document says `method path` needs (`x-required-role`).
pub fn required_role(method: &str, path: &str) -> Option<String> {
    let doc = serde_json::to_value(crate::http::openapi()).ok()?;
    let path = path.split('?').next().unwrap_or(path);
    let wanted: Vec<&str> = path.split('/').collect();
    let paths = doc.get("paths")?.as_object()?;
    paths.iter().find_map(|(template, ops)| {
        let parts: Vec<&str> = template.split('/').collect();
        let matches = parts.len() == wanted.len()
            && parts
                .iter()
                .zip(&wanted)
                .all(|(t, w)| (t.starts_with('{') && t.ends_with('}')) || t == w);
        if !matches {
            return None;
        }
        ops.get(method.to_ascii_lowercase())?
            .get("x-required-role")?
            .as_str()
            .map(str::to_owned)
    })
}

/// A path segment, percent-encoded.
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_required_role_is_read_from_the_document_by_path_template() {
        assert_eq!(required_role("GET", "/api/v1/clusters").as_deref(), Some("viewer"));
        assert_eq!(required_role("DELETE", "/api/v1/holds/7").as_deref(), Some("operator"));
        assert_eq!(
            required_role("PUT", "/api/v1/tiers/prod?dry_run=true").as_deref(),
            Some("admin")
        );
        assert_eq!(required_role("GET", "/api/v1/nowhere"), None);
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}

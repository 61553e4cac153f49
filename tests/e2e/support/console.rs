//! The console spoken to as a plain HTTP client (no browser): sign in, read pages with the
//! session cookie, post forms; redirects are not followed, so tests see them.

use super::app::{Reply, TestApp};

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
    /// The session cookie's value once signed in.
    pub session: String,
}

impl Client {
    pub fn new(app: &TestApp) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Client {
            base: app.base.clone(),
            agent: ureq::Agent::new_with_config(config),
            session: String::new(),
        }
    }

    /// Sends a request with the session cookie (when there is one) and `headers`.
    pub fn send(&self, method: &str, path: &str, form: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if form.is_some() {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        if !self.session.is_empty() {
            builder = builder.header("cookie", format!("pc_session={}", self.session));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(form.unwrap_or("").to_owned()).expect("a valid request");
        let mut response = self
            .agent
            .run(request)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        Reply {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, &[])
    }

    /// Posts `fields` as a form.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        self.send("POST", path, Some(&body.finish()), &[])
    }

    /// Signs in with `token`; returns the sign-in answer and keeps its session.
    pub fn sign_in(&mut self, token: &str, headers: &[(&str, &str)]) -> Reply {
        let body = format!("token={token}");
        let reply = self.send("POST", "/ui/login", Some(&body), headers);
        if let Some(cookie) = reply.header("set-cookie") {
            let value = cookie.split(';').next().unwrap_or("");
            self.session = value.trim_start_matches("pc_session=").to_owned();
        }
        reply
    }

    /// The session's CSRF token, read from the sign-out form of the fleet page.
    pub fn csrf(&self) -> String {
        let page = self.get("/ui/").body;
        let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
        page[at..].split('"').next().unwrap_or("").to_owned()
    }
}

//! HTTP helpers for API tests: JSON calls that insist on a status, lists followed to their
//! last page, problem documents checked by the field they name.

use serde_json::Value;

use super::app::{Reply, TestApp};

/// Sends `body` with `X-Request-Id: id`, insists on `status`, and returns the JSON answer.
pub fn send(app: &TestApp, method: &str, path: &str, body: Value, id: &str, status: u16) -> Value {
    let reply = app.request(method, path, Some(&body.to_string()), &[("x-request-id", id)]);
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
    serde_json::from_str(&reply.body).unwrap_or(Value::Null)
}

/// The item of a JSON array whose `key` is `value`.
pub fn item<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    let items = list.as_array().unwrap();
    items
        .iter()
        .find(|i| i[key] == value)
        .unwrap_or_else(|| panic!("no {key}={value} in {list}"))
}

/// Every page of a list from `path` (which already has a `?`), following `next_cursor`.
pub fn pages(app: &TestApp, path: &str) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let reply = app.get(&url);
        assert_eq!(reply.status, 200, "{url}: {}", reply.body);
        let page = reply.json();
        out.push(page["items"].as_array().unwrap().clone());
        match page.get("next_cursor") {
            Some(c) => cursor = Some(c.as_str().unwrap().to_owned()),
            None => return out,
        }
        assert!(out.len() < 1000, "paging does not end");
    }
}

/// A problem+json answer with `status` whose first error names `path`.
pub fn assert_problem(reply: &Reply, status: u16, path: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/problem+json"));
    assert_eq!(reply.json()["errors"][0]["path"], path, "{}", reply.body);
}

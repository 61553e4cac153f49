//! List paging: `?limit=` and an opaque `cursor`, refused by name when malformed. Every list
//! answers `{"items": [...], "next_cursor": ...}`.
//!
//! Lists are keyed by an increasing number (a revision, an audit id) or a name (clusters); the cursor
//! is the key of the last item shown, so a page never repeats or skips an item even while
//! writes append new ones at the head. Lists read whole from the catalog or a small table
//! page in memory ([`page_sorted`], [`page_positional`]).

use serde::Deserialize;
use utoipa::IntoParams;

use super::dto::Page;
use crate::error::Error;

/// `?limit=` and `?cursor=` of a list that takes no other parameter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items per page, 1 to 500; default 50.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// What the document says of every `cursor` parameter: hex, as this service writes cursors, and
/// refused with 422 when it is not one this list handed out.
const CURSOR_PATTERN: &str = "^([0-9a-f]{2}){1,256}$";

/// Gives every `cursor` query parameter the shape of the cursors this service hands out, and
/// says on the operation's 422 that a cursor from elsewhere is refused.
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        let Some(op) = item.get.as_mut() else { continue };
        let mut takes_a_cursor = false;
        for param in op.parameters.iter_mut().flatten() {
            let RefOr::T(param) = param else { continue };
            if param.name == "cursor" && matches!(param.parameter_in, ParameterIn::Query) {
                takes_a_cursor = true;
                param.description = Some(
                    "`next_cursor` of the previous page, unchanged: hex written by this service. \
                     One this list did not hand out is refused with 422."
                        .to_owned(),
                );
                param.schema = Some(RefOr::T(Schema::Object(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(CURSOR_PATTERN))
                        .build(),
                )));
            }
        }
        if let (true, Some(RefOr::T(refused))) = (takes_a_cursor, op.responses.responses.get_mut("422")) {
            if !refused.description.contains("cursor") {
                refused.description = format!(
                    "{}; or `cursor` is not one this list handed out",
                    refused.description.trim_end_matches('.')
                );
            }
        }
    }
}

/// A key that sorts numbers as text: ascending ids.
pub fn ascending(id: i64) -> String {
    format!("{id:020}")
}

/// A key that sorts numbers as text: descending ids (newest first).
pub fn descending(id: i64) -> String {
    format!("{:020}", i64::MAX.saturating_sub(id))
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// `?limit=`: absent means the default; anything but an integer in 1..=500 is refused.
pub fn limit(raw: Option<&str>) -> Result<i64, Error> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(Error::field(
            "limit",
            format!("must be an integer from 1 to {MAX_LIMIT}, not {raw:?}"),
        )),
    }
}

/// A cursor names its list (`kind`) so one list's cursor is not silently accepted by another.
/// Hex keeps it opaque and URL-safe without another dependency.
pub fn encode_cursor(kind: &str, key: i64) -> String {
    encode_name_cursor(kind, &key.to_string())
}

/// The key a cursor carries; a cursor this service did not hand out for `kind` is refused.
pub fn decode_cursor(kind: &str, raw: Option<&str>) -> Result<Option<i64>, Error> {
    let Some(text) = decode_name_cursor(kind, raw)? else {
        return Ok(None);
    };
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(refused)
}

fn refused() -> Error {
    Error::field(
        "cursor",
        "is not a cursor this list handed out; pass next_cursor from the previous page unchanged",
    )
}

/// A cursor for lists ordered by name: the last name shown.
pub fn encode_name_cursor(kind: &str, name: &str) -> String {
    format!("{kind}:{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

/// The name a name cursor carries; refused like [`decode_cursor`].
pub fn decode_name_cursor(kind: &str, raw: Option<&str>) -> Result<Option<String>, Error> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    if raw.is_empty() || raw.len() % 2 != 0 || raw.len() > 512 {
        return Err(refused());
    }
    let bytes = (0..raw.len())
        .step_by(2)
        .map(|i| raw.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(refused)?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let name = text
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix(':'))
        .filter(|n| !n.is_empty());
    name.map(|n| Some(n.to_owned())).ok_or_else(refused)
}

/// A page from rows fetched with `limit + 1`: the extra row only says another page exists.
pub fn page<R, D>(mut rows: Vec<R>, limit: i64, kind: &str, key: impl Fn(&R) -> i64, dto: impl Fn(&R) -> D) -> Page<D> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(encode_cursor(kind, key(last))),
        _ => None,
    };
    Page {
        items: rows.iter().map(dto).collect(),
        next_cursor,
    }
}

/// A page of a list held in memory whose items come in ascending order of `key`: the items
/// after the cursor's key. Removing the item a cursor names skips nothing.
pub fn page_sorted<D>(
    items: Vec<D>,
    limit: i64,
    kind: &str,
    cursor: Option<&str>,
    key: impl Fn(&D) -> String,
) -> Result<Page<D>, Error> {
    let after = decode_name_cursor(kind, cursor)?;
    let rest: Vec<D> = items
        .into_iter()
        .filter(|d| after.as_ref().is_none_or(|a| key(d).as_str() > a.as_str()))
        .collect();
    Ok(cut(rest, limit, kind, key))
}

/// A page of a list held in memory in an order of its own (catalog order, version order): the
/// items after the one the cursor names, which must still be in the list.
pub fn page_positional<D>(
    items: Vec<D>,
    limit: i64,
    kind: &str,
    cursor: Option<&str>,
    key: impl Fn(&D) -> String,
) -> Result<Page<D>, Error> {
    let rest = match decode_name_cursor(kind, cursor)? {
        None => items,
        Some(after) => {
            let at = items.iter().position(|d| key(d) == after).ok_or_else(|| {
                Error::field(
                    "cursor",
                    format!("names {after:?}, which is no longer in the list; start again without a cursor"),
                )
            })?;
            items.into_iter().skip(at + 1).collect()
        }
    };
    Ok(cut(rest, limit, kind, key))
}

fn cut<D>(mut rest: Vec<D>, limit: i64, kind: &str, key: impl Fn(&D) -> String) -> Page<D> {
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = match (more, rest.last()) {
        (true, Some(last)) => Some(encode_name_cursor(kind, &key(last))),
        _ => None,
    };
    Page {
        items: rest,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_lists_and_garbage() {
        let c = encode_cursor("rev", 42);
        assert_eq!(decode_cursor("rev", Some(&c)).ok().flatten(), Some(42));
        assert!(decode_cursor("audit", Some(&c)).is_err());
        for bad in ["", "zz", "abc", "7265763a30", "7265763a2d31"] {
            assert!(decode_cursor("rev", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn in_memory_pages_follow_their_cursor_to_the_end() {
        let names = || vec!["a", "b", "c", "d", "e"];
        let first = page_sorted(names(), 2, "t", None, |s| s.to_string()).unwrap();
        assert_eq!(first.items, ["a", "b"]);
        let second = page_sorted(names(), 2, "t", first.next_cursor.as_deref(), |s| s.to_string()).unwrap();
        assert_eq!(second.items, ["c", "d"]);
        let last = page_sorted(names(), 2, "t", second.next_cursor.as_deref(), |s| s.to_string()).unwrap();
        assert_eq!((last.items, last.next_cursor), (vec!["e"], None));
        let order = || vec!["dev", "qa", "prod"];
        let first = page_positional(order(), 1, "tiers", None, |s| s.to_string()).unwrap();
        let next = page_positional(order(), 5, "tiers", first.next_cursor.as_deref(), |s| s.to_string()).unwrap();
        assert_eq!((next.items, next.next_cursor), (vec!["qa", "prod"], None));
        let gone = encode_name_cursor("tiers", "staging");
        assert!(page_positional(order(), 5, "tiers", Some(&gone), |s| s.to_string()).is_err());
    }

    #[test]
    fn limits_outside_1_to_500_are_refused() {
        assert_eq!(limit(None).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(limit(Some("500")).ok(), Some(500));
        for bad in ["0", "501", "-1", "ten", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }
}

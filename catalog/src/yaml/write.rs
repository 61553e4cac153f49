//! A small block-style YAML writer over JSON values.
//!
//! Rendered objects must be byte-for-byte stable and cheap to produce; owning the writer means
//! quoting and layout never change under us with a dependency update. Strings that a YAML 1.1
//! or 1.2 reader could take for anything but a string are written double-quoted (JSON escaping
//! is valid YAML), so the output reads back the same in kubectl, Flux and every YAML library.

use std::fmt::Write;

use serde_json::Value;

/// Writes `value` as one YAML document (no leading `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(512);
    write_document(&mut out, value);
    out
}

/// Appends `value` as one YAML document to `out`.
pub fn write_document(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => write_map(out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(out, items, 0),
        scalar => {
            write_scalar(out, scalar);
            out.push('\n');
        }
    }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        write_str(out, key);
        out.push(':');
        write_child(out, value, level);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push('-');
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key shares the dash's line; the rest align under it.
                out.push(' ');
                let mut first = true;
                for (key, value) in map {
                    if !first {
                        indent(out, level + 2);
                    }
                    first = false;
                    write_str(out, key);
                    out.push(':');
                    write_child(out, value, level + 2);
                }
            }
            other => write_child(out, other, level),
        }
    }
}

/// Writes what follows `key:` or `-`: a scalar on the same line, a collection indented below.
fn write_child(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, level + 2);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar);
            out.push('\n');
        }
    }
}

fn write_scalar(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_str(out: &mut String, s: &str) {
    if needs_quotes(s) {
        // A JSON string literal is a valid YAML double-quoted scalar.
        out.push_str(&Value::String(s.to_owned()).to_string());
    } else {
        out.push_str(s);
    }
}

fn needs_quotes(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if first.is_whitespace() || s.ends_with(char::is_whitespace) || s.ends_with(':') {
        return true;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return true;
    }
    is_reserved_word(s) || looks_numeric(s)
}

/// Words YAML 1.1 or 1.2 readers turn into booleans, nulls or special floats.
fn is_reserved_word(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", ".inf", "-.inf", "+.inf", ".nan",
    ];
    WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

/// Anything a reader might parse as a number (including YAML 1.1 octal, hex and `1:20`).
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let body = body.strip_prefix('.').unwrap_or(body);
    body.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'_' | b':' | b'+' | b'-' | b'x' | b'X' | b'o' | b'O'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_block_style_with_indented_sequences() {
        let v = json!({
            "apiVersion": "v1",
            "metadata": {"name": "grafana", "labels": {"app.kubernetes.io/managed-by": "platform-catalog"}},
            "spec": {"dependsOn": [{"name": "a"}, {"name": "b", "namespace": "x"}], "prune": true, "list": ["x"], "empty": []}
        });
        assert_eq!(
            to_yaml(&v),
            "apiVersion: v1\nmetadata:\n  name: grafana\n  labels:\n    app.kubernetes.io/managed-by: platform-catalog\n\
             spec:\n  dependsOn:\n    - name: a\n    - name: b\n      namespace: x\n  prune: true\n  list:\n    - x\n  empty: []\n"
        );
    }

    #[test]
    fn strings_that_read_back_as_other_types_are_quoted() {
        for s in ["42", "1.0", "true", "No", "null", "", " x", "a: b", "#x", "-x", "0x1f", "1:20", "1e3", ".5", "é"] {
            assert!(to_yaml(&json!({ "k": s })).starts_with("k: \""), "{s:?}");
        }
        for s in ["10m", "v1.1.0", "./core/x/1.0/prod", "oci://r.example.com/p", "sha256:abc", "cert-manager"] {
            assert_eq!(to_yaml(&json!({ "k": s })), format!("k: {s}\n"), "{s:?}");
        }
    }

    #[test]
    fn what_it_writes_reads_back_to_the_same_value() {
        let v = json!({"a": ["1", 1, "yes", {"b": "c: d", "e": [true, null]}], "f": "multi\nline", "g": {}});
        let back = crate::yaml::parse(&to_yaml(&v)).unwrap();
        assert_eq!(back.value, v);
    }
}

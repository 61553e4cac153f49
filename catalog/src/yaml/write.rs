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

/// Writes block YAML line by line for callers that know their structure; faster than building
/// a JSON value first, and quoting by the same rules as [`to_yaml`].
pub struct Emitter<'a> {
    out: &'a mut String,
}

impl<'a> Emitter<'a> {
    pub fn new(out: &'a mut String) -> Self {
        Emitter { out }
    }

    /// `key: value`, the value quoted where a reader could mistake it.
    pub fn str(&mut self, level: usize, key: &str, value: &str) {
        self.key(level, key);
        self.out.push(' ');
        write_str(self.out, value);
        self.out.push('\n');
    }

    pub fn bool(&mut self, level: usize, key: &str, value: bool) {
        self.key(level, key);
        self.out.push_str(if value { " true\n" } else { " false\n" });
    }

    /// `key:` opening a nested block.
    pub fn open(&mut self, level: usize, key: &str) {
        self.key(level, key);
        self.out.push('\n');
    }

    /// `- key: value`, the first line of a sequence item that is a mapping.
    pub fn item_str(&mut self, level: usize, key: &str, value: &str) {
        indent(self.out, level);
        self.out.push_str("- ");
        self.str(0, key, value);
    }

    /// A string map; `key: {}` when empty, as [`to_yaml`] writes it.
    pub fn map<'m>(&mut self, level: usize, key: &str, entries: impl ExactSizeIterator<Item = (&'m str, &'m str)>) {
        if entries.len() == 0 {
            self.key(level, key);
            self.out.push_str(" {}\n");
            return;
        }
        self.open(level, key);
        for (k, v) in entries {
            self.str(level + 2, k, v);
        }
    }

    fn key(&mut self, level: usize, key: &str) {
        indent(self.out, level);
        write_str(self.out, key);
        self.out.push(':');
    }
}

fn indent(out: &mut String, n: usize) {
    const SPACES: &str = "                ";
    match SPACES.get(..n) {
        Some(spaces) => out.push_str(spaces),
        None => out.extend(std::iter::repeat_n(' ', n)),
    }
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
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return true;
    };
    if b"-?:,[]{}#&*!|>'\"%@` \t".contains(&first) || last == b' ' || last == b'\t' || last == b':' {
        return true;
    }
    // One pass: control or non-ASCII characters, `: ` (a nested key) and ` #` (a comment).
    let mut prev = 0u8;
    for &b in bytes {
        if !(0x20..0x7f).contains(&b) || (prev == b':' && b == b' ') || (prev == b' ' && b == b'#') {
            return true;
        }
        prev = b;
    }
    (bytes.len() <= 6 && is_reserved_word(s)) || looks_numeric(s)
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
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b'_' | b':' | b'+' | b'-' | b'x' | b'X' | b'o' | b'O'))
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
        for s in [
            "42", "1.0", "true", "No", "null", "", " x", "a: b", "#x", "-x", "0x1f", "1:20", "1e3", ".5", "é",
        ] {
            assert!(to_yaml(&json!({ "k": s })).starts_with("k: \""), "{s:?}");
        }
        for s in [
            "10m",
            "v1.1.0",
            "./core/x/1.0/prod",
            "oci://r.example.com/p",
            "sha256:abc",
            "cert-manager",
        ] {
            assert_eq!(to_yaml(&json!({ "k": s })), format!("k: {s}\n"), "{s:?}");
        }
    }

    #[test]
    fn the_emitter_writes_what_to_yaml_writes() {
        let labels = std::collections::BTreeMap::from([("a/b", "1")]);
        let mut out = String::new();
        let mut e = Emitter::new(&mut out);
        e.open(0, "spec");
        e.str(2, "interval", "10m");
        e.bool(2, "prune", true);
        e.map(2, "labels", labels.iter().map(|(k, v)| (*k, *v)));
        e.map(2, "none", std::iter::empty());
        e.open(2, "dependsOn");
        e.item_str(4, "name", "yes");
        let value = json!({"spec": {"interval": "10m", "prune": true, "labels": {"a/b": "1"}, "none": {}, "dependsOn": [{"name": "yes"}]}});
        assert_eq!(out, to_yaml(&value));
    }

    #[test]
    fn what_it_writes_reads_back_to_the_same_value() {
        let v = json!({"a": ["1", 1, "yes", {"b": "c: d", "e": [true, null]}], "f": "multi\nline", "g": {}});
        let back = crate::yaml::parse(&to_yaml(&v)).unwrap();
        assert_eq!(back.value, v);
    }
}

//! Reads one YAML document into JSON values (YAML 1.2 core schema), keeping each value's line
//! so that validation errors can point at the line a user has to fix.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Number, Value};

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// A path into a document, shown JSONPath-style: `$.components[2].oci_tag`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct JsonPath(Vec<PathSeg>);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Key(key.to_owned()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Index(i));
        p
    }

    /// Builds a path from a JSON Pointer, using the document to tell array indexes from keys.
    pub fn from_pointer(pointer: &str, doc: &Value) -> Self {
        let mut path = JsonPath::root();
        let mut node = Some(doc);
        for raw in pointer.split('/').skip(1) {
            let seg = raw.replace("~1", "/").replace("~0", "~");
            match (node, seg.parse::<usize>()) {
                (Some(Value::Array(items)), Ok(i)) => {
                    node = items.get(i);
                    path.0.push(PathSeg::Index(i));
                }
                (current, _) => {
                    node = current.and_then(|n| n.get(&seg));
                    path.0.push(PathSeg::Key(seg));
                }
            }
        }
        path
    }

    pub fn segments(&self) -> &[PathSeg] {
        &self.0
    }

    /// Reads a path as it is shown (`$.components[2].oci_tag`, `$["a/b"]`): the way back from
    /// a diagnostic's text to its steps. `None` for text that is not such a path.
    pub fn parse(text: &str) -> Option<JsonPath> {
        let mut rest = text.strip_prefix('$')?;
        let mut path = JsonPath::root();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let (key, tail) = after.split_at(end);
                if key.is_empty() {
                    return None;
                }
                path.0.push(PathSeg::Key(key.to_owned()));
                rest = tail;
            } else if let Some(quoted) = rest.strip_prefix('[').filter(|q| q.starts_with('"')) {
                // A key shown as a JSON string: read it as one, then its closing bracket.
                let mut strings = serde_json::Deserializer::from_str(quoted).into_iter::<String>();
                let key = strings.next()?.ok()?;
                rest = quoted.get(strings.byte_offset()..)?.strip_prefix(']')?;
                path.0.push(PathSeg::Key(key));
            } else {
                let (index, tail) = rest.strip_prefix('[')?.split_once(']')?;
                path.0.push(PathSeg::Index(index.parse().ok()?));
                rest = tail;
            }
        }
        Some(path)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for seg in &self.0 {
            match seg {
                PathSeg::Index(i) => write!(f, "[{i}]")?,
                PathSeg::Key(k) if is_simple_key(k) => write!(f, ".{k}")?,
                PathSeg::Key(k) => write!(f, "[{}]", Value::String(k.clone()))?,
            }
        }
        Ok(())
    }
}

/// Whether a key shows as `.key` in a path (else as `["key"]`).
pub fn is_simple_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A YAML syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}: {}", self.line, self.column, self.message)
    }
}

/// A parsed document: its value, the line of each path in it, and the duplicate keys found.
#[derive(Debug)]
pub struct YamlDoc {
    pub value: Value,
    lines: HashMap<JsonPath, usize>,
    /// `(path, line, first line)` for each key that appeared twice in one mapping.
    pub duplicates: Vec<(JsonPath, usize, usize)>,
}

impl YamlDoc {
    /// A document that did not come from YAML text (an API body, a database row): no lines.
    pub fn from_value(value: Value) -> Self {
        YamlDoc {
            value,
            lines: HashMap::new(),
            duplicates: Vec::new(),
        }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line(&self, path: &JsonPath) -> Option<usize> {
        let mut p = path.clone();
        loop {
            if let Some(line) = self.lines.get(&p) {
                return Some(*line);
            }
            p.0.pop()?;
        }
    }
}

/// Parses exactly one YAML document (an empty input is `null`).
pub fn parse(text: &str) -> Result<YamlDoc, YamlError> {
    let mut docs = Reader::new(text).documents(Some(1))?;
    Ok(docs.pop().unwrap_or_else(|| YamlDoc::from_value(Value::Null)))
}

/// Parses every document of a stream (`---` separated), each with the lines of its values in
/// the whole text; an empty input is no document.
pub fn parse_stream(text: &str) -> Result<Vec<YamlDoc>, YamlError> {
    Reader::new(text).documents(None)
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Value>,
    lines: HashMap<JsonPath, usize>,
    duplicates: Vec<(JsonPath, usize, usize)>,
}

fn scan_error(e: &ScanError) -> YamlError {
    YamlError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    }
}

fn at(span: Span, message: impl Into<String>) -> YamlError {
    YamlError {
        line: span.start.line(),
        column: span.start.col() + 1,
        message: message.into(),
    }
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Self {
        Reader {
            parser: Parser::new_from_str(text),
            anchors: HashMap::new(),
            lines: HashMap::new(),
            duplicates: Vec::new(),
        }
    }

    fn next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        match self.parser.next_event() {
            Some(Ok(ev)) => Ok(ev),
            Some(Err(e)) => Err(scan_error(&e)),
            None => Err(YamlError {
                line: 0,
                column: 0,
                message: "unexpected end of input".into(),
            }),
        }
    }

    /// Every document of the stream; more than `most` is an error naming the first extra one.
    fn documents(mut self, most: Option<usize>) -> Result<Vec<YamlDoc>, YamlError> {
        let mut docs = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentEnd => {}
                Event::DocumentStart(_) => {
                    if most.is_some_and(|m| docs.len() >= m) {
                        return Err(at(span, "expected a single YAML document, found a second one ('---')"));
                    }
                    let (ev, span) = self.next()?;
                    let value = self.node(ev, span, &JsonPath::root())?;
                    // Anchors and lines belong to their document.
                    self.anchors.clear();
                    docs.push(YamlDoc {
                        value,
                        lines: std::mem::take(&mut self.lines),
                        duplicates: std::mem::take(&mut self.duplicates),
                    });
                }
                Event::StreamEnd => return Ok(docs),
                _ => return Err(at(span, "unexpected YAML event outside a document")),
            }
        }
    }

    fn node(&mut self, ev: Event<'a>, span: Span, path: &JsonPath) -> Result<Value, YamlError> {
        self.lines.entry(path.clone()).or_insert(span.start.line());
        let (value, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => (resolve_scalar(&text, style, tag.as_deref()), anchor),
            Event::SequenceStart(anchor, _) => (self.sequence(path)?, anchor),
            Event::MappingStart(anchor, _) => (self.mapping(path)?, anchor),
            Event::Alias(id) => {
                let value = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| at(span, "alias to an unknown anchor"))?;
                (value, 0)
            }
            _ => return Err(at(span, "unexpected YAML event")),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        Ok(value)
    }

    fn sequence(&mut self, path: &JsonPath) -> Result<Value, YamlError> {
        let mut items = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::SequenceEnd) {
                return Ok(Value::Array(items));
            }
            let item = self.node(ev, span, &path.index(items.len()))?;
            items.push(item);
        }
    }

    fn mapping(&mut self, path: &JsonPath) -> Result<Value, YamlError> {
        let mut map = Map::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        loop {
            let (ev, span) = self.next()?;
            let key = match ev {
                Event::MappingEnd => return Ok(Value::Object(map)),
                Event::Scalar(text, ..) => text.into_owned(),
                _ => return Err(at(span, "mapping keys must be plain strings")),
            };
            let child = path.key(&key);
            let line = span.start.line();
            let (ev, vspan) = self.next()?;
            if let Some(&first) = seen.get(&key) {
                // Parsed for syntax only; lines are kept first-wins, so the first stays.
                self.duplicates.push((child.clone(), line, first));
                self.node(ev, vspan, &child)?;
                continue;
            }
            seen.insert(key.clone(), line);
            self.lines.insert(child.clone(), line);
            let value = self.node(ev, vspan, &child)?;
            map.insert(key, value);
        }
    }
}

/// YAML 1.2 core schema resolution for untagged plain scalars; everything quoted is a string.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.is_yaml_core_schema() && tag.suffix == "str" {
            return Value::String(text.to_owned());
        }
    }
    if style != ScalarStyle::Plain {
        return Value::String(text.to_owned());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Some(n) = resolve_int(text) {
        return Value::Number(n);
    }
    if looks_like_float(text) {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_owned())
}

fn resolve_int(text: &str) -> Option<Number> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(oct) = text.strip_prefix("0o") {
        (oct, 8)
    } else {
        let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
        if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return text.parse::<i64>().ok().map(Number::from);
    };
    if digits.is_empty() {
        return None;
    }
    i64::from_str_radix(digits, radix).ok().map(Number::from)
}

fn looks_like_float(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_resolve_by_the_yaml_1_2_core_schema() {
        let doc = parse("a: 1\nb: 1.10\nc: '1.10'\nd: yes\ne: ~\nf: true\ng: v1.0.0\nh: 0x1f\ni: 1e3\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": 1.1, "c": "1.10", "d": "yes", "e": null, "f": true, "g": "v1.0.0", "h": 31, "i": 1000.0})
        );
    }

    #[test]
    fn every_path_knows_its_line() {
        let doc = parse("top:\n  - id: a\n    deps: [x, y]\n  - id: b\n    policy: {pin: true}\n").unwrap();
        let p = JsonPath::root().key("top");
        assert_eq!(doc.line(&p), Some(1));
        assert_eq!(doc.line(&p.index(0).key("id")), Some(2));
        assert_eq!(doc.line(&p.index(0).key("deps").index(1)), Some(3));
        assert_eq!(doc.line(&p.index(1)), Some(4));
        assert_eq!(doc.line(&p.index(1).key("policy").key("pin")), Some(5));
        assert_eq!(doc.line(&p.index(1).key("missing")), Some(4));
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_lines_and_the_first_wins() {
        let doc = parse("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(doc.value, json!({"a": 1, "b": 2}));
        assert_eq!(doc.duplicates, vec![(JsonPath::root().key("a"), 3, 1)]);
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.line >= 1, "{err}");
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn a_stream_gives_each_document_with_lines_in_the_whole_text() {
        let docs = parse_stream("---\na: 1\n---\nb:\n  c: 2\n").unwrap();
        assert_eq!(
            docs.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
            [json!({"a": 1}), json!({"b": {"c": 2}})]
        );
        assert_eq!(docs[1].line(&JsonPath::root().key("b").key("c")), Some(5));
        assert_eq!(docs[0].line(&JsonPath::root().key("b")), Some(2));
        assert!(parse_stream("").unwrap().is_empty());
    }

    #[test]
    fn anchors_and_aliases_copy_values() {
        let doc = parse("a: &x {k: 1}\nb: *x\n").unwrap();
        assert_eq!(doc.value, json!({"a": {"k": 1}, "b": {"k": 1}}));
    }

    #[test]
    fn paths_display_jsonpath_style_and_convert_from_pointers() {
        let doc = json!({"components": [{"oci_tag": "x"}], "a/b": 1});
        assert_eq!(
            JsonPath::from_pointer("/components/0/oci_tag", &doc).to_string(),
            "$.components[0].oci_tag"
        );
        assert_eq!(JsonPath::from_pointer("/a~1b", &doc).to_string(), "$[\"a/b\"]");
    }

    #[test]
    fn a_shown_path_reads_back_into_its_steps() {
        for text in ["$", "$.components[0].oci_tag", "$[\"a/b\"].c[12]", "$.labels[\"x.y]\"]"] {
            let path = JsonPath::parse(text).unwrap();
            assert_eq!(path.to_string(), text);
        }
        assert_eq!(
            JsonPath::parse("$.tiers[1].policy").unwrap(),
            JsonPath::root().key("tiers").index(1).key("policy")
        );
        for bad in ["", "components", "$.", "$[x]", "$[1", "$[\"a\"", "$..a"] {
            assert_eq!(JsonPath::parse(bad), None, "{bad}");
        }
    }
}

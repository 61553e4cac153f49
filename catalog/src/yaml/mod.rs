//! YAML in and out: a reader that remembers the line of every value, and a deterministic writer.

mod read;
mod write;

pub use read::{is_simple_key, parse, parse_stream, JsonPath, PathSeg, YamlDoc, YamlError};
pub use write::{to_yaml, write_document, Emitter};

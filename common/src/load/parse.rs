//! Parses a YAML or JSON stream into its documents, each with its index and line.

use std::path::Path;

use serde_saphyr::{
    DefaultMessageFormatter, MessageFormatter, NonFiniteFloatPolicy, budget::BudgetBreach,
};

use super::split;

/// Deeper than any Istio resource needs (they nest about ten levels), and shallow enough that
/// recursive code over the parsed value cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
/// Aliases let a small document expand into a huge one ("billion laughs"); resources have no
/// use for more than a few.
const MAX_REPLAYED_ALIAS_EVENTS: usize = 100_000;

/// How a stream is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    Yaml,
    Json,
}

/// A parsed document, not yet decoded.
#[derive(Debug)]
pub(super) struct Document {
    /// 0-based, counting the non-empty documents of the stream.
    pub index: usize,
    /// The 1-based line where the document's content begins.
    pub line: usize,
    pub value: serde_json::Value,
}

/// A document that is not well-formed YAML or JSON.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub index: usize,
    /// The 1-based line of the error, as precise as the parser tells.
    pub line: usize,
    pub reason: String,
}

// === impl Format ===

impl Format {
    /// JSON for `.json` files, YAML for `.yaml` and `.yml`; a stream of another name (standard
    /// input) is JSON when it starts as JSON does, as `kubectl` decides.
    pub(super) fn of(name: &Path, text: &str) -> Format {
        match name.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            Some(e) if e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml") => {
                Format::Yaml
            }
            _ if text.trim_start().starts_with(['{', '[']) => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// Parses every document of `text`. A YAML document with a syntax error is reported and the
/// documents after it are still read; a JSON stream stops at its first error, since there is no
/// telling where the next value would begin.
pub(super) fn parse(text: &str, format: Format) -> Vec<Result<Document, SyntaxError>> {
    match format {
        Format::Yaml => parse_yaml(text),
        Format::Json => parse_json(text),
    }
}

fn parse_yaml(text: &str) -> Vec<Result<Document, SyntaxError>> {
    split::split(text)
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| {
            serde_saphyr::from_str_with_options(chunk.text, yaml_options())
                .map(|value| Document {
                    index,
                    line: chunk.start_line,
                    value,
                })
                .map_err(|error| {
                    // The parser counts lines from the start of the chunk it was given.
                    let line = error
                        .location()
                        .and_then(|l| usize::try_from(l.line()).ok())
                        .filter(|&l| l >= 1)
                        .map_or(chunk.start_line, |l| chunk.first_line + l - 1);
                    SyntaxError {
                        index,
                        line,
                        reason: yaml_reason(&error),
                    }
                })
        })
        .collect()
}

fn yaml_reason(error: &serde_saphyr::Error) -> String {
    match error.without_snippet() {
        serde_saphyr::Error::Budget {
            breach: BudgetBreach::Depth { .. },
            ..
        } => format!("nested more than {MAX_DEPTH} levels deep"),
        _ => DefaultMessageFormatter.format_message(error).into_owned(),
    }
}

fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_total_replayed_events = MAX_REPLAYED_ALIAS_EVENTS;
    // `.nan` or `.inf` where a string is meant stays a string, as Kubernetes' YAML reader keeps it.
    options.non_finite_float_policy = NonFiniteFloatPolicy::AsString;
    options.with_snippet = false;
    options
}

fn parse_json(text: &str) -> Vec<Result<Document, SyntaxError>> {
    let mut documents = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    loop {
        let offset = stream.byte_offset();
        let index = documents.len();
        match stream.next() {
            None => break,
            Some(Ok(value)) => {
                let start = text
                    .get(offset..)
                    .and_then(|rest| rest.find(|c: char| !c.is_whitespace()))
                    .map_or(offset, |i| offset + i);
                documents.push(Ok(Document {
                    index,
                    line: line_at(text, start),
                    value,
                }));
            }
            Some(Err(error)) => {
                documents.push(Err(SyntaxError {
                    index,
                    line: error.line().max(1),
                    reason: strip_json_position(&error.to_string()),
                }));
                break;
            }
        }
    }
    documents
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    1 + text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// serde_json ends its messages with the position; the line is reported apart.
pub(super) fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

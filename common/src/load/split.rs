//! Splits a YAML stream into its documents, keeping each one's place in the stream.
//!
//! The stream is split here rather than by the YAML parser so that each document is parsed on
//! its own: a syntax error in one document must not hide the documents after it. YAML makes this
//! safe: a `---` or `...` at the start of a line always ends the document before it, even inside
//! a block or quoted scalar.

/// One non-empty document of a stream.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Chunk<'a> {
    /// The text handed to the parser. It may begin with directives and a `---` line, and with
    /// blank or comment lines.
    pub text: &'a str,
    /// The 1-based line of the stream on which `text` begins.
    pub first_line: usize,
    /// The 1-based line on which the document's content begins: its first line that is not
    /// blank, a comment, a directive or a bare `---`.
    pub start_line: usize,
}

/// A `---` or `...` line.
#[derive(Debug, PartialEq, Eq)]
enum Marker {
    /// `---`; `inline` when content follows it on the same line (`--- {kind: Gateway}`).
    Start {
        inline: bool,
    },
    End,
}

/// Splits `stream` (with `\n` line endings) into its non-empty documents, in order.
pub(super) fn split(stream: &str) -> Vec<Chunk<'_>> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut offset = 0;
    for (index, line) in stream.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let next = offset + line.len();
        match marker(line) {
            Some(Marker::Start { inline }) => {
                let before = &stream[start..offset];
                // Directives belong to the document that the `---` opens: keep them with it.
                if !only_directives(before) {
                    chunks.extend(chunk(before, first_line));
                    (start, first_line) = if inline {
                        (offset, number)
                    } else {
                        (next, number + 1)
                    };
                }
            }
            Some(Marker::End) => {
                chunks.extend(chunk(&stream[start..offset], first_line));
                (start, first_line) = (next, number + 1);
            }
            None => {}
        }
        offset = next;
    }
    chunks.extend(chunk(&stream[start..], first_line));
    chunks
}

/// The chunk of `text`, unless it holds no content at all.
fn chunk(text: &str, first_line: usize) -> Option<Chunk<'_>> {
    let content = text
        .split_inclusive('\n')
        .position(|line| !is_filler(line))?;
    Some(Chunk {
        text,
        first_line,
        start_line: first_line + content,
    })
}

/// Whether `text` has at least one directive and nothing else but blank and comment lines.
fn only_directives(text: &str) -> bool {
    let mut lines = text.lines().map(without_bom);
    let has_directive = lines.clone().any(|line| line.starts_with('%'));
    has_directive && lines.all(|line| line.starts_with('%') || is_blank_or_comment(line))
}

/// Whether a line carries no content of the document.
fn is_filler(line: &str) -> bool {
    let line = without_bom(line);
    is_blank_or_comment(line)
        || line.starts_with('%')
        || marker(line) == Some(Marker::Start { inline: false })
}

fn is_blank_or_comment(line: &str) -> bool {
    let line = line.trim();
    line.is_empty() || line.starts_with('#')
}

fn marker(line: &str) -> Option<Marker> {
    let line = without_bom(line).trim_end_matches(['\n', '\r']);
    let (rest, end) = match (line.strip_prefix("---"), line.strip_prefix("...")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return None,
    };
    // `---x` or `...x` is a plain scalar, not a marker.
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let inline = !is_blank_or_comment(rest);
    match (end, inline) {
        (false, inline) => Some(Marker::Start { inline }),
        (true, false) => Some(Marker::End),
        // Nothing may follow `...` but a comment: leave the line to the parser to reject.
        (true, true) => None,
    }
}

/// YAML allows a byte order mark at the start of every document of a stream.
fn without_bom(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(stream: &str) -> Vec<(usize, usize, &str)> {
        split(stream)
            .into_iter()
            .map(|c| (c.first_line, c.start_line, c.text))
            .collect()
    }

    #[test]
    fn splits_on_markers_and_keeps_lines() {
        let stream = "---\na: 1\n--- # two\n\n# note\nb: 2\n...\n---\n--- {c: 3}\n---x: 4\n";
        assert_eq!(
            lines(stream),
            vec![
                (2, 2, "a: 1\n"),
                (4, 6, "\n# note\nb: 2\n"),
                (9, 9, "--- {c: 3}\n---x: 4\n"),
            ]
        );
    }

    #[test]
    fn keeps_directives_with_their_document() {
        let stream = "a: 1\n...\n%YAML 1.2\n---\nb: 2\n";
        assert_eq!(
            lines(stream),
            vec![(1, 1, "a: 1\n"), (3, 5, "%YAML 1.2\n---\nb: 2\n")]
        );
    }

    #[test]
    fn leaves_content_after_an_end_marker_to_the_parser() {
        assert_eq!(lines("a: 1\n... b\n"), vec![(1, 1, "a: 1\n... b\n")]);
        assert_eq!(lines("  ---\n"), vec![(1, 1, "  ---\n")]);
    }

    #[test]
    fn empty_streams_have_no_documents() {
        assert_eq!(lines(""), vec![]);
        assert_eq!(lines("---\n# only a comment\n---\n...\n\n"), vec![]);
        assert_eq!(lines("\u{feff}---\n"), vec![]);
    }
}

//! The support table as the Markdown page `docs/istio-support.md`, generated whole so that the
//! docs cannot drift from what validation reports.

use std::fmt::Write;

use super::{FieldSupport, Support, table};
use crate::api::Kind;

const INTRO: &str = "\
# Istio API support

<!-- Generated from mesh-common's support table (common/src/support/); do not edit by hand.
     Regenerate with: MESH_UPDATE_DOCS=1 cargo test -p mesh-common docs_are_current -->

mesh.rs reads Istio's traffic and security resources unchanged and implements a documented
subset of their fields. This page lists every field of every kind's `spec`, with one of three
levels of support:

- **implemented**: mesh.rs does what Istio documents for the field.
- **planned**: mesh.rs reads the field but does not act on it yet; the work to honour it is
  under way or scheduled.
- **not planned**: mesh.rs does not intend to act on the field, because Istio deprecated it or
  because it is out of mesh.rs's scope; the note says why, or what to use instead.

A field that is set but not implemented is never silently ignored: `meshctl analyze`, the
validation webhook and the control plane warn that it has no effect, naming its path (for
example `spec.http[0].mirrorPercent`). When a field is not implemented, nothing under it has an
effect either, and only the field itself is reported. The keys of maps (labels, headers) are not
fields. This page is generated from mesh-common's support table, the same table those warnings
come from.

| kind | fields | implemented | planned | not planned |
| --- | --- | --- | --- | --- |
";

/// The whole support table as Markdown: an introduction, then a section per kind with a
/// `| field | support | note |` table, each field followed by the fields under it.
pub fn markdown() -> String {
    let sections: Vec<(Kind, Vec<&FieldSupport>)> = Kind::ALL
        .iter()
        .map(|&kind| (kind, depth_first(kind)))
        .collect();
    let mut out = INTRO.to_string();
    for (kind, fields) in &sections {
        let counts = Counts::of(fields);
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "| [{kind}](#{anchor}) | {} | {} | {} | {} |",
            counts.total,
            counts.implemented,
            counts.planned,
            counts.not_planned,
            anchor = kind.as_str().to_lowercase(),
        );
    }
    for (kind, fields) in &sections {
        section(&mut out, *kind, fields);
    }
    out
}

struct Counts {
    total: usize,
    implemented: usize,
    planned: usize,
    not_planned: usize,
}

impl Counts {
    fn of(fields: &[&FieldSupport]) -> Self {
        let count = |support| fields.iter().filter(|f| f.support == support).count();
        Self {
            total: fields.len(),
            implemented: count(Support::Implemented),
            planned: count(Support::Planned),
            not_planned: count(Support::NotPlanned),
        }
    }
}

fn section(out: &mut String, kind: Kind, fields: &[&FieldSupport]) {
    let counts = Counts::of(fields);
    let others: Vec<String> = kind
        .versions()
        .iter()
        .skip(1)
        .map(|v| format!("`{v}`"))
        .collect();
    let _ = write!(
        out,
        "\n## {kind}\n\n`{api_version}` (also {others}): {total} fields, {implemented} \
         implemented, {planned} planned, {not_planned} not planned.\n\n\
         | field | support | note |\n| --- | --- | --- |\n",
        api_version = kind.api_version(),
        others = others.join(", "),
        total = counts.total,
        implemented = counts.implemented,
        planned = counts.planned,
        not_planned = counts.not_planned,
    );
    for field in fields {
        let _ = write!(out, "| `{}` | {} |", field.path, field.support);
        let _ = match field.note {
            "" => writeln!(out, " |"),
            note => writeln!(out, " {} |", escape(note)),
        };
    }
}

/// The fields of a kind, each followed by those under it, siblings in the table's order. The
/// table is written one object at a time, which suits editing; a reader looks for a field under
/// its parent.
fn depth_first(kind: Kind) -> Vec<&'static FieldSupport> {
    fn visit(parent: &str, fields: &[&'static FieldSupport], out: &mut Vec<&'static FieldSupport>) {
        for &field in fields {
            if field.path.rsplit_once('.').map(|(p, _)| p) == Some(parent) {
                out.push(field);
                visit(field.path, fields, out);
            }
        }
    }
    let fields: Vec<_> = table().iter().filter(|f| f.kind == kind).collect();
    let mut out = Vec::with_capacity(fields.len());
    visit("spec", &fields, &mut out);
    out
}

/// A `|` would end the table cell.
pub(super) fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

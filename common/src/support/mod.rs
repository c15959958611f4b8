//! Which fields of the Istio kinds mesh.rs honours: one table, read by validation, `meshctl
//! analyze`, the control plane's warnings and the generated `docs/istio-support.md`.
//!
//! mesh.rs implements a documented subset of Istio's API. A field that a resource sets but that
//! mesh.rs does not honour is reported, never silently ignored: [`report`] names it with its
//! path. As the control plane learns a field, its entry in the table (in `fields/`) flips to
//! [`Support::Implemented`] and the warnings and the docs follow.

use std::{collections::HashMap, fmt, sync::OnceLock};

use crate::{
    api::{Kind, Resource},
    path::FieldPath,
    validate::Finding,
};

/// Writes the table of one kind as groups of fields, one group per object of the schema:
///
/// ```text
/// "spec.http.fault.delay" {
///     fixedDelay        inherit;
///     exponentialDelay  not_planned "Istio does not implement it either";
/// }
/// ```
///
/// Each line names one field of the group's object and its support: `implemented`, `planned`,
/// `not_planned`, or `inherit` (the field is part of its parent's feature and follows it), with
/// an optional note. The paths are joined at compile time, so each entry is a plain `&'static str`.
macro_rules! fields {
    (@support implemented) => { Some($crate::support::Support::Implemented) };
    (@support planned) => { Some($crate::support::Support::Planned) };
    (@support not_planned) => { Some($crate::support::Support::NotPlanned) };
    (@support inherit) => { None };
    (@note) => { "" };
    (@note $note:literal) => { $note };
    ($($group:literal { $($field:ident $support:ident $($note:literal)?;)* })*) => {
        &[$($(
            $crate::support::Entry {
                path: concat!($group, ".", stringify!($field)),
                support: fields!(@support $support),
                note: fields!(@note $($note)?),
            },
        )*)*]
    };
}

mod fields;
mod markdown;

pub use self::markdown::markdown;

/// How far mesh.rs honours a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Support {
    /// mesh.rs does what Istio documents for the field.
    Implemented,
    /// mesh.rs reads the field but does not act on it yet; the control-plane work will.
    Planned,
    /// mesh.rs does not intend to act on the field: deprecated by Istio, or out of scope.
    NotPlanned,
}

/// The support of one field of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSupport {
    pub kind: Kind,
    /// The field's path without list indices, as [`FieldPath::schema_path`] writes it:
    /// `spec.http.route.weight`. A path stops at a map-valued field (labels, headers): map keys
    /// are not fields.
    pub path: &'static str,
    pub support: Support,
    /// Why, or what to use instead; empty when there is nothing to add.
    pub note: &'static str,
}

/// One line of the table as written: `support` is `None` where the field inherits its parent's.
#[derive(Clone, Copy, Debug)]
struct Entry {
    path: &'static str,
    support: Option<Support>,
    note: &'static str,
}

/// The written table with every `inherit` resolved, indexed by kind and path.
#[derive(Debug)]
struct Table {
    fields: Vec<FieldSupport>,
    index: HashMap<(Kind, &'static str), usize>,
}

// === impl Support ===

impl fmt::Display for Support {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Implemented => "implemented",
            Self::Planned => "planned",
            Self::NotPlanned => "not planned",
        })
    }
}

// === impl FieldSupport ===

impl FieldSupport {
    /// What a warning about a field with this support says: that it has no effect, and why.
    pub fn message(&self) -> String {
        let base = match self.support {
            Support::Implemented => return "implemented by mesh.rs".to_string(),
            Support::Planned => "not implemented by mesh.rs yet (planned); it has no effect",
            Support::NotPlanned => "not supported by mesh.rs; it has no effect",
        };
        if self.note.is_empty() {
            base.to_string()
        } else {
            format!("{base} ({})", self.note)
        }
    }
}

// === impl Table ===

impl Table {
    /// Resolves `inherit` entries against their parents. A parent is written before its
    /// children (a test holds the table to it), so one pass sees every parent resolved.
    fn new(sections: &[(Kind, &[Entry])]) -> Self {
        let mut table = Self {
            fields: Vec::new(),
            index: HashMap::new(),
        };
        for &(kind, entries) in sections {
            for entry in entries {
                let support = entry.support.unwrap_or_else(|| {
                    parent(entry.path)
                        .and_then(|p| table.get(kind, p))
                        // Only a data error (caught by the tests) leaves an entry without a
                        // parent; `Planned` keeps reporting the field rather than hiding it.
                        .map_or(Support::Planned, |p| p.support)
                });
                table.index.insert((kind, entry.path), table.fields.len());
                table.fields.push(FieldSupport {
                    kind,
                    path: entry.path,
                    support,
                    note: entry.note,
                });
            }
        }
        table
    }

    /// The entry of exactly this path.
    fn get(&self, kind: Kind, schema_path: &str) -> Option<&FieldSupport> {
        self.index
            .get(&(kind, schema_path))
            .map(|&i| &self.fields[i])
    }

    /// The entry of this path or of its nearest listed ancestor.
    fn lookup(&self, kind: Kind, schema_path: &str) -> Option<&FieldSupport> {
        let mut path = Some(schema_path);
        while let Some(p) = path {
            if let Some(found) = self.get(kind, p) {
                return Some(found);
            }
            path = parent(p);
        }
        None
    }

    fn report(&self, resource: &Resource) -> Vec<Finding> {
        let kind = resource.kind();
        let document = resource.to_json();
        let mut findings = Vec::new();
        self.walk(
            kind,
            &document["spec"],
            &FieldPath::root().field("spec"),
            &mut findings,
        );
        // serde_json's map order depends on its features; the path order does not.
        findings.sort_by(|a, b| a.path.cmp(&b.path));
        findings
    }

    /// Reports the outermost set field under `path` whose support is not `Implemented`; a field
    /// that is not honoured makes its children moot, so they are not reported again.
    fn walk(
        &self,
        kind: Kind,
        value: &serde_json::Value,
        path: &FieldPath,
        findings: &mut Vec<Finding>,
    ) {
        match value {
            serde_json::Value::Object(members) => {
                for (name, member) in members {
                    if is_unset(member) {
                        continue;
                    }
                    let member_path = path.field(name.as_str());
                    // A key the table does not list is a key of a map-valued field (labels,
                    // headers), whose support is its field's: the completeness test keeps every
                    // real field listed.
                    let Some(field) = self.get(kind, &member_path.schema_path()) else {
                        continue;
                    };
                    if field.support == Support::Implemented {
                        self.walk(kind, member, &member_path, findings);
                    } else {
                        findings.push(Finding::warning(member_path, field.message()));
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.walk(kind, item, &path.index(i), findings);
                }
            }
            _ => {}
        }
    }
}

/// `spec.http.route` → `spec.http`; `None` for a top-level name.
fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('.').map(|(parent, _)| parent)
}

/// Whether a value sets nothing: null, empty, or an object whose members set nothing (the
/// serialized form of a default struct). `false` and `0` are set: the user wrote them.
fn is_unset(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(items) => items.is_empty(),
        serde_json::Value::Object(members) => members.values().all(is_unset),
        serde_json::Value::Bool(_) | serde_json::Value::Number(_) => false,
    }
}

fn the_table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table::new(fields::SECTIONS))
}

/// Every field of every kind's `spec`, kind by kind, each parent before its children.
pub fn table() -> &'static [FieldSupport] {
    &the_table().fields
}

/// The support of a field, by its schema path (`spec.http.route.weight`, no list indices).
/// A path the table does not list (a key inside a map-valued field, such as
/// `spec.http.match.headers.x-user`) gets the entry of its nearest listed ancestor, whose support
/// applies to all its children; `None` when no ancestor is listed either.
pub fn lookup(kind: Kind, schema_path: &str) -> Option<&'static FieldSupport> {
    the_table().lookup(kind, schema_path)
}

/// Warnings for every field the resource sets that mesh.rs does not honour, with the field's
/// path (`spec.http[0].mirrorPercent`). Only the outermost such field is named: its children
/// have no effect either.
pub fn report(resource: &Resource) -> Vec<Finding> {
    the_table().report(resource)
}

#[cfg(test)]
mod tests;

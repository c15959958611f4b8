//! Field paths as an operator reads them: `spec.http[1].route[0].weight`.

use std::fmt;

/// The path of a field inside a resource.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(Vec<Segment>);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    Field(String),
    Index(usize),
}

// === impl FieldPath ===

impl FieldPath {
    /// The empty path: the resource itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// Parses `a.b[2].c` (field names must not contain `.` or `[`).
    pub fn parse(text: &str) -> Self {
        let mut path = Self::root();
        for part in text.split('.').filter(|p| !p.is_empty()) {
            let mut pieces = part.split('[');
            if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
                path = path.field(name);
            }
            for index in pieces {
                match index.trim_end_matches(']').parse() {
                    Ok(i) => path = path.index(i),
                    Err(_) => path = path.field(index.trim_end_matches(']')),
                }
            }
        }
        path
    }

    /// This path extended by a field name.
    pub fn field(&self, name: impl Into<String>) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Field(name.into()));
        next
    }

    /// This path extended by a list index.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path with list indices left out (`spec.http.route.weight`): the form the field
    /// support table is keyed by.
    pub fn schema_path(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            if let Segment::Field(name) = segment {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(name);
            }
        }
        out
    }

    /// Looks the path up in a JSON document.
    pub fn lookup<'a>(&self, value: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.0.iter().try_fold(value, |v, segment| match segment {
            Segment::Field(name) => v.get(name),
            Segment::Index(i) => v.get(i),
        })
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Field(name) if i == 0 => f.write_str(name)?,
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl From<&serde_path_to_error::Path> for FieldPath {
    fn from(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        path.iter().fold(Self::root(), |p, segment| match segment {
            S::Seq { index } => p.index(*index),
            S::Map { key } => p.field(key.as_str()),
            S::Enum { variant } => p.field(variant.as_str()),
            S::Unknown => p.field("?"),
        })
    }
}

impl From<&serde_ignored::Path<'_>> for FieldPath {
    fn from(path: &serde_ignored::Path<'_>) -> Self {
        use serde_ignored::Path as P;
        match path {
            P::Root => Self::root(),
            P::Seq { parent, index } => Self::from(*parent).index(*index),
            P::Map { parent, key } => Self::from(*parent).field(key.as_str()),
            P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
                Self::from(*parent)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_operators_write_it() {
        let path = FieldPath::root()
            .field("spec")
            .field("http")
            .index(1)
            .field("route");
        assert_eq!(path.to_string(), "spec.http[1].route");
        assert_eq!(path.schema_path(), "spec.http.route");
        assert_eq!(FieldPath::parse("spec.http[1].route"), path);
        assert_eq!(FieldPath::root().to_string(), "<root>");
    }

    #[test]
    fn looks_up_json() {
        let doc = serde_json::json!({"spec": {"http": [{}, {"route": 7}]}});
        let path = FieldPath::parse("spec.http[1].route");
        assert_eq!(path.lookup(&doc), Some(&serde_json::json!(7)));
        assert_eq!(FieldPath::parse("spec.tcp").lookup(&doc), None);
    }
}

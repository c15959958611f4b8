//! The field paths and enum values of each kind's JSON schema, and those a document sets.
//!
//! A path leaves list indices out (`spec.http.route.weight`); the values of a map are reached
//! through a `*` segment (`spec.http.match.headers.*.exact`), so that a map of structured values
//! is covered like any other field. The schemas are the ones schemars derives from the API types,
//! which are the types' own description of every field they model.

use std::collections::{BTreeMap, BTreeSet};

use mesh_common::api::{
    AuthorizationPolicySpec, DestinationRuleSpec, GatewaySpec, Kind, PeerAuthenticationSpec,
    RequestAuthenticationSpec, ServiceEntrySpec, SidecarSpec, VirtualServiceSpec,
    WorkloadEntrySpec,
};
use serde_json::Value;

/// Enum name (as in the schema's `$defs`) → the values of it.
pub type EnumValues = BTreeMap<String, BTreeSet<String>>;

/// What a set of documents sets: field paths, and the values of each enum.
#[derive(Debug, Default)]
pub struct Seen {
    pub paths: BTreeSet<String>,
    pub enum_values: EnumValues,
}

/// The JSON schema of one kind's `spec`.
#[derive(Debug)]
pub struct SpecSchema {
    root: Value,
}

/// One alternative of a schema once `$ref`s are followed and `anyOf`/`oneOf`/`allOf` flattened,
/// with the name of the definition it came from.
struct Alternative<'a> {
    definition: Option<&'a str>,
    schema: &'a Value,
}

// === impl SpecSchema ===

impl SpecSchema {
    /// The schema schemars derives from the kind's spec type.
    pub fn of(kind: Kind) -> Self {
        let schema = match kind {
            Kind::VirtualService => schemars::schema_for!(VirtualServiceSpec),
            Kind::DestinationRule => schemars::schema_for!(DestinationRuleSpec),
            Kind::Gateway => schemars::schema_for!(GatewaySpec),
            Kind::ServiceEntry => schemars::schema_for!(ServiceEntrySpec),
            Kind::WorkloadEntry => schemars::schema_for!(WorkloadEntrySpec),
            Kind::Sidecar => schemars::schema_for!(SidecarSpec),
            Kind::AuthorizationPolicy => schemars::schema_for!(AuthorizationPolicySpec),
            Kind::PeerAuthentication => schemars::schema_for!(PeerAuthenticationSpec),
            Kind::RequestAuthentication => schemars::schema_for!(RequestAuthenticationSpec),
            Kind::Telemetry => schemars::schema_for!(mesh_common::api::TelemetrySpec),
        };
        Self {
            root: schema.to_value(),
        }
    }

    /// Every field path under `spec`.
    pub fn paths(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect(&self.root, "spec", &mut Vec::new(), &mut out);
        out
    }

    /// Every enum of string values the spec uses, with all its values.
    pub fn enums(&self) -> EnumValues {
        let mut out = EnumValues::new();
        let definitions = self.root.get("$defs").and_then(Value::as_object);
        for (name, definition) in definitions.into_iter().flatten() {
            let values: BTreeSet<String> = self
                .alternatives(definition)
                .iter()
                .flat_map(|alt| enum_values(alt.schema))
                .collect();
            if !values.is_empty() {
                out.insert(name.clone(), values);
            }
        }
        out
    }

    /// Records the paths and enum values that `spec` sets. Panics on a field that the schema
    /// does not have, naming its path.
    pub fn walk(&self, spec: &Value, seen: &mut Seen) {
        self.walk_value(spec, &self.root, "spec", seen);
    }

    fn collect(
        &self,
        schema: &Value,
        path: &str,
        stack: &mut Vec<String>,
        out: &mut BTreeSet<String>,
    ) {
        for alt in self.alternatives(schema) {
            // A type that contains itself would make the paths endless; say so rather than hang.
            if let Some(name) = alt.definition {
                assert!(
                    !stack.iter().any(|n| n == name),
                    "{name} contains itself at {path}"
                );
            }
            stack.extend(alt.definition.map(str::to_string));
            for (field, sub) in properties(alt.schema) {
                let sub_path = format!("{path}.{field}");
                out.insert(sub_path.clone());
                self.collect(sub, &sub_path, stack, out);
            }
            if let Some(values) = map_values(alt.schema) {
                self.collect_map_values(values, path, stack, out);
            }
            if let Some(items) = alt.schema.get("items") {
                self.collect(items, path, stack, out);
            }
            if alt.definition.is_some() {
                stack.pop();
            }
        }
    }

    fn collect_map_values(
        &self,
        values: &Value,
        path: &str,
        stack: &mut Vec<String>,
        out: &mut BTreeSet<String>,
    ) {
        let sub_path = format!("{path}.*");
        out.insert(sub_path.clone());
        self.collect(values, &sub_path, stack, out);
    }

    fn walk_value(&self, value: &Value, schema: &Value, path: &str, seen: &mut Seen) {
        let alternatives = self.alternatives(schema);
        match value {
            Value::Object(fields) => {
                if let Some(values) = alternatives.iter().find_map(|alt| map_values(alt.schema)) {
                    let sub_path = format!("{path}.*");
                    for item in fields.values() {
                        seen.paths.insert(sub_path.clone());
                        self.walk_value(item, values, &sub_path, seen);
                    }
                    return;
                }
                for (field, item) in fields {
                    let sub_path = format!("{path}.{field}");
                    let sub = alternatives
                        .iter()
                        .find_map(|alt| alt.schema.get("properties")?.get(field))
                        .unwrap_or_else(|| panic!("{sub_path} is not a field of the schema"));
                    seen.paths.insert(sub_path.clone());
                    self.walk_value(item, sub, &sub_path, seen);
                }
            }
            Value::Array(items) => {
                let sub = alternatives
                    .iter()
                    .find_map(|alt| alt.schema.get("items"))
                    .unwrap_or_else(|| panic!("{path} is a list but the schema has no items"));
                for item in items {
                    self.walk_value(item, sub, path, seen);
                }
            }
            Value::String(text) => {
                for alt in &alternatives {
                    let is_enum = enum_values(alt.schema).next().is_some();
                    if let (true, Some(name)) = (is_enum, alt.definition) {
                        seen.enum_values
                            .entry(name.to_string())
                            .or_default()
                            .insert(text.clone());
                    }
                }
            }
            _ => {}
        }
    }

    fn alternatives<'a>(&'a self, schema: &'a Value) -> Vec<Alternative<'a>> {
        let mut out = Vec::new();
        self.flatten(schema, None, &mut out);
        out
    }

    fn flatten<'a>(
        &'a self,
        schema: &'a Value,
        definition: Option<&'a str>,
        out: &mut Vec<Alternative<'a>>,
    ) {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix("#/$defs/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = self
                .root
                .get("$defs")
                .and_then(|defs| defs.get(name))
                .unwrap_or_else(|| panic!("$ref to a missing definition {name}"));
            return self.flatten(target, Some(name), out);
        }
        for keyword in ["anyOf", "oneOf", "allOf"] {
            for sub in schema
                .get(keyword)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.flatten(sub, definition, out);
            }
        }
        out.push(Alternative { definition, schema });
    }
}

fn properties(schema: &Value) -> impl Iterator<Item = (&String, &Value)> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

/// The schema of a map's values, when `schema` is a map (an object without named properties).
fn map_values(schema: &Value) -> Option<&Value> {
    if schema.get("properties").is_some() {
        return None;
    }
    let additional = schema.get("additionalProperties").filter(|v| v.is_object());
    let patterned = schema
        .get("patternProperties")
        .and_then(Value::as_object)
        .and_then(|patterns| patterns.values().next());
    additional.or(patterned)
}

fn enum_values(schema: &Value) -> impl Iterator<Item = String> + '_ {
    let listed = schema
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let constant = schema.get("const").into_iter();
    listed
        .chain(constant)
        .filter_map(|v| v.as_str().map(str::to_string))
}

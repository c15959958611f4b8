//! `*_headers_to_add` / `*_headers_to_remove`, compiled into header names and values.

use envoy_types::pb::envoy::config::core::v3::{
    HeaderValueOption, header_value_option::HeaderAppendAction,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_common::path::FieldPath;

use crate::config_error::FieldError;

/// Header additions and removals for one direction (request or response) at one level.
#[derive(Clone, Debug, Default)]
pub struct HeaderEdits {
    /// Applied before `add`, as Envoy does.
    pub remove: Vec<HeaderName>,
    /// Applied in order.
    pub add: Vec<HeaderAdd>,
}

/// One header to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderAdd {
    /// The header's name.
    pub name: HeaderName,
    /// The value, taken literally.
    pub value: HeaderValue,
    /// What to do when the header is already there.
    pub action: AppendAction,
}

/// Envoy's `HeaderAppendAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendAction {
    /// Add another value, or the header if absent.
    AppendIfExistsOrAdd,
    /// Add the header only if absent.
    AddIfAbsent,
    /// Replace every value, or add the header if absent.
    OverwriteIfExistsOrAdd,
    /// Replace every value only if the header is present.
    OverwriteIfExists,
}

// === impl HeaderEdits ===

impl HeaderEdits {
    /// Compiles the `to_add` list at `add_path` and the `to_remove` list at `remove_path`.
    pub fn compile(
        to_add: &[HeaderValueOption],
        add_path: &FieldPath,
        to_remove: &[String],
        remove_path: &FieldPath,
    ) -> Result<Self, FieldError> {
        let remove = to_remove
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let path = remove_path.index(i);
                let name = header_name(name, &path)?;
                if name == http::header::HOST {
                    return Err(FieldError::new(path, "the host header cannot be removed"));
                }
                Ok(name)
            })
            .collect::<Result<_, _>>()?;
        let add = to_add
            .iter()
            .enumerate()
            .map(|(i, option)| HeaderAdd::compile(option, &add_path.index(i)))
            .collect::<Result<_, _>>()?;
        Ok(Self { remove, add })
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }

    /// Applies the removals, then the additions.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for add in &self.add {
            let present = headers.contains_key(&add.name);
            match add.action {
                AppendAction::AppendIfExistsOrAdd => {
                    headers.append(add.name.clone(), add.value.clone());
                }
                AppendAction::AddIfAbsent if !present => {
                    headers.insert(add.name.clone(), add.value.clone());
                }
                AppendAction::OverwriteIfExistsOrAdd => {
                    headers.insert(add.name.clone(), add.value.clone());
                }
                AppendAction::OverwriteIfExists if present => {
                    headers.insert(add.name.clone(), add.value.clone());
                }
                AppendAction::AddIfAbsent | AppendAction::OverwriteIfExists => {}
            }
        }
    }
}

// === impl HeaderAdd ===

impl HeaderAdd {
    #[allow(deprecated)]
    fn compile(option: &HeaderValueOption, path: &FieldPath) -> Result<Self, FieldError> {
        let Some(header) = &option.header else {
            return Err(FieldError::new(path.field("header"), "is required"));
        };
        let name = header_name(&header.key, &path.field("header").field("key"))?;
        let raw = if header.raw_value.is_empty() {
            header.value.as_bytes()
        } else {
            &header.raw_value
        };
        let value_path = path.field("header").field("value");
        // Envoy substitutes `%COMMAND%` in added values; taking one literally would send the
        // wrong header, so formatters are refused until they are implemented.
        if raw.contains(&b'%') {
            return Err(FieldError::new(
                value_path,
                "header value formatters (%...%) are not supported by mesh-proxy",
            ));
        }
        let value = HeaderValue::from_bytes(raw)
            .map_err(|_| FieldError::new(value_path, "is not a valid header value"))?;
        let action = match HeaderAppendAction::try_from(option.append_action) {
            Ok(HeaderAppendAction::AppendIfExistsOrAdd) => AppendAction::AppendIfExistsOrAdd,
            Ok(HeaderAppendAction::AddIfAbsent) => AppendAction::AddIfAbsent,
            Ok(HeaderAppendAction::OverwriteIfExistsOrAdd) => AppendAction::OverwriteIfExistsOrAdd,
            Ok(HeaderAppendAction::OverwriteIfExists) => AppendAction::OverwriteIfExists,
            Err(_) => {
                return Err(FieldError::new(
                    path.field("append_action"),
                    format!("unknown value {}", option.append_action),
                ));
            }
        };
        // The deprecated `append` flag, when set, decides between appending and overwriting;
        // Envoy refuses it together with a non-default `append_action`.
        let action = match (option.append.as_ref().map(|b| b.value), action) {
            (None, action) => action,
            (Some(true), AppendAction::AppendIfExistsOrAdd) => AppendAction::AppendIfExistsOrAdd,
            (Some(false), AppendAction::AppendIfExistsOrAdd) => {
                AppendAction::OverwriteIfExistsOrAdd
            }
            (Some(_), _) => {
                return Err(FieldError::new(
                    path.field("append"),
                    "cannot be set together with append_action",
                ));
            }
        };
        Ok(Self {
            name,
            value,
            action,
        })
    }
}

fn header_name(name: &str, path: &FieldPath) -> Result<HeaderName, FieldError> {
    if name.starts_with(':') {
        return Err(FieldError::new(
            path.clone(),
            format!("pseudo-header {name:?} cannot be edited"),
        ));
    }
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| FieldError::new(path.clone(), format!("{name:?} is not a valid header name")))
}

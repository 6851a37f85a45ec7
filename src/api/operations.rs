//! What the spec knows about each operation, for messages and logs: its path
//! template, the names of its path parameters in order, and the allowed values
//! of its enumerated query parameters.
//!
//! poem-openapi names path parameters by position (`param0`, `param1`, …) at
//! run time; this table turns those back into the contract's names.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use serde_json::Value;

#[derive(Debug, Default)]
pub struct Operation {
    /// `/api/{user_id}/tasks/{id}`
    pub template: String,
    path_params: Vec<String>,
    enum_params: HashMap<String, Vec<String>>,
    /// What a bounded query parameter takes, in words, from its schema.
    bounds: HashMap<String, String>,
}

impl Operation {
    /// The contract's name for poem-openapi's `paramN`; other names pass through.
    pub fn param_name<'a>(&'a self, runtime_name: &'a str) -> &'a str {
        runtime_name
            .strip_prefix("param")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| self.path_params.get(n))
            .map_or(runtime_name, String::as_str)
    }

    /// The values an enumerated query parameter accepts.
    pub fn allowed_values(&self, param: &str) -> Option<&[String]> {
        self.enum_params.get(param).map(Vec::as_slice)
    }

    /// "must be an integer from 1 to 500", for a parameter with bounds.
    pub fn bounds(&self, param: &str) -> Option<&str> {
        self.bounds.get(param).map(String::as_str)
    }
}

/// A parameter's bounds in words, when its schema has any.
fn bounds_of(schema: &Value) -> Option<String> {
    use crate::domain::conditional::{
        ENTITY_TAGS_PATTERN, ENTITY_TAGS_RULE, IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE,
    };
    match schema["pattern"].as_str() {
        Some(IDEMPOTENCY_KEY_PATTERN) => return Some(IDEMPOTENCY_KEY_RULE.to_owned()),
        Some(ENTITY_TAGS_PATTERN) => return Some(ENTITY_TAGS_RULE.to_owned()),
        _ => {}
    }
    match (
        &schema["minimum"],
        &schema["maximum"],
        &schema["maxLength"],
        &schema["maxItems"],
    ) {
        (Value::Number(min), Value::Number(max), _, _) => {
            Some(format!("must be an integer from {min} to {max}"))
        }
        (_, _, Value::Number(max), _) => Some(format!("must be at most {max} characters")),
        (_, _, _, Value::Number(max)) => Some(format!("may be given at most {max} times")),
        _ => None,
    }
}

/// Operation id → what the spec says about it; and each path template with
/// the methods it has, for the `Allow` header of a 405.
#[derive(Debug, Default)]
pub struct Operations {
    by_id: FxHashMap<String, Operation>,
    methods: Vec<(String, String)>,
}

impl Operations {
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: Value = serde_json::from_str(spec_json).unwrap_or_default();
        let schemas = &spec["components"]["schemas"];
        let mut operations = FxHashMap::default();
        let mut allowed = Vec::new();
        for (template, methods) in spec["paths"].as_object().into_iter().flatten() {
            let mut names: Vec<String> = methods
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
                .map(|method| method.to_ascii_uppercase())
                .collect();
            names.sort();
            allowed.push((template.clone(), names.join(", ")));
            let path_params: Vec<String> = template
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            for operation in methods.as_object().into_iter().flat_map(|m| m.values()) {
                let Some(id) = operation["operationId"].as_str() else {
                    continue;
                };
                let params = operation["parameters"].as_array().into_iter().flatten();
                let bounds = params
                    .clone()
                    .filter_map(|param| {
                        Some((
                            param["name"].as_str()?.to_owned(),
                            bounds_of(&param["schema"])?,
                        ))
                    })
                    .collect();
                let enum_params = params
                    .filter_map(|param| {
                        // A repeatable parameter's values are its items'.
                        let schema = match &param["schema"]["items"] {
                            Value::Null => &param["schema"],
                            items => items,
                        };
                        let schema = match schema["$ref"].as_str() {
                            Some(reference) => &schemas[reference.rsplit('/').next()?],
                            None => schema,
                        };
                        let values = schema["enum"].as_array()?;
                        let values = values.iter().filter_map(|v| Some(v.as_str()?.to_owned()));
                        Some((param["name"].as_str()?.to_owned(), values.collect()))
                    })
                    .collect();
                operations.insert(
                    id.to_owned(),
                    Operation {
                        template: template.clone(),
                        path_params: path_params.clone(),
                        enum_params,
                        bounds,
                    },
                );
            }
        }
        Self {
            by_id: operations,
            methods: allowed,
        }
    }

    pub fn get(&self, operation_id: &str) -> Option<&Operation> {
        self.by_id.get(operation_id)
    }

    /// The methods the spec has for `path` (as `GET, POST`), or `None` when
    /// no path template matches it.
    pub fn allowed_methods(&self, path: &str) -> Option<&str> {
        let path = path.strip_suffix('/').unwrap_or(path);
        self.methods.iter().find_map(|(template, methods)| {
            let mut segments = path.split('/');
            let matches = template.split('/').all(|expected| {
                segments.next().is_some_and(|segment| {
                    segment == expected || (expected.starts_with('{') && !segment.is_empty())
                })
            }) && segments.next().is_none();
            matches.then_some(methods.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_parameters_get_their_contract_names_back() {
        let operations = Operations::from_spec(&super::super::service().spec());
        let get = operations.get("get_task").expect("get_task is in the spec");
        assert_eq!(get.template, "/api/{user_id}/tasks/{id}");
        assert_eq!(get.param_name("param0"), "user_id");
        assert_eq!(get.param_name("param1"), "id");
        assert_eq!(get.param_name("status"), "status");
    }

    #[test]
    fn paths_are_matched_to_their_templates_for_the_allow_header() {
        let operations = Operations::from_spec(&super::super::service().spec());
        let allowed = |path| operations.allowed_methods(path);
        assert_eq!(allowed("/api/alice/tasks"), Some("GET, POST"));
        assert_eq!(allowed("/api/alice/tasks/"), Some("GET, POST"));
        assert_eq!(allowed("/api/alice/tasks/7"), Some("DELETE, GET, PUT"));
        assert_eq!(allowed("/api/alice/tasks/7/complete"), Some("PATCH"));
        assert_eq!(allowed("/health"), Some("GET"));
        assert_eq!(allowed("/api//tasks"), None);
        assert_eq!(allowed("/api/alice/tasks/7/other"), None);
        assert_eq!(allowed("/nothing"), None);
    }

    #[test]
    fn enumerated_query_parameters_list_their_values() {
        let operations = Operations::from_spec(&super::super::service().spec());
        let list = operations
            .get("list_tasks")
            .expect("list_tasks is in the spec");
        assert_eq!(
            list.allowed_values("status").unwrap(),
            ["all", "pending", "completed"]
        );
        assert_eq!(list.allowed_values("order").unwrap(), ["asc", "desc"]);
        assert_eq!(
            list.allowed_values("priority").unwrap(),
            ["none", "low", "medium", "high"]
        );
        assert_eq!(list.allowed_values("tag"), None);
    }
}

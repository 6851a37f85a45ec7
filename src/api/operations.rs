//! What the spec knows about each operation, for messages and logs: its path
//! template, the names of its path parameters in order, and the allowed values
//! of its enumerated query parameters.
//!
//! poem-openapi names path parameters by position (`param0`, `param1`, …) at
//! run time; this table turns those back into the contract's names.

use std::collections::HashMap;

use serde_json::Value;

#[derive(Debug, Default)]
pub struct Operation {
    /// `/api/{user_id}/tasks/{id}`
    pub template: String,
    path_params: Vec<String>,
    enum_params: HashMap<String, Vec<String>>,
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
}

/// Operation id → what the spec says about it.
#[derive(Debug, Default)]
pub struct Operations(HashMap<String, Operation>);

impl Operations {
    pub fn from_spec(spec_json: &str) -> Self {
        let spec: Value = serde_json::from_str(spec_json).unwrap_or_default();
        let schemas = &spec["components"]["schemas"];
        let mut operations = HashMap::new();
        for (template, methods) in spec["paths"].as_object().into_iter().flatten() {
            let path_params: Vec<String> = template
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .map(str::to_owned)
                .collect();
            for operation in methods.as_object().into_iter().flat_map(|m| m.values()) {
                let Some(id) = operation["operationId"].as_str() else {
                    continue;
                };
                let enum_params = operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|param| {
                        let schema = &param["schema"];
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
                    },
                );
            }
        }
        Self(operations)
    }

    pub fn get(&self, operation_id: &str) -> Option<&Operation> {
        self.0.get(operation_id)
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
    }
}

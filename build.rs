//! Build-time checks of the two files the code is built against:
//!
//! - `migrations/`: embedded by `embed_migrations!`, so the build must re-run
//!   when a migration changes, and every migration needs `up.sql` and `down.sql`.
//! - `openapi.yaml`: the contract. It must be a valid OpenAPI 3.0 document whose
//!   references resolve, whose operations have unique ids and declare every
//!   path parameter. A broken contract does not stop the build (it is
//!   regenerated with the binary this builds); it is reported as a warning and
//!   makes the contract test fail with the reason.

use std::{collections::HashSet, fs, path::Path};

use openapiv3::{OpenAPI, Operation, Parameter, ReferenceOr};

fn main() {
    println!("cargo::rerun-if-changed=openapi.yaml");
    println!("cargo::rerun-if-changed=migrations");
    check_migrations(Path::new("migrations/postgres"));
    check_migrations(Path::new("migrations/sqlite"));
    if let Err(problem) = check_contract(Path::new("openapi.yaml")) {
        println!("cargo::warning=openapi.yaml: {problem}");
        println!("cargo::rustc-env=TODO_API_OPENAPI_PROBLEM={problem}");
    }
}

fn check_migrations(dir: &Path) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable migrations entry").path();
        if !path.is_dir() {
            continue;
        }
        println!("cargo::rerun-if-changed={}", path.display());
        for file in ["up.sql", "down.sql"] {
            assert!(
                path.join(file).is_file(),
                "migration {} has no {file}",
                path.display()
            );
        }
    }
}

fn check_contract(path: &Path) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(|err| format!("cannot read it: {err}"))?;
    let spec: OpenAPI =
        serde_yaml::from_str(&text).map_err(|err| format!("not an OpenAPI document: {err}"))?;
    if !spec.openapi.starts_with("3.0.") {
        return Err(format!("version {} is not OpenAPI 3.0", spec.openapi));
    }
    let schemas: HashSet<&str> = spec
        .components
        .iter()
        .flat_map(|c| c.schemas.keys())
        .map(String::as_str)
        .collect();
    let security_schemes: HashSet<&str> = spec
        .components
        .iter()
        .flat_map(|c| c.security_schemes.keys())
        .map(String::as_str)
        .collect();

    let mut operation_ids = HashSet::new();
    for (template, item) in &spec.paths.paths {
        let ReferenceOr::Item(item) = item else {
            return Err(format!(
                "{template}: path item references are not used here"
            ));
        };
        let placeholders: HashSet<&str> = template
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, operation) in item.iter() {
            let at = format!("{} {template}", method.to_uppercase());
            check_operation(&at, operation, &placeholders, &security_schemes)?;
            let id = operation
                .operation_id
                .as_deref()
                .ok_or_else(|| format!("{at}: no operationId"))?;
            if !operation_ids.insert(id.to_owned()) {
                return Err(format!("{at}: operationId {id} is used twice"));
            }
        }
    }

    // Every local schema reference must point at a defined component.
    for reference in text.split("$ref: ").skip(1) {
        let target = reference
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches(['\'', '"']);
        let name = target
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("reference {target} is not to a component schema"))?;
        if !schemas.contains(name) {
            return Err(format!("reference {target} points at no schema"));
        }
    }
    Ok(())
}

fn check_operation(
    at: &str,
    operation: &Operation,
    placeholders: &HashSet<&str>,
    security_schemes: &HashSet<&str>,
) -> Result<(), String> {
    if operation.responses.responses.is_empty() && operation.responses.default.is_none() {
        return Err(format!("{at}: documents no response"));
    }
    let declared: HashSet<&str> = operation
        .parameters
        .iter()
        .filter_map(|param| match param {
            ReferenceOr::Item(Parameter::Path { parameter_data, .. }) => {
                Some(parameter_data.name.as_str())
            }
            _ => None,
        })
        .collect();
    if &declared != placeholders {
        return Err(format!(
            "{at}: path parameters {declared:?} do not match the template's {placeholders:?}"
        ));
    }
    for requirement in operation.security.iter().flatten() {
        for scheme in requirement.keys() {
            if !security_schemes.contains(scheme.as_str()) {
                return Err(format!("{at}: security scheme {scheme} is not defined"));
            }
        }
    }
    Ok(())
}

//! The variables of a request, coerced against the types its operation declares before anything
//! runs (GraphQL spec, "Coercing Variable Values"): a variable that is missing, null where the
//! type says non-null, or of the wrong shape makes the whole request an error (no `data`),
//! rather than an error of each field that happens to use it.
//!
//! The engine validates arguments against the variables it is given, but skips a variable that
//! is missing and finds the others only where they are used; this check covers every variable
//! the operation declares, wherever it is used.

use async_graphql::parser::types::{ExecutableDocument, VariableDefinition};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{ServerError, Value, Variables};

/// Checks `variables` against the variables of the operation the request runs. Types the schema
/// does not know, and operations that do not exist, are left to validation, which names them.
pub fn check(
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Result<(), ServerError> {
    let operation = match operation_name {
        Some(name) => document
            .operations
            .iter()
            .find(|(op, _)| op.is_some_and(|op| op.as_str() == name))
            .map(|(_, op)| op),
        None => {
            let mut all = document.operations.iter();
            match (all.next(), all.next()) {
                (Some((_, op)), None) => Some(op),
                _ => None,
            }
        }
    };
    let Some(operation) = operation else {
        return Ok(());
    };
    for definition in &operation.node.variable_definitions {
        check_one(registry, &definition.node, variables)
            .map_err(|message| ServerError::new(message, Some(definition.pos)))?;
    }
    Ok(())
}

fn check_one(
    registry: &Registry,
    definition: &VariableDefinition,
    variables: &Variables,
) -> Result<(), String> {
    let name = definition.name.node.as_str();
    let ty = definition.var_type.node.to_string();
    if !known(registry, &ty) {
        return Ok(());
    }
    match variables.get(name) {
        None if definition.default_value.is_some() => Ok(()),
        None if !definition.var_type.node.nullable => Err(format!(
            "variable \"${name}\" of required type \"{ty}\" was not provided"
        )),
        None => Ok(()),
        Some(value) => valid(registry, &ty, value, &mut vec![format!("${name}")]).map_err(
            |(path, expected)| {
                format!(
                    "variable \"${name}\" got an invalid value at \"{}\": {expected}",
                    path.join("")
                )
            },
        ),
    }
}

/// Whether `value` coerces to the input type `ty` of `registry`, unknown fields of input objects
/// and all (what the engine's own parsing of an input object lets pass).
pub fn fits(registry: &Registry, ty: &str, value: &Value) -> bool {
    !known(registry, ty) || valid(registry, ty, value, &mut Vec::new()).is_ok()
}

/// Whether every named type in `ty` is one of the schema's.
fn known(registry: &Registry, ty: &str) -> bool {
    registry
        .types
        .contains_key(MetaTypeName::concrete_typename(ty))
}

/// Nesting of input values followed at most (deeper values are left to the engine, whose own
/// recursion limit refuses them).
const MAX_NESTING: usize = 32;

/// Whether `value` coerces to the input type `ty`; else the path to the first value that does
/// not, and what was expected there.
fn valid(
    registry: &Registry,
    ty: &str,
    value: &Value,
    path: &mut Vec<String>,
) -> Result<(), (Vec<String>, String)> {
    if path.len() > MAX_NESTING {
        return Ok(());
    }
    let fail = |path: &Vec<String>, expected: String| Err((path.clone(), expected));
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => match value {
            Value::Null => fail(path, format!("expected a value of type \"{ty}\", not null")),
            _ => valid(registry, inner, value, path),
        },
        MetaTypeName::List(inner) => match value {
            Value::Null => Ok(()),
            Value::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(format!("[{index}]"));
                    valid(registry, inner, item, path)?;
                    path.pop();
                }
                Ok(())
            }
            // A single value stands for a list of one.
            _ => valid(registry, inner, value, path),
        },
        MetaTypeName::Named(name) => {
            if matches!(value, Value::Null) {
                return Ok(());
            }
            match registry.types.get(name) {
                Some(MetaType::Scalar {
                    is_valid: Some(is_valid),
                    ..
                }) => {
                    if is_valid(value) {
                        Ok(())
                    } else {
                        fail(path, format!("expected type \"{name}\""))
                    }
                }
                Some(MetaType::Enum { enum_values, .. }) => {
                    let member = match value {
                        Value::String(text) => Some(text.as_str()),
                        Value::Enum(text) => Some(text.as_str()),
                        _ => None,
                    };
                    if member.is_some_and(|member| enum_values.contains_key(member)) {
                        Ok(())
                    } else {
                        fail(path, format!("expected a value of the enum \"{name}\""))
                    }
                }
                Some(MetaType::InputObject {
                    input_fields,
                    oneof,
                    ..
                }) => {
                    let Value::Object(fields) = value else {
                        return fail(path, format!("expected an object of type \"{name}\""));
                    };
                    if let Some(unknown) = fields
                        .keys()
                        .find(|key| !input_fields.contains_key(key.as_str()))
                    {
                        return fail(path, format!("\"{name}\" has no field \"{unknown}\""));
                    }
                    if *oneof
                        && fields
                            .values()
                            .filter(|v| !matches!(v, Value::Null))
                            .count()
                            != 1
                    {
                        return fail(path, format!("\"{name}\" takes exactly one field"));
                    }
                    for field in input_fields.values() {
                        match fields.get(field.name.as_str()) {
                            Some(inner) => {
                                path.push(format!(".{}", field.name));
                                valid(registry, &field.ty, inner, path)?;
                                path.pop();
                            }
                            None if field.ty.ends_with('!') && field.default_value.is_none() => {
                                return fail(
                                    path,
                                    format!(
                                        "\"{name}\" needs the field \"{}\" ({})",
                                        field.name, field.ty
                                    ),
                                );
                            }
                            None => {}
                        }
                    }
                    Ok(())
                }
                // Scalars without a check, and output types (which validation refuses).
                _ => Ok(()),
            }
        }
    }
}

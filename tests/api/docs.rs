//! The reference documentation (`docs/reference.md`) covers the schema and the command line:
//! every type, field, argument, input field and enum value of the schema, every `serve` flag and
//! every command is named in it (in backquotes).

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

fn reference() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md"))
        .expect("docs/reference.md")
}

/// The names of `schema.graphql` that users type: types, fields, arguments, input fields and
/// enum values, each with where it is.
fn schema_names() -> Vec<(String, String)> {
    let document =
        async_graphql::parser::parse_schema(user_events::graphql::sdl()).expect("the SDL parses");
    let mut names = Vec::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let type_name = ty.name.node.to_string();
        names.push((type_name.clone(), type_name.clone()));
        match ty.kind {
            TypeKind::Object(object) => {
                for field in object.fields {
                    let field = field.node;
                    let at = format!("{type_name}.{}", field.name.node);
                    names.push((field.name.node.to_string(), at.clone()));
                    for argument in field.arguments {
                        let argument = argument.node.name.node.to_string();
                        names.push((argument.clone(), format!("{at}({argument})")));
                    }
                }
            }
            TypeKind::InputObject(input) => {
                for field in input.fields {
                    let name = field.node.name.node.to_string();
                    names.push((name.clone(), format!("{type_name}.{name}")));
                }
            }
            TypeKind::Enum(values) => {
                for value in values.values {
                    let name = value.node.value.node.to_string();
                    names.push((name.clone(), format!("{type_name}.{name}")));
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn every_name_of_the_schema_is_in_the_reference() {
    let text = reference();
    let names = schema_names();
    assert!(names.len() > 300, "the schema was read: {}", names.len());
    let missing: Vec<String> = names
        .into_iter()
        .filter(|(name, _)| {
            !text.contains(&format!("`{name}`")) && !text.contains(&format!("`{name}("))
        })
        .map(|(_, at)| at)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reference.md does not name: {missing:?}"
    );
}

#[test]
fn every_command_and_serve_flag_is_in_the_reference() {
    let text = reference();
    let help = |args: &[&str]| {
        let output = crate::helpers::bin().args(args).output().expect("run");
        String::from_utf8(output.stdout).expect("utf-8")
    };
    let serve = help(&["serve", "--help"]);
    let flags: Vec<&str> = serve
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("--"))
        .filter_map(|rest| rest.split([' ', '=', '<']).next())
        .collect();
    assert!(flags.len() > 20, "{serve}");
    for flag in flags {
        assert!(
            text.contains(&format!("--{flag}")),
            "docs/reference.md does not name serve --{flag}"
        );
    }
    let top = help(&["--help"]);
    let commands = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help");
    for command in commands {
        assert!(
            text.contains(&format!("`{command}")),
            "docs/reference.md does not name the command {command}"
        );
    }
}

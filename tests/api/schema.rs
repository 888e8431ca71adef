//! The checked-in SDL is the schema the code builds.

#[test]
fn schema_graphql_matches_the_code() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql at the top level");
    let built = user_events::graphql::sdl();
    assert!(
        checked_in == built,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql` and review the diff"
    );
}

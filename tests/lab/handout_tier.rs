//! The handout tier (tests/handout.rs) and its points: the table, `make points` and the
//! GitHub Classroom workflow all name the same requirements with the same points.

use crate::support::fixture;

#[path = "../handout/points_table.rs"]
mod points_table;

/// The rows of tests/handout/points.txt: (test, points).
fn points_table() -> Vec<(String, u32)> {
    let table = points_table::read_table().unwrap_or_else(|why| panic!("{why}"));
    table.into_iter().map(|r| (r.test, r.points)).collect()
}

/// A file of this repository, as text.
fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn every_handout_test_has_points_and_comes_in_table_order() {
    let source = repo_file("tests/handout.rs");
    let tests: Vec<&str> = source
        .split("#[test]\nfn ")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .collect();
    let table: Vec<String> = points_table().into_iter().map(|(test, _)| test).collect();
    assert_eq!(
        tests, table,
        "tests/handout.rs and tests/handout/points.txt disagree"
    );
}

#[test]
fn classroom_workflow_grades_each_requirement_with_its_points() {
    let workflow = repo_file(".github/workflows/classroom.yml");
    let table = points_table();
    let mut runners = Vec::new();
    for (test, points) in &table {
        let id = test.replace('_', "-");
        let step = format!(
            "        id: {id}\n        uses: classroom-resources/autograding-command-grader@v1\n"
        );
        let command = format!("command: cargo test --locked --test handout -- --exact {test}\n");
        let score = format!("{command}          timeout: 2\n          max-score: {points}\n");
        for expected in [&step, &score] {
            assert!(
                workflow.contains(expected.as_str()),
                "classroom.yml lacks:\n{expected}"
            );
        }
        let result = format!(
            "{}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"",
            id.to_uppercase()
        );
        assert!(
            workflow.contains(&result),
            "classroom.yml does not report {id}"
        );
        runners.push(id);
    }
    let runners = format!("runners: {}\n", runners.join(","));
    assert!(
        workflow.contains(&runners),
        "classroom.yml lacks:\n{runners}"
    );
    assert_eq!(
        workflow.matches("autograding-command-grader").count(),
        table.len()
    );
}

#[test]
fn the_python_handout_pair_in_fixtures_has_the_documented_commands() {
    // README.txt shows how to grade these with NETLAB_SERVER and NETLAB_CLIENT.
    let readme = repo_file("README.txt");
    for program in ["net_server.py", "net_client.py"] {
        assert!(fixture(&format!("handout_pair/{program}")).exists());
        assert!(readme.contains(&format!("fixtures/handout_pair/{program}")));
    }
}

//! The benchmark program: it runs, and measures every server it names. Its numbers depend
//! on the machine, so only the shape of the report is checked.

use rstest::rstest;

use crate::support::{fixture, program, python3, STEP_TIMEOUT, TEST_TIMEOUT};

#[rstest]
#[timeout(TEST_TIMEOUT)]
fn the_handout_client_scenario_measures_every_server() {
    let output = assert_cmd::Command::new(program("net_bench"))
        .args(["--only", "handout-client", "--rounds", "1"])
        .arg("--python")
        .arg(python3())
        .arg("--python-server")
        .arg(fixture("baselines/handout_server.py"))
        .arg("--python-client")
        .arg(fixture("baselines/handout_client.py"))
        // Five servers and sixteen client processes: more than one step's time.
        .timeout(2 * STEP_TIMEOUT)
        .assert()
        .success();
    let report = String::from_utf8_lossy(&output.get_output().stdout);
    assert!(
        !report.contains("not measured"),
        "a server or client was not measured:\n{report}"
    );
    for server in [
        "python handout server",
        "net_server_threaded",
        "net_server_async",
    ] {
        let target = format!("target: net_client vs python client on {server} ≤ 1.00x: ");
        assert!(report.contains(&target), "no {target:?} in:\n{report}");
    }
}

//! The `hebbian` CLI end to end: listing, schema, default state, runs from files, links and URLs, errors.
use std::process::{Command, Output};

fn hebbian(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hebbian"))
        .args(args)
        .output()
        .expect("run hebbian")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn tmp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hebbian-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn labs_schema_and_state() {
    let labs = stdout_json(&hebbian(&["labs", "--json"]));
    assert_eq!(labs[0]["id"], "hebb2d");
    let schema = stdout_json(&hebbian(&["schema", "hebb2d"]));
    assert_eq!(
        schema["$defs"]["Params"]["properties"]["eta"]["maximum"],
        1.0
    );
    let state = stdout_json(&hebbian(&["state", "hebb2d"]));
    assert_eq!(state["params"]["steps"], 2000);
    assert_eq!(state["params"]["inputs"][2]["corr"], 0.9);
}

#[test]
fn run_from_file_link_and_url_give_the_same_report() {
    let mut state = stdout_json(&hebbian(&["state", "hebb2d"]));
    state["params"]["rule"] = "oja".into();
    let file = tmp("oja.json", &state.to_string());
    let file = file.to_str().expect("utf-8 path");
    let from_file = stdout_json(&hebbian(&["run", file, "--backend", "cpu"]));
    let link = String::from_utf8(hebbian(&["link", file]).stdout).expect("utf-8");
    assert!(
        link.starts_with("http://127.0.0.1:8080/?lab=hebb2d#s=1."),
        "{link}"
    );
    let from_url = stdout_json(&hebbian(&["run", link.trim(), "--backend", "cpu"]));
    let fragment = link.trim().split_once('#').expect("fragment").1;
    let from_fragment = stdout_json(&hebbian(&["run", fragment, "--backend", "cpu"]));
    assert_eq!(from_file["metrics"], from_url["metrics"]);
    assert_eq!(from_file["metrics"], from_fragment["metrics"]);
    assert_eq!(from_file["engine"]["kind"], "cpu");
    assert_eq!(from_file["step"], 2000);
    assert!(from_file.get("plots").is_none());
    let with_plots = stdout_json(&hebbian(&["run", file, "--backend", "cpu", "--plots"]));
    let ids: Vec<&str> = with_plots["plots"]
        .as_array()
        .expect("plots")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"inputs") && ids.contains(&"traj_3") && ids.contains(&"growth"),
        "{ids:?}"
    );
}

#[test]
fn bad_input_fails_with_a_message_and_status_2() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["schema".into(), "nope".into()], "unknown lab 'nope'"),
        (vec!["run".into(), "s=1.AAAA".into()], "link"),
        (
            vec![
                "run".into(),
                tmp("bad.json", "{not json").to_string_lossy().into(),
            ],
            "not valid JSON",
        ),
        (
            vec![
                "run".into(),
                tmp("psd.json", &{
                    let mut s = stdout_json(&hebbian(&["state", "hebb2d"]));
                    s["params"]["inputs"][0]["corr"] = 2.0.into();
                    s.to_string()
                })
                .to_string_lossy()
                .into(),
                "--backend".into(),
                "cpu".into(),
            ],
            "not positive semidefinite",
        ),
        (
            vec![
                "run".into(),
                "s=1.x".into(),
                "--backend".into(),
                "tpu".into(),
            ],
            "",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = hebbian(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

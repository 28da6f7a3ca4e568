//! The `hebbian` CLI end to end: listing, schema, default state, runs from files, links and URLs, errors.
mod common;

use hebbian_playground::labs;
use hebbian_playground::state::AnyState;
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
        link.starts_with(&format!(
            "http://127.0.0.1:8080/?lab=hebb2d#s={}.",
            hebbian_playground::state::VERSION
        )),
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

/// `hebbian data` on files the test writes: a good MNIST pair and CIFAR batch summarise; each malformed case
/// exits with status 2 and the parser's message.
#[test]
fn data_files_and_their_errors() {
    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }
    fn write(name: &str, bytes: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("hebbian-cli-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path.to_string_lossy().into_owned()
    }
    let images = idx(&[3, 28, 28], &[7; 3 * 784]);
    let labels = idx(&[3], &[0, 1, 2]);
    let img = write("train-images-idx3-ubyte", &images);
    let lab = write("train-labels-idx1-ubyte", &labels);
    let ok = stdout_json(&hebbian(&["data", "--format", "mnist_idx", &img, &lab]));
    assert_eq!(ok["datasets"][0]["count"], 3);
    assert_eq!(ok["datasets"][0]["shape"], "1×28×28");
    let batch: Vec<u8> = (0..2u8)
        .flat_map(|l| std::iter::once(l).chain([9u8; 3072]))
        .collect();
    let cifar = write("data_batch_1.bin", &batch);
    let ok = stdout_json(&hebbian(&["data", "--format", "cifar10", &cifar]));
    assert_eq!(ok["datasets"][0]["shape"], "3×32×32");

    let mut magic = images.clone();
    magic[..4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    let short_labels = write("train-labels-idx1-ubyte-short", &idx(&[2], &[0, 1]));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "mnist_idx".into(),
                write("train-images-idx3-ubyte-magic", &magic),
                lab.clone(),
            ],
            "wrong magic number 12 34 56 78",
        ),
        (
            vec![
                "mnist_idx".into(),
                write("train-images-idx3-ubyte-cut", &images[..1000]),
                lab.clone(),
            ],
            "truncated",
        ),
        (
            vec!["mnist_idx".into(), img.clone(), short_labels],
            "3 images but",
        ),
        (
            vec![
                "mnist_idx".into(),
                write(
                    "train-images-idx3-ubyte.gz",
                    &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff],
                ),
                lab.clone(),
            ],
            "corrupt gzip",
        ),
        (
            vec![
                "cifar10".into(),
                write("data_batch_2.bin", &batch[..3073 + 5]),
            ],
            "not a whole number of 3073-byte records",
        ),
        (
            vec![
                "cifar10".into(),
                write("cifar-10-binary.tar", &[b'x'; 1024]),
            ],
            "is not a CIFAR-10 binary file",
        ),
    ];
    for (args, message) in cases {
        let mut full = vec!["data".to_string(), "--format".into()];
        full.extend(args);
        let out = hebbian(&full.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{full:?}: {err}");
        assert!(err.contains(message), "{full:?}: {err:?} lacks {message:?}");
    }
}

/// What an attack run found `run` panicking or aborting on (before every entry point validated), and what it
/// found `link` accepting and `run` then refusing: (lab, JSON pointer into the params, value, field named).
const HOSTILE: &[(&str, &str, &str, &str)] = &[
    ("hopfield", "/worked/letters", "[]", "worked/letters"),
    ("hopfield", "/worked/probe", "\"Z\"", "worked/probe"),
    ("hopfield", "/digits/count", "0", "digits/count"),
    ("hopfield", "/digits/probe", "3", "digits/probe"),
    ("ising", "/sweeps", "4294967295", "sweeps"),
    (
        "datasets",
        "/corruption/flip_percent",
        "100000",
        "corruption/flip_percent",
    ),
    (
        "datasets",
        "/corruption/blank_rows",
        "100",
        "corruption/blank_rows",
    ),
    ("hebb2d", "/steps", "\"2000\"", "steps"),
    ("hebb2d", "/__proto__", "{}", ""),
];

/// Every state `link` or the page refuses, `run` refuses too, before allocating anything: exit status 2 and the
/// field named, never a panic (101) or an abort (134).
#[test]
fn run_refuses_what_link_refuses_naming_the_field() {
    let mut cases: Vec<(AnyState, String)> = Vec::new();
    for lab in labs::catalog() {
        cases.extend(common::states::out_of_range(lab.id));
    }
    for &(lab, pointer, value, field) in HOSTILE {
        let mut s = labs::default_state(lab).expect("lab");
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let parent = if parent.is_empty() {
            &mut s.params
        } else {
            s.params.pointer_mut(parent).expect("parent")
        };
        parent[key] = serde_json::from_str(value).expect("value");
        cases.push((s, field.to_string()));
    }
    let mut s = labs::default_state("hebb2d").expect("lab");
    s.hidden = vec!["no_such_parameter".into()];
    cases.push((s, "hidden".into()));
    for (i, (state, field)) in cases.iter().enumerate() {
        let file = tmp(
            &format!("refused-{i}.json"),
            &serde_json::to_string(state).expect("json"),
        );
        let file = file.to_str().expect("utf-8 path");
        assert!(
            !labs::validate(state).is_empty(),
            "{field}: the page accepts it"
        );
        for command in [&["link", file][..], &["run", file, "--backend", "cpu"]] {
            let out = hebbian(command);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command:?} {field}: {stderr}");
            let named = if field.is_empty() {
                "invalid parameters: ".to_string()
            } else {
                format!("{field}: ")
            };
            assert!(
                stderr.contains(&named),
                "{command:?}: {field} not named in {stderr}"
            );
        }
    }
}

/// The hour the page allows is the CLI's default; `--max-hours` moves it (here below the default CNN run's
/// estimate, which is then refused at the field that weighs most, with the limit asked for), and a refusal over
/// the hour says how to accept the run. `--checkpoint` is refused for labs that save none.
#[test]
fn max_hours_sets_the_time_limit_and_checkpoints_need_a_lab_that_saves_them() {
    let state = serde_json::to_string(&labs::default_state("hebbconv").unwrap()).unwrap();
    let file = tmp("hebbconv.json", &state);
    let file = file.to_str().unwrap();
    let out = hebbian(&["run", file, "--max-hours", "0.001"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the limit is 4 s") && err.contains("--max-hours"),
        "{err}"
    );
    for bad in ["0", "-1", "NaN"] {
        let out = hebbian(&["run", file, &format!("--max-hours={bad}")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--max-hours must be a positive number"),
            "{bad}: {err}"
        );
    }
    let mut wide = labs::default_state("hebbconv").unwrap();
    wide.params["width_div"] = serde_json::json!(1);
    wide.params["train_images"] = serde_json::json!(8000);
    let wide = tmp("wide.json", &serde_json::to_string(&wide).unwrap());
    let out = hebbian(&["run", wide.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the limit is 1 h") && err.contains("--max-hours"),
        "{err}"
    );
    // The thesis's Table 3 state with whitening holds more than the page's GiB: the CLI says how to accept it.
    let mut table3 = labs::default_state("hebbconv").unwrap();
    let p = &mut table3.params;
    p["images"] = serde_json::json!("user_cifar10");
    p["zca"] = serde_json::json!(true);
    p["width_div"] = serde_json::json!(1);
    p["train_images"] = serde_json::json!(50000);
    p["test_images"] = serde_json::json!(10000);
    p["batch"] = serde_json::json!(64);
    let table3 = tmp("table3.json", &serde_json::to_string(&table3).unwrap());
    let out = hebbian(&["run", table3.to_str().unwrap(), "--max-hours", "100"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("of memory") && err.contains("--max-gib"),
        "{err}"
    );
    let hebb2d = tmp(
        "hebb2d.json",
        &serde_json::to_string(&labs::default_state("hebb2d").unwrap()).unwrap(),
    );
    let out = hebbian(&[
        "run",
        hebb2d.to_str().unwrap(),
        "--checkpoint",
        "/tmp/x.safetensors",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("saves no checkpoints"), "{err}");
}

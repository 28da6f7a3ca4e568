//! Permalinks: round trips, damaged and hostile links, and links from earlier releases.
use hebbian_playground::labs;
use hebbian_playground::state::{self, AnyState};

fn default() -> AnyState {
    labs::default_state("hebb2d").expect("lab")
}

#[test]
fn a_link_restores_the_exact_state() {
    let mut s = default();
    s.seed = 1234;
    s.params["eta"] = serde_json::json!(0.0025);
    s.params["inputs"][2]["corr"] = serde_json::json!(-0.3);
    s.hidden = vec!["rule".into()];
    let fragment = state::encode_fragment(&s).expect("encode");
    assert!(fragment.starts_with(&format!("s={}.", state::VERSION)));
    assert!(
        fragment.len() < 400,
        "compact: {} characters",
        fragment.len()
    );
    assert_eq!(state::decode(&fragment).expect("decode"), s);
    assert_eq!(
        state::decode(&format!("#{fragment}")).expect("decode with #"),
        s
    );
}

#[test]
fn damaged_links_say_what_is_wrong() {
    let good = state::encode_fragment(&default()).expect("encode");
    let prefix = format!("s={}.", state::VERSION);
    let cases = [
        ("nonsense".to_string(), "does not hold an experiment"),
        ("s=1".to_string(), "no version"),
        ("s=1.%%%".to_string(), "not valid base64url"),
        // Cut on a 4-character boundary so that the base64 is valid and the inflater sees the truncation.
        (
            good[..4 + (good.len() - 4) / 8 * 4].to_string(),
            "truncated or damaged",
        ),
        (good[..good.len() / 2 + 1].to_string(), "damaged"),
        (format!("{}A", &good[..good.len() - 1]), "damaged"),
        (good.replacen(&prefix, "s=x.", 1), "not a link version"),
        (good.replacen(&prefix, "s=0.", 1), "not a link version"),
        (good.replacen(&prefix, "s=7.", 1), "newer release"),
    ];
    for (link, expected) in cases {
        match state::decode(&link) {
            Err(e) => assert!(e.to_string().contains(expected), "{link}: {e}"),
            // A changed last character may still inflate; then the document must still be checked.
            Ok(s) => assert!(
                expected.is_empty() && labs::validate(&s).is_empty()
                    || !labs::validate(&s).is_empty()
            ),
        }
    }
}

#[test]
fn versions_unknown_and_future_are_refused_readably() {
    let mut doc = serde_json::to_value(default()).expect("json");
    doc["version"] = 99.into();
    let e = state::decode(&doc.to_string()).expect_err("future version");
    assert!(e.to_string().contains("newer release"), "{e}");
    doc["version"] = 0.into();
    assert!(state::decode(&doc.to_string()).is_err());
    doc.as_object_mut().expect("object").remove("version");
    assert!(
        state::decode(&doc.to_string())
            .expect_err("no version")
            .to_string()
            .contains("no version")
    );
}

#[test]
fn unknown_labs_and_fields_are_refused() {
    let mut s = default();
    s.lab = "<img src=x onerror=alert(1)>".into();
    let errs = labs::validate(&s);
    assert!(errs[0].message.contains("unknown lab"), "{errs:?}");
    let mut s = default();
    s.params["surprise"] = 1.into();
    assert!(!labs::validate(&s).is_empty());
}

#[test]
fn zip_bombs_are_refused() {
    use base64::Engine as _;
    let big = vec![b' '; 10 << 20];
    let packed = miniz_oxide::deflate::compress_to_vec(&big, 9);
    let link = format!(
        "s=1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed)
    );
    assert!(
        state::decode(&link)
            .expect_err("bomb")
            .to_string()
            .contains("64 KiB")
    );
}

/// A link made by release 0.1.0 (state version 1). It must keep opening in every later release: when the
/// state changes shape, `state::migrate` gains a step and this test keeps passing.
const RELEASE_0_1_LINK: &str = include_str!("fixtures/hebb2d-v1.link");

#[test]
fn links_from_earlier_releases_still_open() {
    let s = state::decode(RELEASE_0_1_LINK.trim()).expect("old link decodes");
    assert_eq!(s.lab, "hebb2d");
    assert_eq!(s.seed, 2024);
    assert!(labs::validate(&s).is_empty(), "{:?}", labs::validate(&s));
    assert_eq!(s.params["rule"], "oja");
}

/// A Datasets link from before issue 9 (state version 1, made by that commit's CLI: letters, "bipolar" map and
/// a 20 % flip, with the corruption's own `bipolar` box unticked, which wrote 2s). It opens without that box, and
/// its run now keeps the letters ±1.
const DATASETS_BEFORE_ISSUE_9: &str = include_str!("fixtures/datasets-before-issue9.link");

#[test]
fn datasets_links_with_the_corruptions_bipolar_box_still_open() {
    let s = state::decode(DATASETS_BEFORE_ISSUE_9.trim()).expect("old link decodes");
    assert_eq!(
        (s.lab.as_str(), s.seed, s.version),
        ("datasets", 7, state::VERSION)
    );
    assert!(labs::validate(&s).is_empty(), "{:?}", labs::validate(&s));
    assert_eq!(s.params["corruption"]["flip_percent"], 20.0);
    assert!(s.params["corruption"].get("bipolar").is_none());
    assert_eq!(s.params["source"]["letters"]["bipolar"], true);
    assert_eq!(s.params["preprocess"]["bipolar"], true);
    // The step only touches version-1 Datasets documents: a current one with the box is refused.
    let mut doc = serde_json::to_value(&s).expect("json");
    doc["params"]["corruption"]["bipolar"] = true.into();
    let e = state::decode(&doc.to_string()).expect("decodes");
    assert!(!labs::validate(&e).is_empty());
    // And only Datasets documents: another lab's params keep what they have (and are checked as ever).
    let mut hebb = serde_json::to_value(default()).expect("json");
    hebb["version"] = 1.into();
    hebb["params"]["corruption"] = serde_json::json!({"bipolar": true});
    let opened = state::decode(&hebb.to_string()).expect("decodes");
    assert_eq!(opened.params["corruption"]["bipolar"], true);
}

/// Every one-character change of a link is refused or opens the very same experiment: the checksum catches
/// what the inflater lets through (before it, one of ~400 random flips turned seed 42 into 12).
#[test]
fn a_damaged_link_never_opens_another_experiment() {
    let mut s = default();
    s.seed = 42;
    let good = state::encode_fragment(&s).expect("encode");
    let data_start = format!("s={}.", state::VERSION).len();
    let mut refused = 0;
    for i in data_start..good.len() {
        for c in ['A', 'f', '0', '-', '_'] {
            let mut bad: Vec<char> = good.chars().collect();
            if bad[i] == c || bad[i] == '.' {
                continue;
            }
            bad[i] = c;
            let bad: String = bad.into_iter().collect();
            match state::decode(&bad) {
                Ok(opened) => assert_eq!(opened, s, "{bad} opened another experiment"),
                Err(_) => refused += 1,
            }
        }
    }
    assert!(
        refused > 4 * (good.len() - data_start) - 20,
        "{refused} refused"
    );
}

/// `link` and `run` read the same states: what a link cannot hold is refused everywhere, with the reason.
#[test]
fn states_too_big_for_a_link_are_refused_everywhere() {
    let mut s = default();
    s.params["inputs"][0]["note"] = "x".repeat(70 * 1024).into();
    assert!(
        state::encode_fragment(&s)
            .expect_err("too big")
            .to_string()
            .contains("at most 64 KiB")
    );
    let text = serde_json::to_string(&s).expect("json");
    assert!(
        state::decode(&text)
            .expect_err("too big")
            .to_string()
            .contains("64 KiB")
    );
    let huge = format!("{{\"version\": 1, \"pad\": \"{}\"}}", " ".repeat(2 << 20));
    let e = state::decode(&huge).expect_err("huge text").to_string();
    assert!(e.contains("MB of text"), "{e}");
}

#[test]
fn hidden_names_must_be_parameters_listed_once() {
    let mut s = default();
    s.hidden = vec!["eta".into(), "<b>x</b>".into(), "eta".into()];
    let errs = labs::validate(&s);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.iter().all(|e| e.path == "hidden"));
    s.hidden = vec!["eta".into(), "rule".into()];
    assert!(labs::validate(&s).is_empty());
}

#[test]
fn type_errors_name_the_field_in_plain_words() {
    let mut s = default();
    s.params["steps"] = "2000".into();
    let errs = labs::validate(&s);
    assert!(
        errs.iter().any(|e| e.path == "steps"
            && e.message == "expected a whole number ≥ 0, got the string \"2000\""),
        "{errs:?}"
    );
    let mut s = default();
    s.params["inputs"][1]["corr"] = true.into();
    let errs = labs::validate(&s);
    assert!(
        errs.iter()
            .any(|e| e.path == "inputs/1/corr" && e.message.contains("got true")),
        "{errs:?}"
    );
    let mut doc = serde_json::to_value(default()).expect("json");
    doc["seed"] = "x".into();
    let e = state::decode(&doc.to_string())
        .expect_err("seed")
        .to_string();
    assert!(e.contains("seed: expected a whole number"), "{e}");
}

/// A Hopfield link from before the probe letter had a name (state version 2, made by that commit's CLI): seed
/// 11, the worked example on T, U, C with `probe: 2` (C) damaged by one seeded flip, in a random order. It opens
/// with the probe named "C" and runs the very same experiment: that commit's CLI printed the worked example's
/// numbers below for it.
const HOPFIELD_PROBE_INDEX: &str = include_str!("fixtures/hopfield-v2-probe-index.link");

#[test]
fn hopfield_links_with_a_probe_index_open_on_the_letter_of_that_name() {
    use hebbian_playground::data::shipped;
    use hebbian_playground::data::store::DataStore;
    use hebbian_playground::engine::Engine;
    use hebbian_playground::labs::budget::Chunk;
    let link = HOPFIELD_PROBE_INDEX.trim();
    assert!(link.starts_with("s=2."), "a version-2 link");
    let s = state::decode(link).expect("old link decodes");
    assert_eq!(
        (s.lab.as_str(), s.seed, s.version),
        ("hopfield", 11, state::VERSION)
    );
    assert_eq!(s.params["worked"]["probe"], "C");
    assert!(labs::validate(&s).is_empty(), "{:?}", labs::validate(&s));
    // The same experiment: the damaged C, recalled to C, with the energies the old release printed.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let mut store = DataStore::default();
    store.set_mnist(
        shipped::mnist_from_dir(&dir).expect("the shipped MNIST asset (run scripts/setup.sh)"),
    );
    let mut run = labs::Run::start(&s, &store).expect("start");
    let f =
        pollster::block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(0))).expect("run");
    let metric = |name: &str| {
        f.metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(
        metric("worked example: recalled memory (index, −1: none)"),
        2.0
    );
    assert_eq!(metric("worked example: energy of the probe"), -20.0);
    assert_eq!(metric("worked example: final energy"), -40.0);
    // The new link is a version-3 one and reopens the same state.
    let again = state::decode(&state::encode_fragment(&s).expect("encode")).expect("decode");
    assert_eq!(again, s);
    // An index with no letter (refused before) is refused now, at the field, naming the letters.
    let mut doc = serde_json::to_value(&s).expect("json");
    doc["version"] = 2.into();
    doc["params"]["worked"]["probe"] = 7.into();
    let opened = state::decode(&doc.to_string()).expect("decodes");
    let errs = labs::validate(&opened);
    assert!(
        errs.iter()
            .any(|e| e.path == "worked/probe" && e.message.contains("T, U, C")),
        "{errs:?}"
    );
    // Only version-2 Hopfield documents are touched: a current one with a number is refused as a type error.
    doc["version"] = state::VERSION.into();
    doc["params"]["worked"]["probe"] = 2.into();
    let current = state::decode(&doc.to_string()).expect("decodes");
    assert!(
        labs::validate(&current)
            .iter()
            .any(|e| e.path == "worked/probe"),
        "a number is no name"
    );
}

/// A credit link from before "which rule is this?" (its params have no `identify`) opens, and runs the
/// identification with its defaults.
#[test]
fn credit_links_from_before_the_rule_classifier_open() {
    let mut doc = serde_json::to_value(labs::default_state("credit").expect("lab")).expect("json");
    doc["params"]
        .as_object_mut()
        .expect("params")
        .remove("identify");
    let s = state::decode(&doc.to_string()).expect("decodes");
    assert!(labs::validate(&s).is_empty(), "{:?}", labs::validate(&s));
    let cost = labs::estimate(&s).expect("estimate");
    let mut current = labs::default_state("credit").expect("lab");
    current.view = s.view.clone();
    assert_eq!(
        cost.seconds,
        labs::estimate(&current).expect("estimate").seconds,
        "the same work as the default identification"
    );
}

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
    let fragment = state::encode_fragment(&s);
    assert!(fragment.starts_with("s=1."));
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
    let good = state::encode_fragment(&default());
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
        (format!("{}A", &good[..good.len() - 1]), ""),
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

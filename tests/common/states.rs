//! States to throw at every entry point: each lab's numeric fields, and states just outside their bounds.
use hebbian_playground::labs;
use hebbian_playground::state::AnyState;
use serde_json::Value;

/// Numeric fields reachable through objects (not arrays or enums) as JSON pointers into the params, with their
/// schemas.
pub fn numeric_fields(id: &str) -> Vec<(String, Value)> {
    let schema = labs::schema(id).expect("schema");
    let mut out = Vec::new();
    walk(&schema, &schema["properties"]["params"], "", &mut out);
    out
}

fn walk(root: &Value, schema: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => root.pointer(&r[1..]).expect("$ref target"),
        None => schema,
    };
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            walk(root, sub, &format!("{path}/{k}"), out);
        }
    } else if schema.get("minimum").is_some() || schema.get("maximum").is_some() {
        out.push((path.to_string(), schema.clone()));
    }
}

/// The default state of lab `id` with one numeric field just outside one of its bounds, and that field's path
/// as validation names it ("capacity/n"). Fields of enum variants the default does not use are left out.
pub fn out_of_range(id: &str) -> Vec<(AnyState, String)> {
    let state = labs::default_state(id).expect("default state");
    let mut cases = Vec::new();
    for (path, sub) in numeric_fields(id) {
        for (bound, delta) in [("minimum", -1.0), ("maximum", 1.0)] {
            let Some(b) = sub.get(bound).and_then(Value::as_f64) else {
                continue;
            };
            let integer = sub["type"] == "integer";
            if b.abs() >= 1e9 || (integer && bound == "minimum" && b == 0.0) {
                continue; // machine-width bounds, and unsigned zero: serde refuses those
            }
            let mut bad = state.clone();
            let Some(slot) = bad.params.pointer_mut(&path) else {
                continue;
            };
            *slot = if integer {
                serde_json::json!((b + delta) as i64)
            } else {
                serde_json::json!(b + delta * b.abs().max(1e-3))
            };
            cases.push((bad, path[1..].to_string()));
        }
    }
    cases
}

//! Parameter ranges, written once: the bounds a lab declares with `#[schemars(range(…), length(…))]` are
//! read back from its JSON Schema and checked against a state, so no lab repeats them by hand. Labs keep
//! hand-written checks only for rules across fields (a positive semidefinite Σ, P < N, work budgets).
use crate::error::FieldError;
use serde_json::Value;

/// Every value in `value` that breaks a bound of `schema` (minimum, maximum, exclusive bounds, item counts,
/// string lengths), found by walking both together. `root` holds the `$defs` that `$ref`s point into;
/// `path` is the field path of `value` ("" for the params object itself; children are joined with `/`).
/// Values of the wrong type are left to serde, which reports them when the params are parsed.
pub fn check(root: &Value, schema: &Value, value: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let schema = resolve(root, schema);
    if value.is_null() {
        return;
    }
    for all in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        check(root, all, value, path, errs);
    }
    // An enum or an Option: check against the branch that describes this value.
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array)
            && let Some(branch) = branches
                .iter()
                .map(|b| resolve(root, b))
                .find(|b| describes(root, b, value))
        {
            check(root, branch, value, path, errs);
        }
    }
    if let Some(x) = value.as_f64() {
        number(schema, x, path, errs);
    }
    if let Some(items) = value.as_array() {
        count(
            schema,
            items.len(),
            "minItems",
            "maxItems",
            "items",
            path,
            errs,
        );
        if let Some(item) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                check(root, item, v, &join(path, &i.to_string()), errs);
            }
        }
    }
    if let Some(s) = value.as_str() {
        count(
            schema,
            s.chars().count(),
            "minLength",
            "maxLength",
            "characters",
            path,
            errs,
        );
    }
    if let (Some(fields), Some(props)) = (
        value.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for (name, sub) in props {
            if let Some(v) = fields.get(name) {
                check(root, sub, v, &join(path, name), errs);
            }
        }
    }
}

fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        child.to_string()
    } else {
        format!("{path}/{child}")
    }
}

/// Follows `$ref: "#/$defs/Name"` (schemars' only form of reference).
pub fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    // References never chain deeply; the bound stops a malformed schema from looping.
    for _ in 0..16 {
        let Some(target) = s.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match target
            .strip_prefix("#/")
            .and_then(|p| root.pointer(&format!("/{p}")))
        {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

/// Whether `branch` of a oneOf/anyOf is the one describing `value`: its type fits, and its constants (a unit
/// variant's `const`/`enum`, a tagged variant's `kind` property) equal the value's.
fn describes(root: &Value, branch: &Value, value: &Value) -> bool {
    if let Some(c) = branch.get("const") {
        return c == value;
    }
    if let Some(e) = branch.get("enum").and_then(Value::as_array) {
        return e.contains(value);
    }
    let type_fits = match branch.get("type") {
        Some(Value::String(t)) => fits(t, value),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).any(|t| fits(t, value)),
        _ => true,
    };
    if !type_fits {
        return false;
    }
    let consts_match = match (
        branch.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        (Some(props), Some(fields)) => {
            props
                .iter()
                .all(|(name, sub)| match resolve(root, sub).get("const") {
                    Some(c) => fields.get(name) == Some(c),
                    None => true,
                })
        }
        _ => true,
    };
    // An externally tagged variant is an object with one required key: the variant's name.
    let tag_matches = match (
        branch.get("required").and_then(Value::as_array),
        value.as_object(),
    ) {
        (Some(req), Some(fields)) if branch.get("properties").is_some() => req
            .iter()
            .filter_map(Value::as_str)
            .all(|k| fields.contains_key(k)),
        _ => true,
    };
    consts_match && tag_matches
}

fn fits(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

fn number(schema: &Value, x: f64, path: &str, errs: &mut Vec<FieldError>) {
    let min = schema.get("minimum").and_then(Value::as_f64);
    let max = schema.get("maximum").and_then(Value::as_f64);
    let below = min.is_some_and(|m| x < m)
        || schema
            .get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x <= m);
    let above = max.is_some_and(|m| x > m)
        || schema
            .get("exclusiveMaximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x >= m);
    if !(below || above) {
        return;
    }
    // Machine-width bounds (u32's 4294967295) say nothing to a reader; name only the lab's own bounds.
    let shown = |b: Option<f64>| b.filter(|b| b.abs() < 1e9);
    let message = match (shown(min), shown(max)) {
        (Some(lo), Some(hi)) => format!("{x} is outside [{lo}, {hi}]"),
        (Some(lo), None) => format!("{x} is below the minimum {lo}"),
        (None, Some(hi)) => format!("{x} is above the maximum {hi}"),
        (None, None) => format!("{x} is out of range"),
    };
    errs.push(FieldError::new(path, message));
}

fn count(
    schema: &Value,
    n: usize,
    min_key: &str,
    max_key: &str,
    what: &str,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let min = schema.get(min_key).and_then(Value::as_u64);
    let max = schema.get(max_key).and_then(Value::as_u64);
    let n64 = n as u64;
    if min.is_some_and(|m| n64 < m) || max.is_some_and(|m| n64 > m) {
        let message = match (min, max) {
            (Some(lo), Some(hi)) => format!("{n} {what} given; use {lo} to {hi}"),
            (Some(lo), None) => format!("{n} {what} given; use at least {lo}"),
            (_, Some(hi)) => format!("{n} {what} given; use at most {hi}"),
            (None, None) => unreachable!("a bound was broken"),
        };
        errs.push(FieldError::new(path, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;

    #[derive(serde::Serialize, JsonSchema)]
    #[allow(dead_code)] // Only its schema is used.
    struct Inner {
        #[schemars(range(min = -1.0, max = 1.0))]
        corr: f64,
    }

    #[derive(serde::Serialize, JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    #[allow(dead_code)]
    enum Source {
        A {
            #[schemars(range(min = 1, max = 10))]
            count: u32,
        },
        B {
            #[schemars(range(min = 5, max = 6))]
            count: u32,
        },
    }

    #[derive(serde::Serialize, JsonSchema)]
    #[allow(dead_code)]
    struct P {
        #[schemars(range(min = 0.001, max = 1.0))]
        eta: f64,
        #[schemars(length(min = 1, max = 2))]
        inputs: Vec<Inner>,
        limit: Option<Inner>,
        source: Source,
        #[schemars(length(max = 3))]
        name: String,
    }

    fn errors(value: serde_json::Value) -> Vec<String> {
        let root = serde_json::to_value(schemars::schema_for!(P)).expect("schema");
        let mut errs = Vec::new();
        check(&root, &root, &value, "", &mut errs);
        errs.into_iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect()
    }

    #[test]
    fn bounds_are_read_from_the_schema() {
        let ok = serde_json::json!({"eta": 0.5, "inputs": [{"corr": 0.2}], "limit": null,
            "source": {"kind": "b", "count": 5}, "name": "abc"});
        assert!(errors(ok).is_empty());
        let bad = serde_json::json!({"eta": 2.0, "inputs": [{"corr": 0.2}, {"corr": 3}, {"corr": 0}],
            "limit": {"corr": -2}, "source": {"kind": "b", "count": 7}, "name": "abcd"});
        assert_eq!(
            errors(bad),
            [
                "eta: 2 is outside [0.001, 1]",
                "inputs: 3 items given; use 1 to 2",
                "inputs/1/corr: 3 is outside [-1, 1]",
                "limit/corr: -2 is outside [-1, 1]",
                "source/count: 7 is outside [5, 6]",
                "name: 4 characters given; use at most 3",
            ]
        );
    }
}

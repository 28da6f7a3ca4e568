//! Small binary patterns: the lectures' letters (T, U, C, L, H on 3×3 grids, 004) and the user's own, drawn in
//! the page's pattern editor. A pattern travels in the experiment state as text ('#' on, '.' off, row-major), so
//! a permalink carries what the user drew.
use super::{Dataset, Shape, Split, Values};
use crate::error::{FieldError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest grid the editor offers: 32×32 is already 1024 neurons for a Hopfield network.
pub const MAX_SIDE: u32 = 32;
/// The most patterns one set may hold.
pub const MAX_PATTERNS: usize = 64;

/// One named pattern on a rows × cols grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    pub name: String,
    pub rows: u32,
    pub cols: u32,
    /// Row-major cells, '#' for on (1 / +1) and '.' for off (0 / −1).
    pub cells: String,
}

impl Pattern {
    pub fn new(name: &str, rows: u32, cols: u32, on: &[u8]) -> Self {
        Self {
            name: name.into(),
            rows,
            cols,
            cells: on.iter().map(|&b| if b == 1 { '#' } else { '.' }).collect(),
        }
    }

    /// The cells as 0 / 1.
    pub fn binary(&self) -> Vec<u8> {
        self.cells.chars().map(|c| u8::from(c == '#')).collect()
    }

    /// The cells as −1 / +1 (the lectures' bipolar form 2s − 1).
    pub fn bipolar(&self) -> Vec<f32> {
        self.binary()
            .into_iter()
            .map(|b| 2.0 * f32::from(b) - 1.0)
            .collect()
    }
}

/// The lectures' letters, flattened row-major (notes: lectures-classic-networks.md, "Conventions").
pub fn lecture_letters() -> Vec<Pattern> {
    [
        ("T", [1, 1, 1, 0, 1, 0, 0, 1, 0]),
        ("U", [1, 0, 1, 1, 0, 1, 1, 1, 1]),
        ("C", [1, 1, 1, 1, 0, 0, 1, 1, 1]),
        ("L", [1, 0, 0, 1, 0, 0, 1, 1, 1]),
        ("H", [1, 0, 1, 1, 1, 1, 1, 0, 1]),
    ]
    .iter()
    .map(|(name, on)| Pattern::new(name, 3, 3, on))
    .collect()
}

/// Checks a pattern set as it comes from a link or the editor; `path` prefixes the field paths.
pub fn validate(patterns: &[Pattern], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if patterns.is_empty() {
        errors.push(FieldError::new(path, "draw or keep at least one pattern"));
    }
    if patterns.len() > MAX_PATTERNS {
        errors.push(FieldError::new(
            path,
            format!("at most {MAX_PATTERNS} patterns (got {})", patterns.len()),
        ));
    }
    for (i, p) in patterns.iter().enumerate() {
        let at = format!("{path}/{i}");
        if !(1..=MAX_SIDE).contains(&p.rows) || !(1..=MAX_SIDE).contains(&p.cols) {
            errors.push(FieldError::new(
                &at,
                format!(
                    "pattern '{}' is {}×{}; rows and columns must be 1 to {MAX_SIDE}",
                    p.name, p.rows, p.cols
                ),
            ));
            continue;
        }
        let n = p.cells.chars().count();
        if n != (p.rows * p.cols) as usize {
            errors.push(FieldError::new(
                format!("{at}/cells"),
                format!(
                    "pattern '{}' has {n} cells but a {}×{} grid needs {}",
                    p.name,
                    p.rows,
                    p.cols,
                    p.rows * p.cols
                ),
            ));
        }
        if let Some(c) = p.cells.chars().find(|&c| c != '#' && c != '.') {
            errors.push(FieldError::new(
                format!("{at}/cells"),
                format!(
                    "pattern '{}' has the character '{c}'; use '#' (on) and '.' (off)",
                    p.name
                ),
            ));
        }
        if p.name.chars().count() > 24 {
            errors.push(FieldError::new(
                format!("{at}/name"),
                "names are at most 24 characters",
            ));
        }
    }
    if let Some(first) = patterns.first()
        && patterns
            .iter()
            .any(|p| (p.rows, p.cols) != (first.rows, first.cols))
    {
        errors.push(FieldError::new(
            path,
            "all patterns of a set must have the same grid size",
        ));
    }
    errors
}

/// One sample per pattern, each its own class, all in the training split (a set of memories, not a sample of
/// a population). `bipolar` gives −1 / +1, else 0 / 1. Call [`validate`] first.
pub fn dataset(patterns: &[Pattern], bipolar: bool) -> Result<Dataset> {
    let (rows, cols) = patterns.first().map_or((0, 0), |p| (p.rows, p.cols));
    let values: Vec<f32> = if bipolar {
        patterns.iter().flat_map(Pattern::bipolar).collect()
    } else {
        patterns
            .iter()
            .flat_map(|p| p.binary().into_iter().map(f32::from))
            .collect()
    };
    Dataset::new(
        if bipolar {
            "Letter patterns (bipolar ±1)"
        } else {
            "Letter patterns (binary 0/1)"
        },
        "the lectures' 3×3 letters (004) and patterns drawn in the editor",
        Shape::image(1, rows, cols),
        patterns.iter().map(|p| p.name.clone()).collect(),
        Values::Real(values),
        (0..patterns.len() as u8).collect(),
        vec![Split::Train; patterns.len()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_match_the_lectures() {
        let l = lecture_letters();
        assert_eq!(l[0].binary(), vec![1, 1, 1, 0, 1, 0, 0, 1, 0]);
        assert_eq!(l[1].cells, "#.##.####");
        assert_eq!(l[2].bipolar()[4], -1.0);
        assert!(validate(&l, "/patterns").is_empty());
        let d = dataset(&l, true).unwrap();
        assert_eq!((d.len(), d.dim(), d.classes.len()), (5, 9, 5));
        assert_eq!(d.value_range(), (-1.0, 1.0));
    }

    #[test]
    fn bad_patterns_are_named() {
        let mut l = lecture_letters();
        l[1].cells = "#.#".into();
        l[2].cells = "#x#######".into();
        l.push(Pattern::new("big", 4, 4, &[1; 16]));
        let msgs: Vec<String> = validate(&l, "/patterns")
            .into_iter()
            .map(|e| e.message)
            .collect();
        assert!(
            msgs.iter()
                .any(|m| m.contains("has 3 cells but a 3×3 grid needs 9")),
            "{msgs:?}"
        );
        assert!(msgs.iter().any(|m| m.contains("character 'x'")), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.contains("same grid size")),
            "{msgs:?}"
        );
        assert!(!validate(&[], "/p").is_empty());
    }
}

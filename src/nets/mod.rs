//! Network families that are more than a kernel: one file each (models, dynamics, observables).
pub mod boltzmann;
pub mod chl;
pub mod competitive;
pub mod dense;
pub mod hebbconv;
pub mod hebbrule;
pub mod hopfield;
pub mod ising;
pub mod linear;
pub mod metric_classifier;
pub mod mlp;
pub mod optim;
pub mod probe;
pub mod rbm;
pub mod som;

//! Lab "Hebbian convolutional networks" (001): the thesis's protocol on images in the page. One unsupervised
//! epoch trains every Hebbian layer of a preset network at once (batch by batch), then the network is frozen
//! and a linear probe (dropout 0.5, Adam 1e-3) is trained on its features and tested. Beside it, optionally, a
//! second network with another competition mode (the comparison the thesis's Table 3 makes) and the same
//! network with random, untrained filters (the floor every learnt extractor must beat).
//!
//! Differences from the thesis, on purpose: its loaders draw the training images in file order; the shipped
//! digits are stored class by class, so the lab takes a seeded shuffle of the training split (a fixed order for
//! every epoch, as the thesis's `shuffle=False`). Small runs keep the probe's features after the first epoch
//! (they are the same every epoch: the extractor is frozen); runs whose features would pass [`CACHE_BYTES`]
//! recompute them batch by batch, as the thesis's 50,000 × 24,576 features must be.
use super::budget::{Chunk, Cost};
use super::{Lab, LabRun};
use crate::checkpoint::{self, Checkpoint};
use crate::data::generate::MAX_VALUES;
use crate::data::loader::Kind;
use crate::data::photos::Patches;
use crate::data::store::{DataStore, Need};
use crate::data::zca::{self, Samples, Zca};
use crate::data::{Dataset, Split, preprocess};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::nets::hebbconv::gpu::GpuNetwork;
use crate::nets::hebbconv::presets::{Arch, Preset};
use crate::nets::hebbconv::{HebbConfig, HebbLayer, Network, Pass};
use crate::nets::probe::{Confusion, Probe};
use crate::plasticity::competition::{Competition, PreDim, PreKind};
use crate::protocol::{
    Cell, Frame, Heatmap, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, REFERENCE, Series,
};
use crate::state::{StateDoc, View};
use ndarray::{Array2, Array4, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The architectures a student can pick (the thesis's presets A–G; H, the backprop baseline, is not Hebbian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Three convolutions (5×5, 3×3, 3×3) with reflect padding, max pools between them: the SoftHebb network.
    #[schemars(title = "A · SoftHebb network")]
    A,
    /// A without padding and without the second pool (the hard-WTA network).
    #[schemars(title = "B · hard-WTA network")]
    B,
    /// Three narrower convolutions without padding (Lagani et al.'s short network).
    #[schemars(title = "C · short, narrow")]
    C,
    /// C with a fourth convolution.
    #[schemars(title = "D · four convolutions")]
    D,
    /// A with depthwise-separable second and third convolutions.
    #[schemars(title = "E · depthwise-separable")]
    E,
    /// B with depthwise-separable convolutions.
    #[schemars(title = "F · depthwise, unpadded")]
    F,
    /// A with residual inverted-bottleneck blocks.
    #[schemars(title = "G · residual blocks")]
    G,
}

impl Architecture {
    fn arch(self) -> Arch {
        match self {
            Self::A => Arch::A,
            Self::B => Arch::B,
            Self::C => Arch::C,
            Self::D => Arch::D,
            Self::E => Arch::E,
            Self::F => Arch::F,
            Self::G => Arch::G,
        }
    }
}

/// How the neurons of a layer compete for the update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// SoftHebb: a softmax over the channels picks a soft winner at each position; every other neuron
    /// unlearns (anti-Hebbian), and each neuron's rate shrinks as its weight norm nears 1.
    #[schemars(title = "SoftHebb (soft winner-take-all)")]
    SoftHebb,
    /// Hard winner-take-all: only the most active neuron at each position learns.
    #[schemars(title = "hard winner-take-all")]
    HardWta,
    /// The winner learns, every other neuron unlearns by its own activity.
    #[schemars(title = "hard winner-take-all, losers unlearn")]
    AntiHard,
    /// BCM: the winner learns above a sliding threshold of its recent activity and unlearns below it.
    #[schemars(title = "BCM")]
    Bcm,
    /// Temporal threshold: only activity above the median of recent activity competes.
    #[schemars(title = "temporal threshold")]
    Temporal,
    /// Statistical threshold: only similarity above mean + 2 standard deviations competes.
    #[schemars(title = "statistical threshold")]
    Statistical,
    /// No competition: every neuron learns from its own activity (Grossberg's instar).
    #[schemars(title = "no competition")]
    None,
}

impl Rule {
    fn competition(self) -> Competition {
        match self {
            Self::SoftHebb => Competition::SoftWta,
            Self::HardWta => Competition::HardWta,
            Self::AntiHard => Competition::AntiHard,
            Self::Bcm => Competition::Bcm,
            Self::Temporal => Competition::Temporal,
            Self::Statistical => Competition::Statistical,
            Self::None => Competition::None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::SoftHebb => "SoftHebb",
            Self::HardWta => "hard-WTA",
            Self::AntiHard => "anti-Hebbian hard-WTA",
            Self::Bcm => "BCM",
            Self::Temporal => "temporal threshold",
            Self::Statistical => "statistical threshold",
            Self::None => "no competition",
        }
    }
}

/// Which weights compete for each input in the forward pass (pre-synaptic competition): each weight is
/// replaced by a softmax of 1/|w| over its group, so a synapse's share of the input shrinks as its competitors
/// weaken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreSynaptic {
    #[default]
    #[schemars(title = "off")]
    Off,
    /// The weights of one neuron at one position across the input channels (the variant the thesis found to
    /// work).
    #[schemars(title = "across input channels")]
    InputChannels,
    /// The weights of every neuron for one input channel at one position.
    #[schemars(title = "across output channels")]
    OutputChannels,
    /// The k × k weights of one neuron for one input channel.
    #[schemars(title = "across positions")]
    Positions,
    /// Every weight of the layer (the thesis's printed code).
    #[schemars(title = "across the whole layer")]
    Layer,
}

impl PreSynaptic {
    /// What competes, for a network's name.
    fn across(self) -> &'static str {
        match self {
            Self::Off => "",
            Self::InputChannels => "input channels",
            Self::OutputChannels => "output channels",
            Self::Positions => "positions",
            Self::Layer => "whole layer",
        }
    }

    fn dim(self) -> Option<PreDim> {
        match self {
            Self::Off => None,
            Self::InputChannels => Some(PreDim::Input),
            Self::OutputChannels => Some(PreDim::Output),
            Self::Positions => Some(PreDim::Spatial),
            Self::Layer => Some(PreDim::Global),
        }
    }
}

/// The images to learn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Images {
    /// The 10,000 MNIST digits shipped with the playground (8,000 train, 1,000 test).
    #[schemars(title = "the shipped digits")]
    Digits,
    /// Your own MNIST files (IDX, plain or .gz), loaded in the Datasets lab or here.
    #[schemars(title = "your MNIST files")]
    UserMnist,
    /// Your own CIFAR-10 files (binary version), loaded in the Datasets lab or here.
    #[schemars(title = "your CIFAR-10 files")]
    UserCifar10,
    /// 28×28 grey patches cut at seeded places from the shipped photographs (natural images: the first
    /// layer's filters become edge detectors); each patch is labelled with its photograph, which the probe
    /// learns to tell.
    #[schemars(title = "natural-image patches")]
    Photos,
}

impl Images {
    fn need(self) -> Need {
        match self {
            Self::Digits => Need::Mnist,
            Self::UserMnist => Need::User {
                format: Kind::MnistIdx,
            },
            Self::UserCifar10 => Need::User {
                format: Kind::Cifar10,
            },
            Self::Photos => Need::Photos,
        }
    }

    /// Channels, height, width of every image.
    fn shape(self) -> [usize; 3] {
        match self {
            Self::Digits | Self::UserMnist | Self::Photos => [1, 28, 28],
            Self::UserCifar10 => [3, 32, 32],
        }
    }

    fn dataset(self, store: &DataStore, p: &Params, seed: u32) -> Result<Arc<Dataset>> {
        match self {
            Self::Digits => store.mnist(),
            Self::UserMnist => store.user(Kind::MnistIdx),
            Self::UserCifar10 => store.user(Kind::Cifar10),
            Self::Photos => Ok(Arc::new(photo_patches(p).cut(store.photos()?, seed)?)),
        }
    }
}

/// The patches a photo-patch run cuts: as many as its training and test images need (the stratified split
/// holds 80 % of each photograph's patches for training and 10 % for testing).
fn photo_patches(p: &Params) -> Patches {
    let [_, side, _] = Images::Photos.shape();
    let count = (p.train_images.div_ceil(8) * 10).max(p.test_images * 10);
    Patches {
        size: side as u32,
        count,
    }
}

/// Whether a second network is trained beside the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecondKind {
    /// One network.
    #[schemars(title = "off")]
    Off,
    /// A second network of the same architecture and initial weights, with its own competition.
    #[schemars(title = "train one to compare")]
    Compare,
}

/// The second network of a comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Second {
    #[schemars(title = "second network")]
    pub kind: SecondKind,
    #[schemars(title = "its competition", extend("x-when" = "compare"))]
    pub rule: Rule,
    /// Lateral inhibition of the second network (see "surround inhibition" above).
    #[schemars(title = "its surround inhibition", extend("x-when" = "compare"))]
    pub surround: bool,
    /// Pre-synaptic competition in the second network (see "pre-synaptic competition" above).
    #[serde(default)]
    #[schemars(title = "its pre-synaptic competition", extend("x-when" = "compare"))]
    pub pre_synaptic: PreSynaptic,
    /// Dale's principle in the second network (see "Dale's principle" above).
    #[serde(default)]
    #[schemars(title = "its Dale's principle", extend("x-when" = "compare"))]
    pub dale: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "network batch", "x-steps" = "network batches"))]
pub struct Params {
    #[schemars(title = "architecture")]
    pub arch: Architecture,
    /// Every layer's width divided by this: 1 is the thesis's network (96, 384 and 1,536 channels for A), 8 a
    /// laptop's (12, 48, 192).
    #[schemars(title = "widths divided by", range(min = 1, max = 96))]
    pub width_div: u32,
    #[schemars(title = "competition")]
    pub rule: Rule,
    /// Surround modulation: each activity map is filtered by a fixed 5×5 difference of Gaussians before the
    /// update, so that neighbouring positions inhibit each other.
    #[schemars(title = "surround inhibition")]
    pub surround: bool,
    #[serde(default)]
    #[schemars(title = "pre-synaptic competition")]
    pub pre_synaptic: PreSynaptic,
    /// Dale's principle: every weight stays excitatory (the forward pass uses |w|, and w ← |w + lr·Δw| after
    /// each update; the first weights are |N(0, 1)|).
    #[serde(default)]
    #[schemars(title = "Dale's principle")]
    pub dale: bool,
    #[schemars(title = "second network, for comparison")]
    pub second: Second,
    /// Also probe the same network with its random initial filters, never trained: the floor.
    #[schemars(title = "probe random filters too")]
    pub random_floor: bool,
    #[schemars(title = "images")]
    pub images: Images,
    /// Whiten the images with ZCA (each pixel standardised, then decorrelated; ε = 10⁻³), fitted on the
    /// training images: the thesis does so on CIFAR-10 for hard-WTA and the rules built on it, not for SoftHebb.
    #[serde(default)]
    #[schemars(title = "ZCA whitening")]
    pub zca: bool,
    /// Training images seen by the one unsupervised epoch; the probe trains on the same images.
    #[schemars(
        title = "training images",
        range(min = 1, max = 60000),
        extend("x-unit" = "images")
    )]
    pub train_images: u32,
    /// Test images the probe is scored on.
    #[schemars(
        title = "test images",
        range(min = 1, max = 10000),
        extend("x-unit" = "images")
    )]
    pub test_images: u32,
    /// Images per update. The thesis uses 64 over 50,000 images (782 updates); here smaller batches give a
    /// smaller set of images as many updates.
    #[schemars(title = "batch size", range(min = 1, max = 256), extend("x-unit" = "images"))]
    pub batch: u32,
    /// Passes of the probe over the training images (the thesis: 5, and 10 in one table).
    #[schemars(title = "probe epochs", range(min = 1, max = 50))]
    pub probe_epochs: u32,
}

/// The lab.
pub struct HebbConv;

/// The probe's features are kept after its first epoch when all extractors' features take at most this much.
pub const CACHE_BYTES: f64 = 256e6;
/// Nanoseconds per multiply-add of the convolutions on the reference machine's CPU, with the layers around
/// them (native release: the default state, 5.05·10¹⁰ multiply-adds, in 11–15 s), and in the page's CPU engine
/// (headless Chromium, 2.5 times slower).
const NS_PER_MAC: f64 = 0.3;
const BROWSER_NS_PER_MAC: f64 = 1.0;
/// Nanoseconds per network batch beyond its multiply-adds: handing the batch's layers to the threads and back,
/// the optimiser's step, the metrics (native release: the narrowest networks, width divided by 96, run their
/// 3,039 batches in 0.5–0.9 s, all of it this overhead; the CI machine, loaded, took 1.8 s).
const NS_PER_BATCH: f64 = 250e3;
/// Norm rows kept per network: longer epochs keep every k-th batch (and the last).
const MAX_NORM_ROWS: usize = 600;
/// Norm plots drawn: the first convolutions in depth order.
const NORM_PLOTS: usize = 4;
/// One colour per extractor across the lab.
const COLOURS: [&str; 3] = [PALETTE[0], PALETTE[1], PALETTE[2]];

impl Lab for HebbConv {
    const ID: &'static str = "hebbconv";
    const DEFAULT_SEED: u32 = 1;
    const CHECKPOINTS: bool = true;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Hebbian convolutional networks",
            summary: "A convolutional network learns its filters with no labels, by Hebbian plasticity and \
                      competition between neurons (SoftHebb, hard winner-take-all, BCM, …); a linear read-out then \
                      measures what the features are worth, against random filters.",
            source: "001_33e6d0cb8d17f010.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("hebbconv.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "Network and learning rule".into(),
                fields: vec![
                    "arch".into(),
                    "width_div".into(),
                    "rule".into(),
                    "surround".into(),
                    "pre_synaptic".into(),
                    "dale".into(),
                    "second".into(),
                    "random_floor".into(),
                ],
            },
            Cell::Controls {
                title: "Data and probe".into(),
                fields: vec![
                    "images".into(),
                    "zca".into(),
                    "train_images".into(),
                    "test_images".into(),
                    "batch".into(),
                    "probe_epochs".into(),
                ],
            },
            Cell::Run,
            Cell::PlotRow {
                ids: vec!["filters_1".into(), "filters_2".into()],
            },
            text.prose("norms"),
            Cell::PlotRow {
                ids: (1..=NORM_PLOTS).map(|i| format!("norms_{i}")).collect(),
            },
            text.exercise("ex1"),
            Cell::Plot { id: "probe".into() },
            Cell::PlotRow {
                ids: vec!["confusion_1".into(), "confusion_2".into()],
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex2"),
            text.exercise("ex3"),
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            arch: Architecture::A,
            width_div: 8,
            rule: Rule::SoftHebb,
            surround: false,
            second: Second {
                kind: SecondKind::Compare,
                rule: Rule::None,
                surround: false,
                pre_synaptic: PreSynaptic::Off,
                dale: false,
            },
            pre_synaptic: PreSynaptic::Off,
            dale: false,
            random_floor: true,
            images: Images::Digits,
            zca: false,
            train_images: 1000,
            test_images: 500,
            batch: 16,
            probe_epochs: 10,
        }
    }

    /// Every batch is drawn: a frame per unsupervised batch shows the filters move.
    fn default_view() -> View {
        View {
            speed: 1,
            theory: false,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Err(e) = preset(p) {
            errs.push(FieldError::new(
                "arch",
                format!(
                    "architecture {:?} does not fit {} images: {e}",
                    p.arch,
                    shape_text(p.images.shape())
                ),
            ));
        }
        let both = "Dale's principle feeds |w| forward, so there are no couplings to compete: turn one of \
                    the two off";
        if p.dale && p.pre_synaptic != PreSynaptic::Off {
            errs.push(FieldError::new("pre_synaptic", both));
        }
        if p.second.kind == SecondKind::Compare
            && p.second.dale
            && p.second.pre_synaptic != PreSynaptic::Off
        {
            errs.push(FieldError::new("second/pre_synaptic", both));
        }
        if p.images == Images::Photos {
            let patches = photo_patches(p);
            if u64::from(patches.count) * 28 * 28 > MAX_VALUES {
                // 80 % of the patches train, 10 % test: the larger need names the field.
                let most = MAX_VALUES / (28 * 28 * 10);
                let (field, have, can) = if p.train_images.div_ceil(8) >= p.test_images {
                    ("train_images", p.train_images, most * 8)
                } else {
                    ("test_images", p.test_images, most)
                };
                errs.push(FieldError::new(
                    field,
                    format!(
                        "{have} images need {} patches of 28×28 pixels, over the {MAX_VALUES} pixels the \
                         playground cuts from the photographs: take at most {can}",
                        patches.count
                    ),
                ));
            }
        }
        if p.zca && p.train_images < 2 {
            errs.push(FieldError::new(
                "zca",
                "whitening estimates a covariance from the training images: it needs at least 2",
            ));
        }
        errs
    }

    /// The convolutions' multiply-adds: each learning network's forward and Hebbian correlation per training
    /// image, a forward per image for the random network's statistics, and the probe's features (once when
    /// they are kept, else every epoch), and each network batch's fixed cost; memory for the activations of a batch per network and the kept
    /// features.
    fn cost(p: &Params) -> Cost {
        let Ok(preset) = preset(p) else {
            return Cost::default();
        };
        let macs = preset.conv_macs();
        let learners = 1.0 + f64::from(p.second.kind == SecondKind::Compare);
        let extractors = learners + f64::from(p.random_floor);
        let train = f64::from(p.train_images);
        let seen = train + f64::from(p.test_images);
        let features = preset.features() as f64;
        let kept = extractors * seen * features * 4.0;
        let passes = if kept <= CACHE_BYTES {
            1.0
        } else {
            f64::from(p.probe_epochs)
        };
        let weights: f64 = preset.param_count() as f64 * 4.0 * 3.0;
        let batches = |images: u32| f64::from(images.div_ceil(p.batch.max(1)));
        let network_batches = extractors
            * (batches(p.train_images)
                + f64::from(p.probe_epochs) * (batches(p.train_images) + batches(p.test_images)));
        let mut cost = Cost::default().work(
            "network batches (each one's fixed cost beyond its multiply-adds)",
            "batch",
            network_batches,
            NS_PER_BATCH,
        );
        if p.zca {
            let [c, h, w] = p.images.shape();
            cost = super::whitening::zca_cost(cost, "zca", train, 0.0, (c * h * w) as f64);
        }
        if p.images == Images::Photos {
            cost = cost.memory(
                "the photograph patches",
                "train_images",
                f64::from(photo_patches(p).count) * 28.0 * 28.0 * 4.0,
            );
        }
        cost.work_in(
            "convolution multiply-adds of the unsupervised epoch",
            "train_images",
            train * macs * (2.0 * learners + f64::from(p.random_floor)),
            NS_PER_MAC,
            BROWSER_NS_PER_MAC,
        )
        .work_in(
            "convolution multiply-adds of the probe's features",
            "probe_epochs",
            passes * seen * macs * extractors,
            NS_PER_MAC,
            BROWSER_NS_PER_MAC,
        )
        .work_in(
            "multiply-adds of the probes' training",
            "probe_epochs",
            3.0 * extractors * f64::from(p.probe_epochs) * train * features * 10.0,
            NS_PER_MAC,
            BROWSER_NS_PER_MAC,
        )
        .memory(
            "the activations of a batch",
            "batch",
            f64::from(p.batch) * preset.activation_values() * 4.0 * 3.0,
        )
        .memory(
            "the weights, their updates and the probes",
            "width_div",
            extractors * weights,
        )
        .memory(
            "the probe's kept features",
            "train_images",
            if kept <= CACHE_BYTES { kept } else { 0.0 },
        )
    }

    fn needs(p: &Params) -> Option<Need> {
        Some(p.images.need())
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        Run::new(state, store)
    }
}

fn shape_text([c, h, w]: [usize; 3]) -> String {
    format!("{c}×{h}×{w}")
}

/// The preset of `p`: its architecture on its images, widths divided.
fn preset(p: &Params) -> Result<Preset> {
    Preset::new(
        p.arch.arch(),
        p.images.shape(),
        p.width_div.max(1) as usize,
        10,
    )
}

/// How one network of the page learns: its rule and the mechanisms added to it.
#[derive(Clone, Copy)]
struct Learning {
    rule: Rule,
    surround: bool,
    pre_synaptic: PreSynaptic,
    dale: bool,
}

impl Learning {
    fn first(p: &Params) -> Self {
        Self {
            rule: p.rule,
            surround: p.surround,
            pre_synaptic: p.pre_synaptic,
            dale: p.dale,
        }
    }

    fn second(p: &Params) -> Self {
        Self {
            rule: p.second.rule,
            surround: p.second.surround,
            pre_synaptic: p.second.pre_synaptic,
            dale: p.second.dale,
        }
    }

    /// The thesis's settings for the rule, with surround inhibition, pre-synaptic competition (softmax, the
    /// thesis's default) and Dale's principle as chosen.
    fn config(self) -> HebbConfig {
        HebbConfig {
            surround: self.surround,
            presynaptic: self.pre_synaptic.dim().map(|d| (PreKind::Softmax, d)),
            dale: self.dale,
            ..HebbConfig::thesis(self.rule.competition())
        }
    }

    /// "hard-WTA + surround + pre-synaptic (input channels) + Dale".
    fn label(self) -> String {
        let mut name = self.rule.name().to_string();
        if self.surround {
            name.push_str(" + surround");
        }
        if self.pre_synaptic != PreSynaptic::Off {
            name.push_str(&format!(" + pre-synaptic ({})", self.pre_synaptic.across()));
        }
        if self.dale {
            name.push_str(" + Dale");
        }
        name
    }
}

/// Weight-norm quantiles of one layer after one batch: 10 %, median, 90 %.
type Quantiles = [f32; 3];

/// The per-neuron weight norms ‖w_k‖ of every layer after `images` training images.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct NormRow {
    images: u64,
    layers: Vec<Quantiles>,
}

/// The probe's record after one epoch.
#[derive(Clone, Copy, Debug)]
struct EpochRow {
    epoch: u32,
    loss: f64,
    accuracy: f64,
    f1: f64,
}

/// A feature extractor and its probe: a learning network, or the random floor.
struct Extractor {
    name: String,
    colour: &'static str,
    net: Network,
    learns: bool,
    /// Set when the rule diverged: the network keeps the last finite weights and learns no more.
    stopped: bool,
    norms: Vec<NormRow>,
    probe: Probe,
    /// Loss summed over the current probe epoch's batches, and their count.
    epoch_loss: (f64, u32),
    confusion: Confusion,
    epochs: Vec<EpochRow>,
    /// Features of the probe's training and test images, filled during the first epoch when kept.
    train_features: Option<Array2<f32>>,
    test_features: Option<Array2<f32>>,
    /// The network on the GPU while the engine has one: its tensors stay there between steps; `net` receives
    /// its weights after every step (the plots read them, and the CPU carries on from them after a failure).
    gpu: Option<GpuNetwork>,
    /// Why this network runs on the CPU even with a GPU engine (a competition mode not on the GPU yet).
    cpu_only: Option<String>,
}

impl Extractor {
    /// The network on the device, made from `net` (its weights and statistics) the first time.
    async fn on_device(&mut self, gpu: &Gpu, batch: usize) -> Result<&mut GpuNetwork> {
        if self.gpu.is_none() {
            self.gpu = Some(GpuNetwork::new(gpu, &self.net, batch).await?);
        }
        Ok(self.gpu.as_mut().expect("just made"))
    }

    /// The kept features of the training (split 0) or test (1) images, when they are kept.
    fn kept(&mut self, split: u8) -> Option<&mut Array2<f32>> {
        if split == 0 {
            self.train_features.as_mut()
        } else {
            self.test_features.as_mut()
        }
    }

    fn record_norms(&mut self, images: u64) {
        let layers = self.net.layers_mut().iter().map(|l| quantiles(l)).collect();
        self.norms.push(NormRow { images, layers });
        if self.norms.len() > MAX_NORM_ROWS {
            // Keep every other row (the first and the last stay).
            let last = self.norms.pop();
            let kept: Vec<NormRow> = self.norms.iter().step_by(2).cloned().collect();
            self.norms = kept;
            self.norms.extend(last);
        }
    }
}

/// 10 %, 50 % and 90 % quantiles of a layer's per-neuron weight norms.
fn quantiles(layer: &HebbLayer) -> Quantiles {
    let mut norms: Vec<f32> = layer
        .w
        .axis_iter(Axis(0))
        .map(|w| w.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    norms.sort_by(f32::total_cmp);
    let at = |q: f32| norms[((norms.len() - 1) as f32 * q).round() as usize];
    [at(0.1), at(0.5), at(0.9)]
}

/// Where the run is: the flat step counter split into phase, epoch, batch and extractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    /// Unsupervised batch b for extractor e (the random network only gathers BatchNorm statistics).
    Learn { batch: usize, e: usize },
    /// Probe epoch, training batch b, extractor e.
    Probe { epoch: u32, batch: usize, e: usize },
    /// Probe epoch, test batch b, extractor e.
    Test { epoch: u32, batch: usize, e: usize },
}

pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    /// The training images in the order every epoch takes them, and the test images.
    train: Vec<usize>,
    test: Vec<usize>,
    extractors: Vec<Extractor>,
    step: u64,
    /// The images of the batch in hand (its key: phase 0 train / 1 test, batch index).
    batch: Option<((u8, usize), Array4<f32>)>,
    /// Milliseconds and images per phase (unsupervised learning, probe features), for the images-per-second
    /// metrics.
    timing: [(f64, f64); 2],
    notices: Vec<String>,
    /// Whether the probe plots changed since the last frame.
    probe_changed: bool,
    /// The whitening of the images, fitted before the first step that needs images (with `zca`).
    zca: Option<Zca>,
}

impl Run {
    fn new(state: StateDoc<Params>, store: &DataStore) -> Result<Self> {
        let data = state
            .params
            .images
            .dataset(store, &state.params, state.seed)?;
        Self::with_data(state, data)
    }

    fn with_data(state: StateDoc<Params>, data: Arc<Dataset>) -> Result<Self> {
        let p = &state.params;
        let shape = [
            data.shape.channels as usize,
            data.shape.height as usize,
            data.shape.width as usize,
        ];
        let classes = data.classes.len();
        if shape != p.images.shape() || !(2..=10).contains(&classes) {
            return Err(Error::Data(format!(
                "{} holds {} images in {} classes; this lab takes {} images in 2 to 10 classes",
                data.name,
                shape_text(shape),
                data.classes.len(),
                shape_text(p.images.shape())
            )));
        }
        let take = |split: Split, n: u32, what: &str| -> Result<Vec<usize>> {
            let all = data.indices(split);
            if all.is_empty() {
                return Err(Error::Data(format!("{} has no {what} images", data.name)));
            }
            let mut idx = preprocess::shuffled(&all, state.seed, split as u32);
            idx.truncate(n as usize);
            Ok(idx)
        };
        let train = take(Split::Train, p.train_images, "training")?;
        let test = take(Split::Test, p.test_images, "test")?;
        let preset = Preset::new(
            p.arch.arch(),
            p.images.shape(),
            p.width_div.max(1) as usize,
            classes,
        )?;
        let first = Learning::first(p);
        let mut specs = vec![(first.label(), first.config(), true)];
        if p.second.kind == SecondKind::Compare {
            let second = Learning::second(p);
            let mut name = second.label();
            // The same rule twice is allowed (the two networks then learn exactly alike); its metrics need
            // two names.
            if name == specs[0].0 {
                name.push_str(" (second network)");
            }
            specs.push((name, second.config(), true));
        }
        if p.random_floor {
            // The first network never trained (surround inhibition acts only on updates).
            let floor = Learning {
                surround: false,
                ..first
            };
            specs.push(("random filters".into(), floor.config(), false));
        }
        let features = preset.features();
        let kept = specs.len() as f64 * (train.len() + test.len()) as f64 * features as f64 * 4.0;
        let extractors = specs
            .into_iter()
            .enumerate()
            .map(|(i, (name, config, learns))| {
                let mut e = Extractor {
                    name,
                    colour: COLOURS[i],
                    // Every network starts from the same weights (the seed's), so the comparison is of rules.
                    net: Network::new(preset.clone(), config, state.seed),
                    learns,
                    stopped: false,
                    norms: Vec::new(),
                    probe: Probe::new(features, classes, state.seed),
                    epoch_loss: (0.0, 0),
                    confusion: Confusion::new(classes),
                    epochs: Vec::new(),
                    train_features: (kept <= CACHE_BYTES)
                        .then(|| Array2::zeros((train.len(), features))),
                    test_features: (kept <= CACHE_BYTES)
                        .then(|| Array2::zeros((test.len(), features))),
                    gpu: None,
                    cpu_only: None,
                };
                e.record_norms(0);
                e
            })
            .collect();
        Ok(Self {
            state,
            data,
            train,
            test,
            extractors,
            step: 0,
            batch: None,
            timing: [(0.0, 0.0); 2],
            notices: Vec::new(),
            probe_changed: true,
            zca: None,
        })
    }

    fn batch_size(&self) -> usize {
        self.state.params.batch as usize
    }

    fn train_batches(&self) -> usize {
        self.train.len().div_ceil(self.batch_size())
    }

    fn test_batches(&self) -> usize {
        self.test.len().div_ceil(self.batch_size())
    }

    /// Steps of the unsupervised epoch (every extractor's batches).
    fn learn_steps(&self) -> u64 {
        self.train_batches() as u64 * self.extractors.len() as u64
    }

    fn total(&self) -> u64 {
        let e = self.extractors.len() as u64;
        let per_epoch = (self.train_batches() + self.test_batches()) as u64 * e;
        self.train_batches() as u64 * e + u64::from(self.state.params.probe_epochs) * per_epoch
    }

    /// The task of step `s`.
    fn task(&self, s: u64) -> Task {
        let e = self.extractors.len() as u64;
        let learn = self.train_batches() as u64 * e;
        if s < learn {
            return Task::Learn {
                batch: (s / e) as usize,
                e: (s % e) as usize,
            };
        }
        let s = s - learn;
        let per_epoch = (self.train_batches() + self.test_batches()) as u64 * e;
        let (epoch, s) = ((s / per_epoch) as u32, s % per_epoch);
        let probe = self.train_batches() as u64 * e;
        if s < probe {
            Task::Probe {
                epoch,
                batch: (s / e) as usize,
                e: (s % e) as usize,
            }
        } else {
            let s = s - probe;
            Task::Test {
                epoch,
                batch: (s / e) as usize,
                e: (s % e) as usize,
            }
        }
    }

    /// Fits the whitening on the training images (at most the page's limit of values; the thesis fits on the
    /// training and test images together, which lets the test images shape the features: we do not). A run
    /// resumed from a checkpoint fits it again: the same images give the same transform.
    async fn fit_zca(&mut self, engine: &mut Engine) -> Result<()> {
        let rows = super::whitening::zca_fit_rows(self.train.len(), self.data.dim());
        if rows < self.train.len() {
            self.notices.push(format!(
                "ZCA was fitted on the first {rows} of the {} training images (the page's limit for {} pixels).",
                self.train.len(),
                self.data.dim()
            ));
        }
        let samples = Samples {
            dataset: &self.data,
            indices: &self.train[..rows],
        };
        let (zca, notice) = Zca::fit(engine, samples, zca::DEFAULT_EPS, true).await?;
        self.notices.extend(notice);
        self.zca = Some(zca);
        self.batch = None;
        Ok(())
    }

    /// The indices of batch `b` of the training (split 0) or test (1) images.
    fn indices(&self, split: u8, b: usize) -> &[usize] {
        let all = if split == 0 { &self.train } else { &self.test };
        let size = self.batch_size();
        &all[b * size..((b + 1) * size).min(all.len())]
    }

    /// The images of a batch, loaded once for all extractors.
    fn images(&mut self, split: u8, b: usize) -> Result<Array4<f32>> {
        if let Some((key, x)) = &self.batch
            && *key == (split, b)
        {
            return Ok(x.clone());
        }
        let idx = self.indices(split, b);
        let [c, h, w] = self.state.params.images.shape();
        let mut rows = self.data.rows(idx);
        if let Some(zca) = &self.zca {
            zca.apply_cpu(rows.view_mut())?;
        }
        let x = rows
            .into_shape_with_order((idx.len(), c, h, w))
            .map_err(|e| Error::Data(e.to_string()))?;
        self.batch = Some(((split, b), x.clone()));
        Ok(x)
    }

    fn labels(&self, split: u8, b: usize) -> Vec<u8> {
        self.indices(split, b)
            .iter()
            .map(|&i| self.data.labels[i])
            .collect()
    }

    /// Features of batch `b` for extractor `e`: from the kept features after the first pass, else computed (on
    /// the GPU when the engine has one and the network runs there).
    async fn features(
        &mut self,
        engine: &mut Engine,
        e: usize,
        split: u8,
        b: usize,
        first_pass: bool,
    ) -> Result<Array2<f32>> {
        let size = self.batch_size();
        let rows = b * size..b * size + self.indices(split, b).len();
        if !first_pass && let Some(k) = self.extractors[e].kept(split) {
            return Ok(k.slice(ndarray::s![rows, ..]).to_owned());
        }
        let x = self.images(split, b)?;
        let on_gpu = self.uses_gpu(engine, e);
        let ex = &mut self.extractors[e];
        let f = if on_gpu {
            let (f, notice) = engine
                .run(
                    ex,
                    async |gpu, ex: &mut Extractor| {
                        ex.on_device(gpu, size).await?.features(gpu, x.view()).await
                    },
                    |ex: &mut Extractor| {
                        ex.gpu = None;
                        ex.net.features(x.view())
                    },
                )
                .await?;
            self.notices.extend(notice);
            f
        } else {
            self.extractors[e].net.features(x.view())?
        };
        if let Some(k) = self.extractors[e].kept(split) {
            k.slice_mut(ndarray::s![rows, ..]).assign(&f);
        }
        Ok(f)
    }

    /// Whether extractor `e` runs on the engine's GPU: the engine has one and the network's configuration runs
    /// there (else it stays on the CPU, said once).
    fn uses_gpu(&mut self, engine: &Engine, e: usize) -> bool {
        if engine.gpu().is_none() {
            return false;
        }
        let ex = &mut self.extractors[e];
        if ex.cpu_only.is_none()
            && let Err(why) = GpuNetwork::supports(&ex.net)
        {
            let why = why.to_string();
            self.notices.push(format!(
                "{}: {}",
                ex.name,
                why.strip_prefix("GPU: ").unwrap_or(&why)
            ));
            ex.cpu_only = Some(why);
        }
        ex.cpu_only.is_none()
    }

    /// One unsupervised batch for extractor `e`: learning, or (the random network) BatchNorm statistics. On
    /// the GPU a full batch is one submit and the weights come back to `net`; a shorter last batch (its
    /// BatchNorm statistics and update need a network of its size) runs on the CPU.
    async fn learn(&mut self, engine: &mut Engine, batch: usize, e: usize) -> Result<()> {
        let x = self.images(0, batch)?;
        let size = self.batch_size();
        let images = ((batch + 1) * size).min(self.train.len()) as u64;
        let on_gpu = x.dim().0 == size && self.uses_gpu(engine, e);
        let ex = &mut self.extractors[e];
        if !ex.learns || ex.stopped {
            ex.net.forward(x.view(), Pass::Train)?;
            ex.gpu = None;
            return Ok(());
        }
        let before = ex.net.weights();
        if on_gpu {
            let ((), notice) = engine
                .run(
                    ex,
                    async |gpu, ex: &mut Extractor| {
                        ex.on_device(gpu, size)
                            .await?
                            .unsupervised_step(gpu, x.view())
                            .await?;
                        let g = ex.gpu.as_ref().expect("on the device");
                        g.download(gpu, &mut ex.net).await
                    },
                    |ex: &mut Extractor| {
                        ex.gpu = None;
                        ex.net.unsupervised_step(x.view())
                    },
                )
                .await?;
            self.notices.extend(notice);
        } else {
            ex.gpu = None;
            ex.net.unsupervised_step(x.view())?;
        }
        let ex = &mut self.extractors[e];
        let finite = ex
            .net
            .layers_mut()
            .iter()
            .all(|l| l.w.iter().all(|v| v.is_finite()));
        if !finite {
            for (l, w) in ex.net.layers_mut().into_iter().zip(before) {
                l.w = w;
            }
            ex.stopped = true;
            self.notices.push(format!(
                "{}: the weights stopped being finite numbers at batch {} ({images} images); the network keeps \
                 the weights of the batch before and learns no more. The probe still runs on it.",
                ex.name,
                batch + 1
            ));
        }
        ex.record_norms(images);
        Ok(())
    }

    async fn probe_step(
        &mut self,
        engine: &mut Engine,
        epoch: u32,
        batch: usize,
        e: usize,
    ) -> Result<()> {
        let f = self.features(engine, e, 0, batch, epoch == 0).await?;
        let labels = self.labels(0, batch);
        let ex = &mut self.extractors[e];
        let loss = ex.probe.train_batch(f.view(), &labels);
        ex.epoch_loss.0 += f64::from(loss);
        ex.epoch_loss.1 += 1;
        Ok(())
    }

    async fn test_step(
        &mut self,
        engine: &mut Engine,
        epoch: u32,
        batch: usize,
        e: usize,
    ) -> Result<()> {
        let f = self.features(engine, e, 1, batch, epoch == 0).await?;
        let labels = self.labels(1, batch);
        let last = batch + 1 == self.test_batches();
        let ex = &mut self.extractors[e];
        if batch == 0 {
            ex.confusion = Confusion::new(self.data.classes.len());
        }
        let predicted = ex.probe.predict(f.view());
        ex.confusion.add(&labels, &predicted);
        if last {
            let (sum, n) = std::mem::take(&mut ex.epoch_loss);
            ex.epochs.push(EpochRow {
                epoch: epoch + 1,
                loss: sum / f64::from(n.max(1)),
                accuracy: ex.confusion.accuracy(),
                f1: ex.confusion.macro_f1(),
            });
            self.probe_changed = true;
        }
        Ok(())
    }

    fn filter_plot(&mut self, e: usize) -> Option<Plot> {
        let ex = self.extractors.get_mut(e).filter(|x| x.learns)?;
        let name = ex.name.clone();
        let images_seen = ex.norms.last().map_or(0, |r| r.images);
        let layers = ex.net.layers_mut();
        let w = &layers.first()?.w;
        let (c_out, c_in, k, _) = w.dim();
        let images = w
            .axis_iter(Axis(0))
            .map(|f| {
                let m = f.iter().fold(0.0f32, |a, v| a.max(v.abs())).max(1e-12);
                Image {
                    label: String::new(),
                    pixels: f.iter().map(|&v| f64::from(v / m)).collect(),
                }
            })
            .collect();
        Some(Plot {
            id: format!("filters_{}", e + 1),
            title: format!(
                "Layer 1 filters, {name}, after {images_seen} images (each scaled to its largest weight; grey is 0)"
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: (c_out as f64).sqrt().ceil() as u32,
                width: k as u32,
                height: k as u32,
                channels: c_in as u32,
                value_range: [-1.0, 1.0],
                grid: false,
                images,
            },
        })
    }

    /// Norm plots: one per layer, every learning network's median ‖w_k‖ with its 10–90 % band, on one scale.
    fn norm_plots(&mut self) -> Vec<Plot> {
        let learners: Vec<&Extractor> = self.extractors.iter().filter(|x| x.learns).collect();
        let Some(first) = learners.first() else {
            return Vec::new();
        };
        let layers = first.norms[0].layers.len().min(NORM_PLOTS);
        let top = learners
            .iter()
            .flat_map(|x| x.norms.iter())
            .flat_map(|r| r.layers.iter().take(layers).map(|q| q[2]))
            .filter(|v| v.is_finite())
            .fold(1.0f32, f32::max);
        let total = self.train.len() as f64;
        let specs = crate::nets::hebbconv::presets::conv_layers(&first.net.preset.ops);
        (0..layers)
            .map(|l| {
                let mut series: Vec<Series> = learners
                    .iter()
                    .map(|x| Series {
                        name: format!("{} (median, 10–90 % band)", x.name),
                        mark: Mark::Line,
                        color: Some(x.colour.into()),
                        points: x
                            .norms
                            .iter()
                            .map(|r| [r.images as f64, f64::from(r.layers[l][1])])
                            .collect(),
                        band: Some(
                            x.norms
                                .iter()
                                .map(|r| [f64::from(r.layers[l][0]), f64::from(r.layers[l][2])])
                                .collect(),
                        ),
                    })
                    .collect();
                series.push(Series {
                    name: "‖w‖ = 1".into(),
                    mark: Mark::Dashed,
                    color: Some(REFERENCE.into()),
                    points: vec![[0.0, 1.0], [total, 1.0]],
                    band: None,
                });
                let s = specs[l].conv;
                let kind = if s.depthwise { "depthwise " } else { "" };
                Plot {
                    id: format!("norms_{}", l + 1),
                    title: format!(
                        "Layer {} ({kind}{}×{}, {} neurons): weight norm per neuron",
                        l + 1,
                        s.k,
                        s.k,
                        s.c_out
                    ),
                    x_label: "training images".into(),
                    y_label: "‖w_k‖".into(),
                    body: PlotBody::Xy {
                        x_range: Some([0.0, total]),
                        y_range: Some([0.0, f64::from(top) * 1.05]),
                        equal_aspect: false,
                        series,
                        heatmap: None,
                    },
                }
            })
            .collect()
    }

    fn probe_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.probe_epochs);
        let mut series: Vec<Series> = self
            .extractors
            .iter()
            .map(|x| Series {
                name: x.name.clone(),
                mark: Mark::Trajectory,
                color: Some(x.colour.into()),
                points: x
                    .epochs
                    .iter()
                    .map(|r| [f64::from(r.epoch), r.accuracy])
                    .collect(),
                band: None,
            })
            .collect();
        let classes = self.data.classes.len();
        let chance = 1.0 / classes as f64;
        series.push(Series {
            name: format!("chance (1 in {classes})"),
            mark: Mark::Dashed,
            color: Some(REFERENCE.into()),
            points: vec![[0.0, chance], [epochs, chance]],
            band: None,
        });
        Plot {
            id: "probe".into(),
            title: format!(
                "Linear probe on the frozen features: test accuracy after each epoch ({} test images)",
                self.test.len()
            ),
            x_label: "probe epoch".into(),
            y_label: "test accuracy".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([0.0, 1.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn confusion_plots(&self) -> Vec<Plot> {
        let learners: Vec<&Extractor> = self
            .extractors
            .iter()
            .filter(|x| x.learns && !x.epochs.is_empty())
            .collect();
        let top = learners
            .iter()
            .flat_map(|x| x.confusion.counts.iter())
            .copied()
            .max()
            .unwrap_or(1) as f64;
        // Names other than the digits' own indices are keyed in the title, which wraps (an axis label does
        // not, and CIFAR-10's or the photographs' names do not fit under a plot).
        let classes = &self.data.classes;
        let numbered = classes.iter().enumerate().all(|(i, c)| *c == i.to_string());
        let key = if numbered {
            String::new()
        } else {
            let named: Vec<String> = classes
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i} {c}"))
                .collect();
            format!("; classes: {}", named.join(", "))
        };
        learners
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let c = &x.confusion;
                let n = c.classes;
                let values = (0..n * n).map(|j| c.get(j / n, j % n) as f64).collect();
                let epoch = x.epochs.last().map_or(0, |r| r.epoch);
                Plot {
                    id: format!("confusion_{}", i + 1),
                    title: format!(
                        "Confusion matrix, {} (probe epoch {epoch}, accuracy {:.1} %{key})",
                        x.name,
                        100.0 * c.accuracy()
                    ),
                    x_label: "predicted class".into(),
                    y_label: "true class".into(),
                    body: PlotBody::Xy {
                        x_range: Some([-0.5, n as f64 - 0.5]),
                        y_range: Some([-0.5, n as f64 - 0.5]),
                        equal_aspect: true,
                        series: Vec::new(),
                        heatmap: Some(Heatmap {
                            x_range: [-0.5, n as f64 - 0.5],
                            y_range: [-0.5, n as f64 - 0.5],
                            nx: n as u32,
                            ny: n as u32,
                            values,
                            label: "test images".into(),
                            value_range: Some([0.0, top]),
                        }),
                    },
                }
            })
            .collect()
    }
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        let mut todo = chunk.take(u32::try_from(self.total() - self.step).unwrap_or(u32::MAX));
        if todo > 0 && self.state.params.zca && self.zca.is_none() {
            self.fit_zca(engine).await?;
        }
        while todo > 0 {
            let t0 = chunk.now();
            let task = self.task(self.step);
            let phase = match task {
                Task::Learn { batch, e } => {
                    self.learn(engine, batch, e).await?;
                    0
                }
                Task::Probe { epoch, batch, e } => {
                    self.probe_step(engine, epoch, batch, e).await?;
                    1
                }
                Task::Test { epoch, batch, e } => {
                    self.test_step(engine, epoch, batch, e).await?;
                    1
                }
            };
            let images = match task {
                Task::Learn { batch, .. } | Task::Probe { batch, .. } => {
                    self.indices(0, batch).len()
                }
                Task::Test { batch, .. } => self.indices(1, batch).len(),
            };
            let first_pass = !matches!(
                task,
                Task::Probe { epoch: 1.., .. } | Task::Test { epoch: 1.., .. }
            );
            if first_pass {
                self.timing[phase].0 += chunk.now() - t0;
                self.timing[phase].1 += images as f64;
            }
            self.step += 1;
            todo -= 1;
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let mut plots = Vec::new();
        let learning = self.step <= self.train_batches() as u64 * self.extractors.len() as u64;
        if learning || self.step == 0 || self.done() {
            for e in 0..self.extractors.len() {
                plots.extend(self.filter_plot(e));
            }
            plots.extend(self.norm_plots());
        }
        if std::mem::take(&mut self.probe_changed) {
            plots.push(self.probe_plot());
            plots.extend(self.confusion_plots());
        }
        Frame {
            step: self.step,
            total: self.total(),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: std::mem::take(&mut self.notices),
            datasets: Vec::new(),
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::new();
        for x in &self.extractors {
            let last = x.epochs.last();
            m.push(Metric::new(
                format!("test accuracy, {}", x.name),
                last.map_or(f64::NAN, |r| 100.0 * r.accuracy),
                "%",
            ));
            m.push(Metric::new(
                format!("macro-F1, {}", x.name),
                last.map_or(f64::NAN, |r| r.f1),
                "",
            ));
            m.push(Metric::new(
                format!("probe training loss, {}", x.name),
                last.map_or(f64::NAN, |r| r.loss),
                "",
            ));
            if x.learns
                && let Some(row) = x.norms.last()
            {
                for (l, q) in row.layers.iter().enumerate() {
                    m.push(Metric::new(
                        format!("layer {} median ‖w_k‖, {}", l + 1, x.name),
                        f64::from(q[1]),
                        "",
                    ));
                }
            }
        }
        let rate = |(ms, images): (f64, f64)| images / (ms / 1000.0);
        m.push(Metric::new(
            "images per second per network, unsupervised epoch",
            rate(self.timing[0]),
            "images/s",
        ));
        m.push(Metric::new(
            "images per second per network, probe features and training",
            rate(self.timing[1]),
            "images/s",
        ));
        m
    }

    fn reset(&mut self) {
        // The state started once with this data, so it starts again.
        if let Ok(fresh) = Run::with_data(self.state.clone(), self.data.clone()) {
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.step >= self.total()
    }

    /// The networks as they are (during the unsupervised epoch) or as they learnt it (after: the probe is
    /// trained again from them on loading, which is quick beside the epoch), with their norm histories.
    fn checkpoint(&mut self) -> Option<Checkpoint> {
        let step = self.step.min(self.learn_steps());
        if step == 0 {
            return None;
        }
        let mut tensors = Vec::new();
        let mut networks = Vec::new();
        for (e, x) in self.extractors.iter_mut().enumerate() {
            tensors.extend(x.net.tensors(&format!("net{e}.")));
            networks.push(Saved {
                name: x.name.clone(),
                stopped: x.stopped,
                norms: x.norms.clone(),
            });
        }
        let extra = serde_json::json!({ "networks": networks, "learn_timing": self.timing[0] });
        Some(Checkpoint {
            step,
            tensors,
            extra,
        })
    }

    fn restore(&mut self, mut ck: Checkpoint) -> Result<()> {
        if ck.step == 0 || ck.step > self.learn_steps() {
            return Err(checkpoint::mismatch(format!(
                "it resumes at step {}; this experiment's unsupervised epoch ends at step {}",
                ck.step,
                self.learn_steps()
            )));
        }
        let extra = std::mem::take(&mut ck.extra);
        let networks: Vec<Saved> = serde_json::from_value(extra["networks"].clone())
            .map_err(|e| checkpoint::mismatch(format!("its networks' records: {e}")))?;
        let names: Vec<&str> = networks.iter().map(|n| n.name.as_str()).collect();
        let ours: Vec<&str> = self.extractors.iter().map(|x| x.name.as_str()).collect();
        if names != ours {
            return Err(checkpoint::mismatch(format!(
                "it holds the networks {names:?}, this experiment {ours:?}"
            )));
        }
        for (e, (x, saved)) in self.extractors.iter_mut().zip(networks).enumerate() {
            x.net.load(&format!("net{e}."), &mut ck)?;
            x.stopped = saved.stopped;
            x.norms = saved.norms;
            x.gpu = None;
        }
        ck.finish()?;
        self.timing[0] = serde_json::from_value(extra["learn_timing"].clone()).unwrap_or_default();
        self.step = ck.step;
        self.batch = None;
        self.probe_changed = true;
        Ok(())
    }
}

/// A network's record in a checkpoint besides its tensors.
#[derive(Serialize, Deserialize)]
struct Saved {
    name: String,
    stopped: bool,
    norms: Vec<NormRow>,
}

use std::path::Path;

use burn::module::Module;
use burn::nn::{Linear, Lstm, LstmConfig};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use deviant_core::detector::FitSummary;
use deviant_core::{Dataset, Detector, DetectorConfig, FitContext, Result};
use ndarray::{Array1, Array2, ArrayView2};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Seq2seqConfig;
use crate::deep::tensor::{cpu, explain_in_chunks, linear, reinitialise, scalar, score_in_chunks};
use crate::deep::train::{Losses, TrainStep, fit_step};
use crate::deep::{load_net, save_net};

#[derive(Module, Debug)]
pub struct Seq2seqNet {
    encoder: Lstm,
    decoder: Lstm,
    output: Linear,
    channels: usize,
}

impl Seq2seqNet {
    fn new(config: &Seq2seqConfig, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        // PyTorch's LSTM initialisation, U(−1/√hidden, 1/√hidden), from deviant's generator.
        let bound = 1.0 / (config.hidden as f32).sqrt();
        let lstm = |d_input: usize, rng: &mut ChaCha8Rng| {
            let lstm = LstmConfig::new(d_input, config.hidden, true).init(device);
            reinitialise(lstm, bound, rng)
        };
        Self {
            encoder: lstm(config.channels, rng),
            decoder: lstm(config.hidden, rng),
            output: linear(config.hidden, config.channels, rng, device),
            channels: config.channels,
        }
    }

    /// Squared reconstruction errors `[B, steps · channels]` of rows `x`.
    fn errors(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, n] = x.dims();
        let steps = n / self.channels;
        let sequence = x.clone().reshape([rows, steps, self.channels]);
        let (_, state) = self.encoder.forward(sequence, None);
        let code = state
            .hidden
            .clone()
            .unsqueeze_dim::<3>(1)
            .repeat_dim(1, steps);
        let (decoded, _) = self.decoder.forward(code, Some(state));
        let rebuilt = self.output.forward(decoded).reshape([rows, n]);
        (rebuilt - x).square()
    }
}

struct Seq2seqStep {
    net: Seq2seqNet,
    optimizer: ModuleOptimizer,
    learning_rate: f64,
}

impl TrainStep for Seq2seqStep {
    fn step(mut self, batch: Tensor<2>, _rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let loss = self.net.errors(batch).mean();
        let value = scalar(loss.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self.optimizer.step(self.learning_rate, self.net, grads);
        (self, Losses(vec![("loss", value)]))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        Losses(vec![(
            "loss",
            scalar(self.net.valid().errors(batch).mean()),
        )])
    }
}

/// A fitted LSTM seq2seq.
#[derive(Debug)]
pub struct Seq2seq {
    net: Seq2seqNet,
    n_features: usize,
    summary: FitSummary,
}

impl DetectorConfig for Seq2seqConfig {
    const KIND: &'static str = "seq2seq";
    type Fitted = Seq2seq;

    fn validate(&self) -> Result<()> {
        self.check()
    }

    fn fit(&self, train_set: &Dataset, cx: &FitContext) -> Result<Seq2seq> {
        self.check()?;
        self.steps(train_set.n_features())?;
        let (step, summary) = fit_step(
            train_set,
            Self::KIND,
            &self.training,
            cx,
            |_, rng, device| {
                Ok(Seq2seqStep {
                    net: Seq2seqNet::new(self, rng, device),
                    optimizer: AdamConfig::new().init(),
                    learning_rate: self.learning_rate,
                })
            },
        )?;
        Ok(Seq2seq {
            net: step.net.valid(),
            n_features: train_set.n_features(),
            summary,
        })
    }

    fn load(&self, dir: &Path) -> Result<Seq2seq> {
        let (net, n_features) = load_net(dir, Self::KIND, |_| {
            Seq2seqNet::new(self, &mut ChaCha8Rng::seed_from_u64(0), &cpu())
        })?;
        self.steps(n_features)?;
        Ok(Seq2seq {
            net,
            n_features,
            summary: FitSummary::default(),
        })
    }
}

impl Detector for Seq2seq {
    fn n_features(&self) -> usize {
        self.n_features
    }

    /// Mean squared reconstruction error over the window.
    fn score(&self, x: ArrayView2<f32>) -> Result<Array1<f32>> {
        score_in_chunks(x, self.n_features, "seq2seq", |t, _| {
            Ok(self.net.errors(t).mean_dim(1).squeeze_dim(1))
        })
    }

    /// Squared error per step and channel: where in the window the reconstruction failed.
    fn explain(&self, x: ArrayView2<f32>) -> Option<Result<Array2<f32>>> {
        Some(explain_in_chunks(x, self.n_features, "seq2seq", |t, _| {
            Ok(self.net.errors(t))
        }))
    }

    fn save(&self, dir: &Path) -> Result<()> {
        save_net(dir, Seq2seqConfig::KIND, self.n_features, &self.net)
    }

    fn fit_summary(&self) -> FitSummary {
        self.summary.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;

    /// Windows of phase-shifted sine waves are learnt; a window with a spike in the middle
    /// scores well above every training window, and the spike's step explains most of it.
    #[test]
    fn learns_sine_windows_and_flags_a_spike() {
        let window =
            |phase: f32| -> Vec<f32> { (0..16).map(|t| (phase + t as f32 * 0.4).sin()).collect() };
        let train: Vec<f32> = (0..300).flat_map(|i| window(i as f32 * 0.21)).collect();
        let train = Array2::from_shape_vec((300, 16), train).unwrap();
        let config = Seq2seqConfig {
            hidden: 16,
            learning_rate: 1e-2,
            training: LoopConfig {
                epochs: 40,
                batch_size: 32,
                patience: 0,
                ..LoopConfig::default()
            },
            ..Seq2seqConfig::default()
        };
        let model = config
            .fit(&Dataset::new(train.clone(), None), &FitContext::new(1))
            .unwrap();
        let normal = model.score(train.view()).unwrap();
        let mut spiked = Array2::from_shape_vec((1, 16), window(1.0)).unwrap();
        spiked[[0, 8]] += 3.0;
        let spike = model.score(spiked.view()).unwrap()[0];
        let worst = normal.iter().copied().fold(0.0, f32::max);
        assert!(spike > 3.0 * worst, "spike {spike}, worst normal {worst}");
        let explained = model.explain(spiked.view()).unwrap().unwrap();
        let top = explained
            .row(0)
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(top, 8);
    }

    #[test]
    fn rows_must_split_into_whole_steps() {
        let config = Seq2seqConfig {
            channels: 4,
            ..Seq2seqConfig::default()
        };
        let err = config
            .fit(
                &Dataset::new(Array2::zeros((10, 6)), None),
                &FitContext::new(1),
            )
            .unwrap_err();
        assert!(err.to_string().contains("channels"), "{err}");
    }
}

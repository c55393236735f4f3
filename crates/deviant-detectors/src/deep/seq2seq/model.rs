use burn::module::Module;
use burn::nn::{Linear, Lstm, LstmConfig};
use burn::prelude::*;
use deviant_core::Result;
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::Seq2seqConfig;
use crate::deep::detector::{DeepDetector, DeepKind, NoState};
use crate::deep::tensor::{linear, reinitialise};
use crate::deep::train::{ReconstructionStep, Reconstructs};
use crate::deep_detector;

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
}

impl Reconstructs for Seq2seqNet {
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

/// A fitted LSTM seq2seq.
pub type Seq2seq = DeepDetector<Seq2seqConfig>;

deep_detector!(
    Seq2seqConfig,
    "seq2seq",
    Seq2seqNet,
    ReconstructionStep<Seq2seqNet>
);

impl DeepKind for Seq2seqConfig {
    const EXPLAINS: bool = true;

    fn start(
        &self,
        x: ArrayView2<f32>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<ReconstructionStep<Seq2seqNet>> {
        self.steps(x.ncols())?;
        Ok(ReconstructionStep::new(
            Seq2seqNet::new(self, rng, device),
            self.learning_rate,
        ))
    }

    fn blank(&self, n_features: usize, _state: &NoState, device: &Device) -> Result<Seq2seqNet> {
        self.steps(n_features)?;
        Ok(Seq2seqNet::new(
            self,
            &mut ChaCha8Rng::seed_from_u64(0),
            device,
        ))
    }

    /// Mean squared reconstruction error over the window.
    fn score_rows(s2s: &Seq2seq, x: Tensor<2>, _rng: &mut ChaCha8Rng) -> Result<Tensor<1>> {
        Ok(s2s.net.errors(x).mean_dim(1).squeeze_dim(1))
    }

    /// Squared error per step and channel: where in the window the reconstruction failed.
    fn explain_rows(s2s: &Seq2seq, x: Tensor<2>) -> Result<Tensor<2>> {
        Ok(s2s.net.errors(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::train::LoopConfig;
    use deviant_core::{Dataset, Detector, DetectorConfig, FitContext};
    use ndarray::Array2;

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

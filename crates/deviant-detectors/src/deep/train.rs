//! The one training loop every deep detector uses: seeding, shuffling, batching, epochs,
//! early stopping on validation loss, divergence detection, progress and cancellation.
//! A model supplies only a [`TrainStep`]; GAN-style steps own several optimizers.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::check::at_least_one;
use burn::prelude::*;
use burn::tensor::TensorData;
use deviant_core::dataset::check_input;
use deviant_core::detector::{EpochRecord, FitSummary};
use deviant_core::metrics::quantile;
use deviant_core::{Dataset, Error, FitContext, Result};
use ndarray::ArrayView2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::tensor::{gather_rows, scalar};

/// Named scalar losses of one batch; the first is the total that is optimised.
#[derive(Debug, Clone, Default)]
pub struct Losses(pub Vec<(&'static str, f64)>);

impl Losses {
    pub fn total(&self) -> f64 {
        self.0.first().map_or(f64::NAN, |l| l.1)
    }
}

/// One model's part in training.
pub trait TrainStep: Sized {
    /// One optimisation step on `batch` (rows × features, on an autodiff device).
    fn step(self, batch: Tensor<2>, rng: &mut ChaCha8Rng) -> (Self, Losses);

    /// Losses on a held-out batch, without gradients (`batch` on a plain device).
    fn evaluate(&self, batch: Tensor<2>) -> Losses;
}

/// One optimiser step of `net` down the gradient of `loss`.
pub fn descend<M: burn::module::Module>(
    optimizer: &mut burn::optim::ModuleOptimizer,
    learning_rate: f64,
    net: M,
    loss: Tensor<1>,
) -> M {
    let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &net);
    optimizer.step(learning_rate, net, grads)
}

/// A network that reconstructs its input, trained to minimise its mean squared error.
pub trait Reconstructs: burn::module::Module {
    /// The squared error of each entry of `x` (`[rows, features]`).
    fn errors(&self, x: Tensor<2>) -> Tensor<2>;
}

/// The training step of a plain reconstruction network (the image and sequence
/// autoencoders): one Adam step on the mean squared error.
pub struct ReconstructionStep<N> {
    pub net: N,
    optimizer: burn::optim::ModuleOptimizer,
    learning_rate: f64,
}

impl<N> ReconstructionStep<N> {
    pub fn new(net: N, learning_rate: f64) -> Self {
        Self {
            net,
            optimizer: burn::optim::AdamConfig::new().init(),
            learning_rate,
        }
    }
}

impl<N: Reconstructs> TrainStep for ReconstructionStep<N> {
    fn step(mut self, batch: Tensor<2>, _rng: &mut ChaCha8Rng) -> (Self, Losses) {
        let loss = self.net.errors(batch).mean();
        let value = scalar(loss.clone());
        self.net = descend(&mut self.optimizer, self.learning_rate, self.net, loss);
        (self, Losses(vec![("loss", value)]))
    }

    fn evaluate(&self, batch: Tensor<2>) -> Losses {
        let loss = self.net.valid().errors(batch).mean();
        Losses(vec![("loss", scalar(loss))])
    }
}

/// Loop settings shared by every deep detector's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Share of the training rows held out to compute the validation loss (0 = none).
    pub validation_fraction: f64,
    /// Stop after this many epochs without a better validation loss (0 = never stop early).
    pub patience: usize,
    /// Train this many times from different starting weights and keep the run whose last
    /// epoch has the lowest validation loss (training loss without validation rows).
    pub restarts: usize,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 256,
            validation_fraction: 0.1,
            patience: 5,
            restarts: 1,
        }
    }
}

impl LoopConfig {
    pub fn validate(&self) -> Result<()> {
        at_least_one("epochs", self.epochs)?;
        at_least_one("batch_size", self.batch_size)?;
        at_least_one("restarts", self.restarts)?;
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return Err(Error::config(
                "validation_fraction",
                format!("{} is outside [0, 0.9)", self.validation_fraction),
            ));
        }
        Ok(())
    }
}

/// Steps timed in each placement before [`StepRunner`] keeps the faster.
const TRIAL_STEPS: usize = 20;

/// Where training steps run. burn-flex splits large products across the rayon pool it runs
/// in, and each split wakes an idle worker: for narrow layers on few cores that costs more
/// than it saves (autoencoder 121-64-32-8 on 2 cores: 3.2 ms per step in a 2-thread pool,
/// 2.7 ms in a 1-thread one), for wide ones it pays (512-256-32: 2.8 s per epoch against
/// 3.9 s). Which wins depends on the model and the machine, so the first steps alternate
/// between the two pools and the one with the lower median time is kept (single steps are
/// too noisy to go by). The loop's own thread sleeps while a step runs, so it never competes
/// with the pools for a core. Both give the same numbers: a split never reorders a sum.
///
/// On a GPU the pools gain nothing and steps run on the loop's own thread: with burn 0.22
/// (cubecl 0.11) on wgpu, a model whose steps ran on pool threads had its weights
/// overwritten when later steps of another model ran there (lavapipe: scores off by 1e-2;
/// the contract's move test checks it).
struct StepRunner {
    /// `None` on a GPU.
    pools: Option<&'static [rayon::ThreadPool; 2]>,
    /// Seconds of the trial steps in each pool.
    trials: [Vec<f64>; 2],
    chosen: Option<usize>,
}

impl StepRunner {
    fn new() -> Result<Self> {
        let runtime = crate::runtime::runtime()?;
        let all = runtime.threads();
        Ok(Self {
            pools: (!runtime.on_gpu()).then_some(&runtime.step_pools),
            trials: [Vec::new(), Vec::new()],
            // With one thread there is nothing to choose.
            chosen: (all == 1).then_some(0),
        })
    }

    fn step<S: TrainStep + Send>(
        &mut self,
        state: S,
        batch: TensorData,
        device: &Device,
        rng: &mut ChaCha8Rng,
    ) -> (S, Losses) {
        let Some(pools) = self.pools else {
            return state.step(Tensor::from_data(batch, device), rng);
        };
        // Alternate until both pools have their trial steps.
        let pool = self
            .chosen
            .unwrap_or(usize::from(self.trials[1].len() < self.trials[0].len()));
        let started = Instant::now();
        let result = pools[pool].install(move || state.step(Tensor::from_data(batch, device), rng));
        if self.chosen.is_none() {
            self.trials[pool].push(started.elapsed().as_secs_f64());
            if self.trials[1].len() == TRIAL_STEPS {
                let [all, one] = &self.trials;
                self.chosen = Some(usize::from(quantile(one, 0.5) < quantile(all, 0.5)));
            }
        }
        result
    }

    /// Which pool was kept and why, once the trials are done.
    fn note(&self) -> Option<String> {
        let [all, one] = &self.trials;
        let chosen = self.chosen.filter(|_| one.len() == TRIAL_STEPS)?;
        let threads = self.pools?[0].current_num_threads();
        let ms = |times: &[f64]| quantile(times, 0.5) * 1e3;
        Some(format!(
            "training steps ran on {}: median step {:.2} ms on {threads} threads, {:.2} ms on one",
            if chosen == 1 {
                "one thread"
            } else {
                "all threads"
            },
            ms(all),
            ms(one)
        ))
    }
}

/// A relative improvement below this does not reset patience.
const MIN_IMPROVEMENT: f64 = 1e-4;

/// Checks `kind`'s training rows, builds its step from them on the autodiff device with the
/// run's seeded generator, and trains it: the start of every deep detector's `fit`. With
/// `restarts` above 1 it builds and trains that many steps (the generator moves on, so each
/// starts from other weights; all see the same split and batches) and keeps the one whose
/// last epoch has the lowest monitored loss.
pub fn fit_step<S: TrainStep + Send>(
    train_set: &Dataset,
    kind: &str,
    config: &LoopConfig,
    cx: &FitContext,
    build: impl Fn(ArrayView2<f32>, &mut ChaCha8Rng, &Device) -> Result<S>,
) -> Result<(S, FitSummary)> {
    let x = train_set.view();
    check_input(x, x.ncols(), &format!("{kind} fit"))?;
    let device = crate::runtime::runtime()?.device().autodiff();
    let mut rng = ChaCha8Rng::seed_from_u64(cx.seed);
    // `train` checks the config, `restarts` ≥ 1 included, before the first start.
    let mut run = || train(build(x, &mut rng, &device)?, x, config, cx, &device);
    let final_loss = |summary: &FitSummary| summary.final_loss().unwrap_or(f64::INFINITY);
    let (mut step, mut summary) = run()?;
    let mut losses = vec![final_loss(&summary)];
    let mut kept = 0;
    for start in 1..config.restarts {
        let (other_step, other_summary) = run()?;
        losses.push(final_loss(&other_summary));
        if losses[start] < losses[kept] {
            (step, summary, kept) = (other_step, other_summary, start);
        }
    }
    if config.restarts > 1 {
        let losses: Vec<String> = losses.iter().map(|l| format!("{l:.6}")).collect();
        summary.notes.push(format!(
            "kept start {} of {} (last-epoch losses {})",
            kept + 1,
            config.restarts,
            losses.join(", ")
        ));
    }
    Ok((step, summary))
}

/// Trains `state` on the rows of `x` and returns it with the per-epoch history.
pub fn train<S: TrainStep + Send>(
    mut state: S,
    x: ArrayView2<f32>,
    config: &LoopConfig,
    cx: &FitContext,
    device: &Device,
) -> Result<(S, FitSummary)> {
    config.validate()?;
    let mut rng = ChaCha8Rng::seed_from_u64(cx.seed ^ 0x5eed_1005);
    let all: Vec<usize> = (0..x.nrows()).collect();
    let n_valid = if x.nrows() >= 20 {
        (x.nrows() as f64 * config.validation_fraction).round() as usize
    } else {
        0
    };
    let (valid_rows, train_rows) =
        deviant_core::split::split_fraction(all, n_valid as f64 / x.nrows() as f64, &mut rng);
    let plain = device.clone().inner();
    let valid_batches: Vec<Tensor<2>> = valid_rows
        .chunks(config.batch_size.max(1024))
        .map(|rows| Tensor::from_data(gather_rows(x, rows), &plain))
        .collect();

    let mut runner = StepRunner::new()?;
    let mut summary = FitSummary::default();
    let mut best = f64::INFINITY;
    let mut since_best = 0;
    cx.progress.begin("training", config.epochs as u64);
    let mut history_stride = 1;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        let order = deviant_core::split::shuffled(train_rows.clone(), &mut rng);
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        // Copying shuffled rows out of memory is slow to wait for (cache misses), so a second
        // thread gathers the next batches while this one trains on the current one.
        state = std::thread::scope(|scope| -> Result<S> {
            let (sender, gathered) = std::sync::mpsc::sync_channel(2);
            let order = &order;
            scope.spawn(move || {
                for rows in order.chunks(config.batch_size) {
                    // A send fails only once training stopped early; nothing is left to do.
                    if sender.send(gather_rows(x, rows)).is_err() {
                        break;
                    }
                }
            });
            for (rows, batch) in order.chunks(config.batch_size).zip(gathered) {
                cx.check_cancelled()?;
                let (next, losses) = runner.step(state, batch, device, &mut rng);
                state = next;
                for &(name, value) in &losses.0 {
                    if !value.is_finite() {
                        return Err(Error::Diverged {
                            epoch,
                            loss: name.into(),
                            value,
                            remedy: "lower the learning rate or check the input scaling".into(),
                        });
                    }
                    *sums.entry(name.into()).or_default() += value * rows.len() as f64;
                }
            }
            Ok(state)
        })?;
        let train_losses: BTreeMap<String, f64> = sums
            .into_iter()
            .map(|(k, v)| (k, v / train_rows.len() as f64))
            .collect();
        let valid_losses = (!valid_batches.is_empty()).then(|| {
            let mut sums: BTreeMap<String, f64> = BTreeMap::new();
            for batch in &valid_batches {
                let n = batch.dims()[0] as f64;
                for (name, value) in state.evaluate(batch.clone()).0 {
                    *sums.entry(name.into()).or_default() += value * n;
                }
            }
            sums.into_iter()
                .map(|(k, v)| (k, v / valid_rows.len() as f64))
                .collect::<BTreeMap<_, _>>()
        });
        let message = format!(
            "epoch {epoch}: loss {:.6}{}",
            train_losses.get("loss").copied().unwrap_or(f64::NAN),
            valid_losses
                .as_ref()
                .and_then(|v| v.get("loss"))
                .map(|v| format!(", validation {v:.6}"))
                .unwrap_or_default()
        );
        cx.progress.message(&message);
        cx.progress.advance(1);
        let monitored = valid_losses.as_ref().and_then(|v| v.get("loss").copied());
        summary.record_epoch(
            EpochRecord {
                epoch,
                train: train_losses,
                valid: valid_losses,
                seconds: started.elapsed().as_secs_f64(),
            },
            &mut history_stride,
        );
        cx.progress
            .epoch(summary.history.last().expect("just pushed"));
        if let Some(loss) = monitored {
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    epoch,
                    loss: "validation".into(),
                    value: loss,
                    remedy: "lower the learning rate or check the input scaling".into(),
                });
            }
            if loss < best * (1.0 - MIN_IMPROVEMENT) {
                best = loss;
                since_best = 0;
            } else {
                since_best += 1;
                if config.patience > 0 && since_best >= config.patience {
                    summary.stopped_early = true;
                    summary.notes.push(format!(
                        "stopped after epoch {epoch}: no better validation loss for {} epochs",
                        config.patience
                    ));
                    break;
                }
            }
        }
    }
    summary.notes.extend(runner.note());
    cx.progress.finish();
    Ok((state, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deep::mlp::Mlp;
    use crate::deep::tensor::cpu;
    use crate::deep::tensor::{Activation, to_vec};
    use burn::module::Module;
    use burn::optim::{AdamConfig, ModuleOptimizer};
    use rand::Rng;

    struct Reconstruct {
        net: Mlp,
        optimizer: ModuleOptimizer,
    }

    impl TrainStep for Reconstruct {
        fn step(mut self, batch: Tensor<2>, _rng: &mut ChaCha8Rng) -> (Self, Losses) {
            let out = self.net.forward(batch.clone(), Activation::Relu, None);
            let loss = (out - batch).square().mean();
            let value = crate::deep::tensor::scalar(loss.clone());
            self.net = descend(&mut self.optimizer, 1e-3, self.net, loss);
            (self, Losses(vec![("loss", value)]))
        }

        fn evaluate(&self, _batch: Tensor<2>) -> Losses {
            Losses::default()
        }
    }

    /// Losses and the trained network's output after three steps in pool `pool` (0: all
    /// threads, 1: one).
    fn three_steps(pool: usize) -> (Vec<f64>, Vec<f32>) {
        let device = cpu().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Wide enough that burn-flex splits the first layer's products across threads.
        let (rows, features) = (1024, 121);
        let values: Vec<f32> = (0..rows * features).map(|_| rng.random()).collect();
        let mut state = Reconstruct {
            net: Mlp::new(&[features, 64, 32, 64, features], true, &mut rng, &device),
            optimizer: AdamConfig::new().init(),
        };
        let mut runner = StepRunner::new().unwrap();
        runner.chosen = Some(pool);
        let mut losses = Vec::new();
        for _ in 0..3 {
            let batch = TensorData::new(values.clone(), [rows, features]);
            let (next, step_losses) = runner.step(state, batch, &device, &mut rng);
            state = next;
            losses.push(step_losses.total());
        }
        // The trained network's output stands for its weights.
        let x = Tensor::from_data(TensorData::new(values, [rows, features]), &cpu());
        let out = state.net.valid().forward(x, Activation::Relu, None);
        (losses, to_vec(out).unwrap())
    }

    #[test]
    fn the_note_names_the_pool_kept_once_the_trials_are_done() {
        let mut runner = StepRunner::new().unwrap();
        assert_eq!(runner.note(), None);
        runner.trials = [vec![3e-3; TRIAL_STEPS], vec![2e-3; TRIAL_STEPS]];
        runner.chosen = Some(1);
        let note = runner.note().unwrap();
        assert!(
            note.starts_with("training steps ran on one thread"),
            "{note}"
        );
        assert!(
            note.contains("3.00 ms on") && note.ends_with("2.00 ms on one"),
            "{note}"
        );
    }

    #[test]
    fn steps_give_the_same_numbers_on_one_thread_and_on_all() {
        let (all, one) = (three_steps(0), three_steps(1));
        assert_eq!(all.0, one.0, "losses differ between the pools");
        assert!(all.1 == one.1, "trained networks differ between the pools");
    }

    #[test]
    fn restarts_keep_the_start_with_the_lowest_final_loss() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = ndarray::Array2::from_shape_simple_fn((200, 8), || rng.random::<f32>());
        let data = Dataset::new(x, None);
        let config = LoopConfig {
            epochs: 2,
            batch_size: 50,
            validation_fraction: 0.0,
            patience: 0,
            restarts: 3,
        };
        let cx = FitContext::new(1);
        let build = |x: ArrayView2<f32>, rng: &mut ChaCha8Rng, device: &Device| {
            Ok(Reconstruct {
                net: Mlp::new(&[x.ncols(), 4, x.ncols()], true, rng, device),
                optimizer: AdamConfig::new().init(),
            })
        };
        let (_, kept) = fit_step(&data, "test", &config, &cx, build).unwrap();
        let note = kept
            .notes
            .iter()
            .find(|n| n.starts_with("kept start"))
            .unwrap();
        let (head, losses) = note.split_once(" (last-epoch losses ").unwrap();
        let losses: Vec<f64> = losses
            .trim_end_matches(')')
            .split(", ")
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(losses.len(), 3, "{note}");
        assert!(losses[0] != losses[1] && losses[1] != losses[2], "{note}");
        let start: usize = head["kept start ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let lowest = losses.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(losses[start - 1], lowest, "{note}");
        assert_eq!(
            format!("{:.6}", kept.final_loss().unwrap()),
            format!("{lowest:.6}")
        );
        // The first start is the run a single start gives.
        let single = LoopConfig {
            restarts: 1,
            ..config
        };
        let (_, first) = fit_step(&data, "test", &single, &cx, build).unwrap();
        assert_eq!(
            format!("{:.6}", first.final_loss().unwrap()),
            format!("{:.6}", losses[0])
        );
        let none = LoopConfig {
            restarts: 0,
            ..config
        };
        let error = fit_step(&data, "test", &none, &cx, build).err().unwrap();
        assert!(error.to_string().contains("restarts"), "{error}");
    }
}

//! The one runtime every fit and score in a process shares: rayon's global pool (scoring,
//! tree building, neighbour searches) and the two pools deep training steps choose between,
//! all sized by [`configure`] (the CLI's `--threads`) or, unset, by the machine's cores,
//! and the device models are loaded onto and scored on (fits use their context's).
//! Concurrent trials and server jobs share these threads instead of each starting its own.

use std::sync::OnceLock;

use deviant_core::detector::ComputeDevice;
use deviant_core::{Error, Result};

/// The pools deep training steps run in (all the runtime's threads, and one), and the device
/// models are loaded onto and scored on.
pub struct Runtime {
    pub(crate) step_pools: [rayon::ThreadPool; 2],
    device: ComputeDevice,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Sizes the runtime at `threads` threads; must come before the first fit or score.
pub fn configure(threads: usize) -> Result<()> {
    if threads == 0 {
        return Err(Error::config("threads", "must be at least 1"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| {
            Error::config(
                "threads",
                format!("the runtime already runs (set it before any work): {e}"),
            )
        })?;
    runtime().map(|_| ())
}

/// The process's runtime, started on first use with as many threads as rayon's global pool.
pub fn runtime() -> Result<&'static Runtime> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::internal(format!("starting the training threads: {e}")))
    };
    let started = Runtime {
        step_pools: [pool(rayon::current_num_threads())?, pool(1)?],
        device: ComputeDevice::Cpu,
    };
    // Two first uses at once: one runtime wins, the other's pools are dropped unused.
    Ok(RUNTIME.get_or_init(|| started))
}

impl Runtime {
    /// Threads in the runtime.
    pub fn threads(&self) -> usize {
        self.step_pools[0].current_num_threads()
    }

    /// The burn device loading and scoring use.
    pub fn device(&self) -> burn::prelude::Device {
        crate::deep::tensor::device_for(self.device)
    }
}

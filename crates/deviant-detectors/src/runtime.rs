//! The one runtime every fit and score in a process shares: rayon's global pool (scoring,
//! tree building, neighbour searches), the two pools deep training steps choose between, and
//! the device deep models train, load and score on. [`configure`] sets them once (the CLI's
//! `--threads` and `--device`); unset, the runtime starts on first use with the machine's
//! cores and the CPU. Concurrent trials and server jobs share these threads and this device
//! instead of each starting its own.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use burn::prelude::{Device, Tensor};
use deviant_core::{Error, Result};

/// Where deep models train and score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComputeDevice {
    /// burn's Flex backend on the runtime's threads.
    Cpu,
    /// A wgpu adapter (Vulkan, Metal or DirectX 12; NVIDIA GPUs through Vulkan): `None`
    /// takes the one wgpu ranks first, a software driver such as lavapipe included; `Some(n)`
    /// the n-th discrete GPU.
    Wgpu(Option<usize>),
}

/// A device as a user names it: one device, or `auto`, the first wgpu adapter that is a card,
/// else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Auto,
    Exact(ComputeDevice),
}

impl Default for DeviceChoice {
    fn default() -> Self {
        Self::Exact(ComputeDevice::Cpu)
    }
}

/// The names [`DeviceChoice`] reads, for messages and help.
pub const DEVICE_NAMES: &str = "cpu, wgpu, wgpu:N or auto";

/// Why `cuda` is no device here, for whoever asks for it.
const NO_CUDA: &str = "deviant has no CUDA build: burn's CUDA backend downloads LLVM while it \
                       builds. NVIDIA GPUs run through Vulkan: use --device wgpu (a build with \
                       the `wgpu` feature)";

impl FromStr for DeviceChoice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let refused = || {
            Error::config(
                "device",
                format!("'{text}' is not a device: give {DEVICE_NAMES}"),
            )
        };
        let (name, index) = match text.trim().split_once(':') {
            Some((name, index)) => (name, Some(index.parse::<usize>().map_err(|_| refused())?)),
            None => (text.trim(), None),
        };
        Ok(match (name.to_ascii_lowercase().as_str(), index) {
            ("auto", None) => Self::Auto,
            ("cpu", None) => Self::Exact(ComputeDevice::Cpu),
            ("wgpu", index) => Self::Exact(ComputeDevice::Wgpu(index)),
            ("cuda", _) => return Err(Error::config("device", NO_CUDA)),
            _ => return Err(refused()),
        })
    }
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Wgpu(None) => write!(f, "wgpu"),
            Self::Wgpu(Some(index)) => write!(f, "wgpu:{index}"),
        }
    }
}

/// The pools deep training steps run in (all the runtime's threads, and one), and the device
/// deep models train, load and score on.
pub struct Runtime {
    pub(crate) step_pools: [rayon::ThreadPool; 2],
    compute: ComputeDevice,
    device: Device,
    description: String,
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Held while a runtime starts, so two first uses never open a device twice (wgpu refuses
/// the second).
static STARTING: Mutex<()> = Mutex::new(());

/// Starts the runtime with `threads` threads (unset: rayon's default, every core) on
/// `device`; must come before the first fit or score, since both use the runtime.
pub fn configure(threads: Option<usize>, device: DeviceChoice) -> Result<&'static Runtime> {
    const ALREADY: &str = "the runtime already runs (set threads and device before any work)";
    let already = || Error::config("threads", ALREADY);
    let _starting = STARTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if RUNTIME.get().is_some() {
        return Err(already());
    }
    if let Some(threads) = threads {
        if threads == 0 {
            return Err(Error::config("threads", "must be at least 1"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .map_err(|e| Error::config("threads", format!("{ALREADY}: {e}")))?;
    }
    let started = start(device)?;
    RUNTIME.set(started).map_err(|_| already())?;
    runtime()
}

/// The runtime on `choice`: started on it, or the one already running when that one is on the
/// device asked for (`auto` takes whichever runs). For callers that cannot configure first,
/// such as Python estimators.
pub fn use_device(choice: DeviceChoice) -> Result<&'static Runtime> {
    if RUNTIME.get().is_none() {
        match configure(None, choice) {
            Ok(started) => return Ok(started),
            // Started meanwhile by another thread: that one is judged below.
            Err(_) if RUNTIME.get().is_some() => {}
            Err(e) => return Err(e),
        }
    }
    let running = runtime()?;
    match choice {
        DeviceChoice::Exact(device) if device != running.compute => Err(Error::config(
            "device",
            format!(
                "deep models in this process already run on {}: a process has one device, \
                     chosen before its first fit",
                running.describe()
            ),
        )),
        _ => Ok(running),
    }
}

/// The process's runtime, started on first use on the CPU with as many threads as rayon's
/// global pool.
pub fn runtime() -> Result<&'static Runtime> {
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let _starting = STARTING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let started = start(DeviceChoice::default())?;
    Ok(RUNTIME.get_or_init(|| started))
}

fn start(choice: DeviceChoice) -> Result<Runtime> {
    let pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::internal(format!("starting the training threads: {e}")))
    };
    let (compute, device, description) = open(choice)?;
    Ok(Runtime {
        step_pools: [pool(rayon::current_num_threads())?, pool(1)?],
        compute,
        device,
        description,
    })
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("threads", &self.threads())
            .field("device", &self.description)
            .finish()
    }
}

impl Runtime {
    /// Threads in the runtime.
    pub fn threads(&self) -> usize {
        self.step_pools[0].current_num_threads()
    }

    /// The burn device deep models train (with autodiff on top), load and score on.
    pub fn device(&self) -> Device {
        self.device.clone()
    }

    /// Which device the runtime chose.
    pub fn compute_device(&self) -> ComputeDevice {
        self.compute
    }

    /// Whether deep models run on a GPU.
    pub fn on_gpu(&self) -> bool {
        self.compute != ComputeDevice::Cpu
    }

    /// The device as a person reads it: its name and, for a GPU, the adapter's.
    pub fn describe(&self) -> &str {
        &self.description
    }
}

/// Opens `choice` and checks that it computes: a device that cannot is an error naming it,
/// not a panic at the first fit.
fn open(choice: DeviceChoice) -> Result<(ComputeDevice, Device, String)> {
    match choice {
        DeviceChoice::Exact(compute) => {
            let (device, adapter) = open_exact(compute)?;
            Ok((compute, device, describe(compute, adapter.as_deref())))
        }
        DeviceChoice::Auto => {
            // A software driver (lavapipe) is slower than the CPU backend: auto wants a card.
            let compute = ComputeDevice::Wgpu(None);
            if cfg!(feature = "wgpu")
                && let Ok((device, Some(adapter))) = open_exact(compute)
                && is_card(&device)
            {
                return Ok((compute, device, describe(compute, Some(&adapter))));
            }
            Ok((
                ComputeDevice::Cpu,
                Device::flex(),
                describe(ComputeDevice::Cpu, None),
            ))
        }
    }
}

fn describe(compute: ComputeDevice, adapter: Option<&str>) -> String {
    match adapter {
        Some(adapter) => format!("{compute} ({adapter})"),
        None => compute.to_string(),
    }
}

/// The burn device of `compute`, proven by one small computation, and its adapter's name
/// where the backend reports one.
fn open_exact(compute: ComputeDevice) -> Result<(Device, Option<String>)> {
    let device = backend_device(compute)?;
    let failed = |why: String| {
        Error::config(
            "device",
            format!("{compute} does not work here: {why}; use --device cpu"),
        )
    };
    // Backends report a missing driver by panicking on first use; that becomes the error.
    let probe = catch_unwind(AssertUnwindSafe(|| {
        let sum = Tensor::<1>::ones([4], &device).sum().into_scalar::<f32>();
        (sum, adapter_name(&device))
    }));
    match probe {
        Ok((4.0, adapter)) => Ok((device, adapter)),
        Ok((sum, _)) => Err(failed(format!("a test sum gave {sum} instead of 4"))),
        Err(panic) => Err(failed(panic_message(&panic))),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the backend panicked".into())
}

#[cfg(feature = "wgpu")]
fn backend_device(compute: ComputeDevice) -> Result<Device> {
    use burn::tensor::DeviceKind;
    match compute {
        ComputeDevice::Cpu => Ok(Device::flex()),
        ComputeDevice::Wgpu(index) => {
            let kind = index.map_or(DeviceKind::DefaultDevice, DeviceKind::DiscreteGpu);
            Device::wgpu_options()
                .device_kind(kind)
                .init()
                .map_err(|e| Error::config("device", format!("{compute}: {e}; use --device cpu")))
        }
    }
}

#[cfg(not(feature = "wgpu"))]
fn backend_device(compute: ComputeDevice) -> Result<Device> {
    match compute {
        ComputeDevice::Cpu => Ok(Device::flex()),
        ComputeDevice::Wgpu(_) => Err(Error::config(
            "device",
            format!(
                "{compute} needs a deviant built with the `wgpu` feature \
                 (cargo install --features wgpu); this one has only the CPU"
            ),
        )),
    }
}

#[cfg(feature = "wgpu")]
fn adapter_name(device: &Device) -> Option<String> {
    device.identity().map(|identity| identity.name)
}

#[cfg(not(feature = "wgpu"))]
fn adapter_name(_device: &Device) -> Option<String> {
    None
}

/// Whether `device` is a card on a bus, not the CPU or a software rasterizer.
#[cfg(feature = "wgpu")]
fn is_card(device: &Device) -> bool {
    device
        .identity()
        .is_some_and(|identity| identity.physical.is_some())
}

#[cfg(not(feature = "wgpu"))]
fn is_card(_device: &Device) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_from_their_names() {
        let read = |text: &str| text.parse::<DeviceChoice>();
        assert_eq!(read("cpu").unwrap(), DeviceChoice::default());
        assert_eq!(read("auto").unwrap(), DeviceChoice::Auto);
        assert_eq!(
            read("wgpu").unwrap(),
            DeviceChoice::Exact(ComputeDevice::Wgpu(None))
        );
        assert_eq!(
            read("WGPU:1").unwrap(),
            DeviceChoice::Exact(ComputeDevice::Wgpu(Some(1)))
        );
        for cuda in ["cuda", "cuda:1"] {
            let error = read(cuda).unwrap_err().to_string();
            assert!(error.contains("--device wgpu"), "{error}");
        }
        for bad in ["gpu", "cpu:1", "cuda:x", "auto:0", ""] {
            let error = read(bad).unwrap_err().to_string();
            assert!(error.contains(DEVICE_NAMES), "{bad}: {error}");
        }
        for device in [
            ComputeDevice::Cpu,
            ComputeDevice::Wgpu(None),
            ComputeDevice::Wgpu(Some(3)),
        ] {
            assert_eq!(
                read(&device.to_string()).unwrap(),
                DeviceChoice::Exact(device)
            );
        }
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn a_gpu_this_build_lacks_is_refused_with_the_feature_to_build() {
        let error = open(DeviceChoice::Exact(ComputeDevice::Wgpu(None)))
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("--features wgpu"), "{error}");
        let (auto, ..) = open(DeviceChoice::Auto).unwrap();
        assert_eq!(auto, ComputeDevice::Cpu, "auto falls back to the CPU");
    }
}

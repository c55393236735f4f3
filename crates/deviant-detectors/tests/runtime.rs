//! The shared runtime: sized once per process, before any work, and used by every fit.

use deviant_core::{Cause, Dataset, FitContext};
use deviant_detectors::AnyConfig;
use deviant_detectors::runtime::{ComputeDevice, DeviceChoice, configure, runtime, use_device};
use ndarray::Array2;
use serde_json::json;

#[test]
fn the_runtime_is_sized_once_and_shared_by_fits() {
    let cpu = DeviceChoice::Exact(ComputeDevice::Cpu);
    assert_eq!(configure(Some(0), cpu).unwrap_err().cause(), Cause::Config);
    configure(Some(2), cpu).unwrap();
    assert_eq!(rayon::current_num_threads(), 2);
    assert_eq!(runtime().unwrap().threads(), 2);
    let x = Array2::from_shape_fn((64, 3), |(i, j)| ((i * 3 + j) % 7) as f32);
    let config = AnyConfig::from_params("ae", &json!({"hidden": [2], "training": {"epochs": 1}}));
    let before = threads();
    config
        .unwrap()
        .fit(&Dataset::new(x, None), &FitContext::new(1))
        .unwrap();
    assert_eq!(threads(), before, "a fit starts no threads of its own");
    let again = configure(Some(3), cpu).unwrap_err();
    assert!(again.to_string().contains("already runs"), "{again}");
    // Asking for the device in use again is fine; another one is refused, naming both.
    assert_eq!(
        use_device(cpu).unwrap().compute_device(),
        ComputeDevice::Cpu
    );
    assert_eq!(use_device(DeviceChoice::Auto).unwrap().describe(), "cpu");
    let other = use_device(DeviceChoice::Exact(ComputeDevice::Wgpu(Some(0)))).unwrap_err();
    assert!(other.to_string().contains("already run on cpu"), "{other}");
}

/// Threads of this process, from Linux's `/proc`.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

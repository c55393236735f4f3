//! A detector's settings as `--set`, a config file or a run request give them: the first
//! line names the kind, the rest is a JSON object of parameters or `key=value` lines (as
//! `--set` takes them). Whatever is accepted must read back unchanged from its own JSON,
//! since a saved model's manifest carries it.
#![no_main]

use deviant_detectors::AnyConfig;
use deviant_detectors::registry::params_from_sets;

libfuzzer_sys::fuzz_target!(|text: &str| {
    let (kind, rest) = text.split_once('\n').unwrap_or((text, ""));
    let params = if rest.trim_start().starts_with('{') {
        serde_json::from_str(rest).ok()
    } else {
        params_from_sets(&rest.lines().map(str::to_string).collect::<Vec<_>>()).ok()
    };
    let Some(Ok(config)) = params.map(|p| AnyConfig::from_params(kind, &p)) else {
        return;
    };
    let saved = serde_json::to_string(&config).expect("an accepted config serialises");
    let again: AnyConfig = serde_json::from_str(&saved).expect("a saved config reads back");
    assert_eq!(again, config);
});

use anyhow::Result;
use clap::Args;
use deviant_detectors::AnyConfig;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print the catalogue as JSON: each kind's summary, input layouts, cost class, whether
    /// it needs labels, search space and defaults.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let kinds = AnyConfig::kinds();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&kinds)?);
        return Ok(());
    }
    for k in kinds {
        let defaults = serde_json::to_value(&k.defaults)?;
        // The names the JSON uses, without its quotes.
        let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let layouts: Vec<String> = k.layouts.iter().map(|l| name(json!(l))).collect();
        println!("{:<8} {}", k.kind, k.summary);
        println!(
            "         layouts: {}; cost: {}{}",
            layouts.join(", "),
            name(json!(k.cost)),
            match k.needs_labels {
                true => "; supervised: trains on labelled rows (--label)",
                false => "",
            }
        );
        println!("         defaults: {}", defaults["params"]);
    }
    println!(
        "\nSet parameters with `--set key=value` (nested keys with dots, e.g. training.epochs=30)"
    );
    println!(
        "or a config file `--config FILE.json|.toml` holding {{\"kind\": …, \"params\": {{…}}}}."
    );
    Ok(())
}

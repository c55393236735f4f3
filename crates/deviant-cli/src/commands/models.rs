use anyhow::Result;
use clap::Args;
use deviant_detectors::AnyConfig;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let kinds = AnyConfig::kinds();
    if args.json {
        let list: Vec<_> = kinds
            .iter()
            .map(|k| serde_json::json!({"kind": k.kind, "summary": k.summary, "defaults": k.defaults}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for k in kinds {
        let defaults = serde_json::to_value(&k.defaults)?;
        println!("{:<8} {}", k.kind, k.summary);
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

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use deviant_server::{AppState, ServerConfig, app};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Where datasets, runs and models are kept (default: the user's data folder).
    #[arg(long)]
    pub home: Option<PathBuf>,
    /// Answer every call without the API token; refused on a non-loopback address.
    #[arg(long)]
    pub no_auth: bool,
    /// Make and print a new API token (the old one stops working).
    #[arg(long)]
    pub new_token: bool,
    /// The largest upload accepted, in MiB.
    #[arg(long, default_value_t = 512)]
    pub max_upload_mb: usize,
    /// Training jobs run at once.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Print the OpenAPI 3.1 document of the API and exit.
    #[arg(long)]
    pub print_openapi: bool,
}

pub fn run(args: ServeArgs) -> Result<()> {
    if args.print_openapi {
        println!(
            "{}",
            serde_json::to_string_pretty(&deviant_server::openapi_spec())?
        );
        return Ok(());
    }
    anyhow::ensure!(
        !args.no_auth || args.addr.ip().is_loopback(),
        "--no-auth is only allowed on a loopback address (127.0.0.1 or ::1), not {}",
        args.addr.ip()
    );
    let home = match args.home {
        Some(home) => home,
        None => dirs::data_dir()
            .context("no per-user data folder on this system; pass --home DIR")?
            .join("deviant"),
    };
    let config = ServerConfig {
        home: home.clone(),
        max_upload_bytes: args.max_upload_mb.saturating_mul(1 << 20),
        require_token: !args.no_auth,
        workers: args.workers,
    };
    let (state, token) = AppState::start(config, args.new_token)
        .with_context(|| format!("opening the registry in {}", home.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("listening on {}", args.addr))?;
        println!("deviant serve: http://{}/api/v1 (data in {})", args.addr, home.display());
        match (token, args.no_auth) {
            (Some(token), _) => println!(
                "API token (shown once, stored hashed; send it as `Authorization: Bearer …`):\n{token}"
            ),
            (None, false) => {
                println!("API token: the one printed at the first start (--new-token makes another)")
            }
            (None, true) => println!("authentication off (--no-auth)"),
        }
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")
    })
}

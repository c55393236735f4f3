use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use deviant_data::ReadLimits;
use deviant_server::{AppState, ServerConfig, app};

use crate::args::LimitArgs;

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
    /// The most an uploaded table may expand to once decompressed, in MiB.
    #[arg(long, default_value_t = 512)]
    pub max_expanded_mb: u64,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Training jobs run at once.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Runs that may wait for a worker; more are refused with 429 and Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_queued_runs: usize,
    /// Rows one score request may carry; more are refused with 413.
    #[arg(long, default_value_t = 100_000)]
    pub max_score_rows: usize,
    /// Trained models kept loaded for scoring (the least recently used is dropped first
    /// and loaded again when asked for).
    #[arg(long, default_value = "16")]
    pub cached_models: std::num::NonZeroUsize,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
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
        read_limits: ReadLimits {
            max_bytes: args.max_expanded_mb.saturating_mul(1 << 20),
            ..args.limits.limits()
        },
        require_token: !args.no_auth,
        workers: args.workers,
        max_queued_runs: args.max_queued_runs,
        cached_models: args.cached_models,
        max_score_rows: args.max_score_rows,
        tls: args.tls_cert.is_some(),
    };
    let (state, token) = AppState::start(config, args.new_token)
        .with_context(|| format!("opening the registry in {}", home.display()))?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "reading the TLS certificate {} and key {} (PEM files)",
                            cert.display(),
                            key.display()
                        )
                    })?,
            ),
            _ => None,
        };
        let listener = std::net::TcpListener::bind(args.addr)
            .with_context(|| format!("listening on {}", args.addr))?;
        listener.set_nonblocking(true)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!(
            "deviant serve: {scheme}://{}/api/v1 (data in {}; deep models on {})",
            args.addr,
            home.display(),
            deviant_detectors::runtime::runtime()?.describe()
        );
        match (token, args.no_auth) {
            (Some(token), _) => println!(
                "API token (shown once, stored hashed; send it as `Authorization: Bearer …`):\n{token}"
            ),
            (None, false) => {
                println!("API token: the one printed at the first start (--new-token makes another)")
            }
            (None, true) => println!("authentication off (--no-auth)"),
        }
        // Each request knows its client's address, which wrong tokens are counted by.
        let service = app(state).into_make_service_with_connect_info::<SocketAddr>();
        let handle = axum_server::Handle::new();
        let stopping = handle.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stopping.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
        });
        match tls {
            Some(tls) => {
                axum_server::from_tcp_rustls(listener, tls)?
                    .handle(handle)
                    .serve(service)
                    .await
            }
            None => axum_server::from_tcp(listener)?.handle(handle).serve(service).await,
        }
        .context("serving")
    })
}

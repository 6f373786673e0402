//! `faultline serve`: the web UI over the store, on this machine.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;

use faultline::serve::{self, Config};

use super::{Error, StoreArg};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Address and port to listen on; port 0 picks a free one. Beyond
    /// loopback (127.0.0.1, ::1) a --token is required.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Access token every request must carry: open the UI once as
    /// http://HOST:PORT/?token=TOKEN and a cookie keeps it. Required beyond
    /// loopback.
    #[arg(
        long,
        env = "FAULTLINE_SERVE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// The region console links point to when an event names none (for a
    /// DynamoDB store, the store's region is used).
    #[arg(long, env = "AWS_REGION", value_name = "REGION")]
    region: Option<String>,
}

pub async fn run(args: ServeArgs) -> Result<ExitCode, Error> {
    let url = &args.store.store;
    let with_token = args.token.is_some();
    let mut config = Config {
        listen: args.listen,
        token: args.token,
        region: args.region,
    };
    config.check()?;
    // Written to: the buttons change issues.
    let store = super::open_existing(url, super::Access::Write).await?;
    if config.region.is_none() {
        config.region = if url.starts_with("dynamodb://") {
            faultline::aws::sdk_config()
                .await
                .region()
                .map(|r| r.to_string())
        } else {
            faultline::links::configured_region()
        };
    }
    serve::run(store, config, |addr| {
        let hint = if with_token { "?token=TOKEN" } else { "" };
        // The first line is the address: scripts and tests read it.
        println!("faultline serve: listening on http://{addr}/{hint}");
        let _ = std::io::stdout().flush();
        eprintln!("press Ctrl-C to stop");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

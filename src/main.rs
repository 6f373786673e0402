//! The `faultline` command: the pipeline on local files and the embedded
//! store. Everything but starting up lives in [`cli`].

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc keeps freed memory for reuse instead of returning it to the
/// kernel after every batch: with the system allocator, each 1 MB batch
/// buffer was mapped and faulted in anew (55,000 page faults per 100 batches,
/// 15% of the CPU time; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FAULTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("faultline: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code,
        Err(e) if e.is_closed_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("faultline: {e}");
            e.exit_code()
        }
    }
}

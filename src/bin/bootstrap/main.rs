//! The Lambda: CloudWatch Logs batches in, from a subscription or from a
//! Kinesis stream, and EventBridge job events and schedule ticks for runs;
//! issues, runs and alerts out.
//!
//! A thin shell over the pipeline, as the aws-lambda-rust-runtime examples
//! are: typed events in ([`event`]), typed responses out ([`function`]),
//! and failures with types of their own ([`error`]). Settings come from
//! `FAULTLINE_STORE` and `FAULTLINE_NOTIFY`, the same URLs as the CLI's
//! `--store` and `--notify`, and `FAULTLINE_POLICY` (a policy file's path,
//! its TOML text, or the one-line `key=value;...` form template.yaml's
//! AlertPolicy takes); AWS clients read the standard AWS environment.

mod error;
mod event;
mod function;

use lambda_runtime::{LambdaEvent, service_fn};

use event::Invocation;
use function::Function;

/// mimalloc keeps freed memory for reuse instead of returning it to the
/// kernel after every batch: with the system allocator, each 1 MB batch
/// buffer was mapped and faulted in anew (55,000 page faults per 100 batches,
/// 15% of the CPU time; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Lambda sets this for every function it runs. Without it the runtime
    // client would panic with a backtrace; a person who started the binary
    // by hand gets one line saying what it is instead.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "bootstrap is faultline's AWS Lambda entry point and runs only inside Lambda (AWS_LAMBDA_RUNTIME_API is not set); to run the same pipeline locally, use `faultline ingest FILE...` (see the README)"
        );
        return std::process::ExitCode::from(2);
    }
    match lambda_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn lambda_main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = match Function::from_env().await {
        Ok(function) => function,
        Err(e) => return Err(error::report_init_error(e).await),
    };
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            function.finish_by(event.context.deadline);
            function.invoke(event.payload).await
        },
    ))
    .await
}

//! Cold start of the Lambda: process start to its first poll for work.
//!
//!     cargo bench --bench coldstart
//!
//! Measured against a small Runtime API server (tests/support/runtime_api.rs)
//! and, as the baseline in the same run, the time to spawn and finish
//! `faultline --version`, the least a process of ours can cost. Also prints
//! the size of the bootstrap binary that gets deployed.

use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../tests/support/runtime_api.rs"]
#[allow(dead_code)]
mod runtime_api;

const RUNS: usize = 20;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    // `cargo test --all-targets` runs benches once as tests; stay quick there.
    let runs = if std::env::args().any(|a| a == "--bench") {
        RUNS
    } else {
        1
    };
    let bootstrap = env!("CARGO_BIN_EXE_bootstrap");
    let dir = std::env::temp_dir().join(format!("faultline-coldstart-{}", std::process::id()));
    let mut ready = Vec::new();
    let mut baseline = Vec::new();
    for i in 0..runs {
        let started = Instant::now();
        let status = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .arg("--version")
            .output();
        if status.is_err() {
            eprintln!("cannot run faultline --version");
            return;
        }
        baseline.push(started.elapsed());

        let api = runtime_api::RuntimeApi::start();
        let store = format!("sqlite:{}", dir.join(format!("cold-{i}.db")).display());
        let started = Instant::now();
        let mut child = api.spawn(bootstrap, &[("FAULTLINE_STORE", store)]);
        let polled = api.first_poll(Duration::from_secs(30));
        let _ = child.kill();
        let _ = child.wait();
        match polled {
            Some(at) => ready.push(at.duration_since(started)),
            None => {
                eprintln!("the bootstrap never polled for work");
                return;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let size = std::fs::metadata(bootstrap).map(|m| m.len()).unwrap_or(0);
    let (r, b) = (median(ready), median(baseline));
    println!(
        "bootstrap binary: {bootstrap} ({:.1} MB)",
        size as f64 / 1e6
    );
    println!(
        "cold start to first poll: median {:.1} ms over {runs} runs",
        r.as_secs_f64() * 1e3
    );
    println!(
        "baseline `faultline --version`: median {:.1} ms",
        b.as_secs_f64() * 1e3
    );
    println!("ratio: {:.2}", r.as_secs_f64() / b.as_secs_f64());
}

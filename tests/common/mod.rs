//! Running the real `faultline` binary from tests, one way for all of them.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `faultline ARGS` in `cwd`, with the store and notifier settings of
/// the developer's environment removed so each test sees the defaults.
pub fn faultline(args: &[&str], cwd: &Path) -> Output {
    faultline_with(args, cwd, &[])
}

/// [`faultline`] with these environment variables set after the
/// developer's are removed (a store in an emulator, say).
pub fn faultline_with(args: &[&str], cwd: &Path, env: &[(String, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(cwd)
        .env_remove("FAULTLINE_STORE")
        .env_remove("FAULTLINE_NOTIFY")
        .env_remove("FAULTLINE_POLICY")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("the faultline binary runs")
}

/// [`faultline`], which must succeed; its standard output.
pub fn ok(args: &[&str], cwd: &Path) -> String {
    let out = faultline(args, cwd);
    assert!(
        out.status.success(),
        "faultline {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

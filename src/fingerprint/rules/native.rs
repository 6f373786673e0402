//! Failures of binaries and their loaders: whatever the runtime, what to
//! fix is the binary, the library or the version the message names.

use crate::fingerprint::frames::normalize_path;
use crate::fingerprint::mask::template;

/// `fork/exec <path>: <reason>` (go1.x's PathError, `Runtime.InvalidEntrypoint`,
/// 2018's `Runtime failed to start:`): which file could not be run and why.
/// The file is the function's handler or bootstrap, or an image's
/// entrypoint: `bin/ping`, `main`, `bootstrap` and `/lambda-entrypoint.sh`
/// with `exec format error` are four different things to rebuild. The
/// error type is left out, because the platform has named the same failure
/// differently over the years.
pub(super) fn exec(message: &str) -> Option<String> {
    let at = message.find("fork/exec ")?;
    let rest = message[at + "fork/exec ".len()..].lines().next()?;
    let (path, reason) = rest.split_once(": ")?;
    Some(format!("exec {}: {}", normalize_path(path), reason.trim()))
}

/// Whether a message is the dynamic loader's.
pub(super) fn is_loader_message(message: &str) -> bool {
    (message.contains("version `") && message.contains("' not found"))
        || message.contains("error while loading shared libraries: ")
}

/// The dynamic loader's failure: the glibc (or other) symbol version a
/// binary needs (`GLIBC_2.28` and `GLIBC_2.38` mean different build images
/// to fix) and which file needs it, or the shared library it cannot find.
/// Paths are the deploy's; only the file names stay.
pub(super) fn loader(message: &str) -> String {
    if let Some(start) = message.find("version `") {
        let rest = &message[start + "version `".len()..];
        let version = rest.split('\'').next().unwrap_or("");
        let needed_by = rest
            .split("(required by ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .unwrap_or("");
        return format!(
            "version {version} not found, required by {}",
            template(needed_by)
        );
    }
    if let Some(start) = message.find("error while loading shared libraries: ") {
        let rest = &message[start + "error while loading shared libraries: ".len()..];
        let library = rest.split(':').next().unwrap_or("");
        return format!("cannot load shared library {library}");
    }
    template(message)
}

/// `Failed to initialize CoreCLR, HRESULT: 0x80004005`: the HRESULT is the
/// .NET host's error code (0x80004005, a host or runtime mismatch, is not
/// 0x80131500, an exception during start-up), so it is kept.
pub(super) fn coreclr(message: &str) -> Option<String> {
    let at = message.find("HRESULT: ")?;
    let code = message[at + "HRESULT: ".len()..]
        .split_whitespace()
        .next()?;
    Some(format!("Failed to initialize CoreCLR, HRESULT {code}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// platform-* and go1x-* in the real corpus: one log group, seven
    /// binaries and reasons.
    #[test]
    fn the_binary_and_the_reason_name_the_bug() {
        let e = |m: &str| exec(m).unwrap();
        let bootstrap = e("fork/exec /var/task/bootstrap: exec format error");
        assert_eq!(
            bootstrap,
            e("Runtime failed to start: fork/exec /var/task/bootstrap: exec format error")
        );
        assert_ne!(
            bootstrap,
            e("fork/exec /lambda-entrypoint.sh: exec format error")
        );
        assert_ne!(
            bootstrap,
            e("fork/exec /var/task/bootstrap: permission denied")
        );
        assert_ne!(
            e("fork/exec /var/task/main: permission denied"),
            e("fork/exec /var/task/autospotting: permission denied")
        );
    }

    #[test]
    fn the_glibc_version_and_the_host_code_are_kept() {
        let a = loader(
            "/var/task/bootstrap: /lib64/libc.so.6: version `GLIBC_2.28' not found (required by /var/task/bootstrap)",
        );
        let b = loader(
            "/var/task/bootstrap: /usr/lib64/libc.so.6: version `GLIBC_2.38' not found (required by /var/task/bootstrap)",
        );
        assert_ne!(a, b);
        assert_eq!(a, "version GLIBC_2.28 not found, required by bootstrap");
        assert_ne!(
            coreclr("Failed to initialize CoreCLR, HRESULT: 0x80004005"),
            coreclr("Failed to initialize CoreCLR, HRESULT: 0x80131500")
        );
    }
}

//! Failures printed by what starts a runtime rather than by the runtime:
//! the dynamic loader refusing a binary built against a newer glibc (a Rust
//! or Go bootstrap, a Python C extension, an extension), and the .NET host
//! failing to start CoreCLR. They carry no level and no exception type, so
//! faultline names a kind for each.

use super::lines::first_line;
use super::occurrence::{Fields, occurrence};
use crate::model::{Level, Occurrence};

/// The kind given to the dynamic loader's failures.
pub(crate) const LOADER_KIND: &str = "LoaderError";
/// The kind given to the .NET host's start-up failures.
pub(crate) const CORECLR_KIND: &str = "CoreCLRInitError";

/// ``<binary>: <library>: version `GLIBC_2.28' not found (required by ...)``
/// and `<binary>: error while loading shared libraries: libssl.so.3: cannot
/// open shared object file`.
pub(crate) fn loader_failure(message: &str) -> Option<Occurrence> {
    let first = first_line(message);
    let found = (first.contains(": version `") && first.contains("' not found"))
        || first.contains(": error while loading shared libraries: ");
    found.then(|| {
        occurrence(
            LOADER_KIND,
            first,
            Vec::new(),
            Level::Fatal,
            "loader-text",
            Fields::default(),
        )
    })
}

/// `Failed to initialize CoreCLR, HRESULT: 0x80004005`.
pub(crate) fn coreclr_failure(message: &str) -> Option<Occurrence> {
    let first = first_line(message);
    first.starts_with("Failed to initialize CoreCLR").then(|| {
        occurrence(
            CORECLR_KIND,
            first,
            Vec::new(),
            Level::Fatal,
            "dotnet-host-text",
            Fields::default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;

    #[test]
    fn loader_and_host_failures_without_a_level() {
        let o = extract("/var/task/bootstrap: /lib64/libc.so.6: version `GLIBC_2.28' not found (required by /var/task/bootstrap)\n").unwrap();
        assert_eq!(o.kind, super::LOADER_KIND);
        let o = extract("Failed to initialize CoreCLR, HRESULT: 0x80004005").unwrap();
        assert_eq!(o.kind, super::CORECLR_KIND);
        assert_eq!(extract("loaded version `2' of the schema"), None);
    }
}

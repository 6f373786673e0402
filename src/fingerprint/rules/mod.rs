//! Runtime failures whose message names the thing to fix.
//!
//! When an error has no frame of the app's own code, its message decides
//! the issue, and the generic masking ([`super::mask`]) treats a quoted
//! single word as data. In the failures below the quoted word is code: the
//! module that is missing (`No module named 'requests'` and `No module named
//! 'numpy.core._multiarray_umath'` are two bugs), the handler that is not
//! exported, the class that cannot be loaded, the binary that cannot run,
//! the glibc version a binary needs. Each runtime's rules live in its file
//! and say what they keep and what they drop (the handler module a function
//! is configured with differs per deploy and is dropped when the failure is
//! about something else).
//!
//! A rule is chosen by the error's type (its last dotted component), so a
//! message of another type that happens to use the same words is not
//! touched, and `fingerprint --every-line` (no type) never pays for them.

mod java;
mod native;
mod node;
mod python;

/// Which rule read a failure, for `fingerprint --explain`.
pub type RuleName = &'static str;

/// The identity of a runtime failure of type `kind` (its simple name): a
/// normalised kind and the words that name what to fix, or `None` when no
/// rule applies and the masked message decides.
pub fn identity(kind: &str, message: &str) -> Option<(RuleName, &'static str, String)> {
    match kind {
        "ImportModuleError" => python::import_failure(message)
            .map(|i| ("python-import", "ImportModuleError", i))
            .or_else(|| {
                node::missing_module(message).map(|i| ("node-module", "ImportModuleError", i))
            }),
        "HandlerNotFound" => python::missing_handler(message)
            .or_else(|| node::missing_handler(message))
            .map(|i| ("handler", "HandlerNotFound", i)),
        "UserCodeSyntaxError" => {
            python::syntax_error(message).map(|i| ("syntax", "UserCodeSyntaxError", i))
        }
        "Error" => node::missing_module(message)
            .map(|i| ("node-module", "Error", i))
            .or_else(|| node::require_esm(message).map(|i| ("node-esm", "Error", i))),
        "ClassNotFoundException" | "NoClassDefFoundError" => {
            java::missing_class(message).map(|i| ("java-class", "ClassNotFound", i))
        }
        "LoaderError" => Some(("loader", "LoaderError", native::loader(message))),
        "CoreCLRInitError" => native::coreclr(message).map(|i| ("coreclr", "CoreCLRInitError", i)),
        _ => None,
    }
    .or_else(|| native::exec(message).map(|i| ("exec", "exec", i)))
}

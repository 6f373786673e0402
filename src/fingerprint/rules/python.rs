//! Python runtime failures (all Lambda Python runtimes, 2.7 to 3.13).

use super::native;
use crate::fingerprint::mask::template;

/// `Unable to import module '<handler module>': <cause>`: the cause is the
/// bug. The handler module is the function's configuration, the same for
/// every occurrence of one function, and differs between deploys of the
/// same broken package (`'lambda_function'`, `'main'`, a wrapper's module).
///
/// - `No module named requests` (2.7) and `No module named 'requests'` (3.x)
///   are one missing module, named in the identity;
/// - `cannot import name 'x'` names what is missing inside a package;
/// - numpy and pandas wrap the real error in advice text and end with
///   `Original error was: <cause>`, and wrappers such as the New Relic layer
///   put `Failed to import module 'lambda_function': ` before it: the
///   innermost cause is taken;
/// - a loader failure keeps the glibc version it needs
///   ([`native::loader`]); any other cause is masked as usual.
pub(super) fn import_failure(message: &str) -> Option<String> {
    let rest = message
        .trim_start()
        .strip_prefix("Unable to import module '")?;
    let (_, cause) = rest.split_once("':")?;
    let mut cause = cause.trim_start();
    if let Some(i) = cause.rfind("Original error was: ") {
        cause = &cause[i + "Original error was: ".len()..];
    }
    while let Some(inner) = cause
        .strip_prefix("Failed to import module '")
        .and_then(|r| r.split_once("':"))
    {
        cause = inner.1.trim_start();
    }
    let first = cause
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    Some(cause_identity(first))
}

fn cause_identity(cause: &str) -> String {
    if let Some(module) = cause.strip_prefix("No module named ") {
        return format!("No module named {}", unquote(first_word(module)));
    }
    if let Some(name) = cause.strip_prefix("cannot import name ") {
        return format!("cannot import name {}", unquote(first_word(name)));
    }
    if native::is_loader_message(cause) {
        return native::loader(cause);
    }
    template(cause)
}

/// `Handler 'foo' missing on module 'lambda_function'` (with 2.7's
/// `: 'module' object has no attribute 'foo'` after it): the handler the
/// function is configured with is exactly what is wrong, so both names are
/// kept.
pub(super) fn missing_handler(message: &str) -> Option<String> {
    let rest = message.trim_start().strip_prefix("Handler '")?;
    let (handler, rest) = rest.split_once("' missing on module '")?;
    let module = rest.split('\'').next()?;
    Some(format!("handler {handler} missing on module {module}"))
}

/// `Syntax error in module 'index': invalid syntax (index.py, line 22)`:
/// the module keeps its name, the position is masked.
pub(super) fn syntax_error(message: &str) -> Option<String> {
    let rest = message
        .trim_start()
        .strip_prefix("Syntax error in module '")?;
    let (module, detail) = rest.split_once("':")?;
    Some(format!(
        "syntax error in module {module}:{}",
        template(detail)
    ))
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '\'' || c == '"' || c == '`')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// py-import-missing-requests and its look-alikes in the real corpus.
    #[test]
    fn the_missing_module_names_the_bug_not_the_handler_module() {
        let id = |m: &str| import_failure(m).unwrap();
        let requests =
            id("Unable to import module 'start_execution_manager': No module named 'requests'");
        assert_eq!(
            requests,
            id("Unable to import module 'process_cert_manager_mail': No module named requests")
        );
        assert_eq!(requests, "No module named requests");
        assert_ne!(
            requests,
            id("Unable to import module 'lambda_function': No module named request")
        );
        assert_ne!(
            requests,
            id("Unable to import module 'lambda_function': No module named 'numpy'")
        );
        assert_eq!(
            id(
                "Unable to import module 'lambda_function': \n\nIMPORTANT: PLEASE READ THIS\n\nOriginal error was: No module named 'numpy.core._multiarray_umath'\n\n\n"
            ),
            "No module named numpy.core._multiarray_umath"
        );
        assert_eq!(
            id("Unable to import module 'main': cannot import name six"),
            "cannot import name six"
        );
    }

    #[test]
    fn a_missing_handler_keeps_its_names() {
        let a = missing_handler("Handler 'lambda_handler' missing on module 'lambda_function'")
            .unwrap();
        let b = missing_handler("Handler 'foo' missing on module 'lambda_function'").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            missing_handler("Handler 'handler' missing on module 'index': 'module' object has no attribute 'handler'").unwrap(),
            "handler handler missing on module index"
        );
    }
}

//! Node.js runtime failures.

use crate::fingerprint::frames::normalize_path;

/// `Cannot find module 'aws-sdk'` (with `Error: ` before it and the
/// `Require stack:` after it): the module is the bug. The require stack
/// lists the files that asked for it, which differ between the handler
/// file, a layer's library and the runtime build.
pub(super) fn missing_module(message: &str) -> Option<String> {
    let at = message.find("Cannot find module '")?;
    let rest = &message[at + "Cannot find module '".len()..];
    let module = rest.split('\'').next()?;
    Some(format!("Cannot find module {module}"))
}

/// `index.handler is undefined or not exported`: the configured handler is
/// what is wrong, kept whole.
pub(super) fn missing_handler(message: &str) -> Option<String> {
    let first = message.lines().next()?.trim();
    first
        .ends_with(" is undefined or not exported")
        .then(|| first.to_string())
}

/// `require() of ES Module <module> from <file> not supported`: which
/// module, required from where, each without its deploy directory.
pub(super) fn require_esm(message: &str) -> Option<String> {
    let rest = message.strip_prefix("require() of ES Module ")?;
    let (module, rest) = rest.split_once(" from ")?;
    let from = rest.split(" not supported").next()?;
    Some(format!(
        "require() of ES Module {} from {}",
        normalize_path(module),
        normalize_path(from)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// node-missing-aws-sdk-v2 in the real corpus: six pastes, three
    /// runtime builds, one required from a layer.
    #[test]
    fn the_missing_module_names_the_bug_not_the_require_stack() {
        let a = missing_module("Error: Cannot find module 'aws-sdk'\nRequire stack:\n- /var/task/index.js\n- /var/runtime/index.mjs").unwrap();
        let b = missing_module("Error: Cannot find module 'aws-sdk'\nRequire stack:\n- /opt/nodejs/node_modules/data-api-client/index.js\n- /var/task/index.js").unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            missing_module("Error: Cannot find module 'aws-sdk/lib/config_service_placeholders'")
                .unwrap()
        );
    }
}

//! Java runtime failures.

/// A handler class that cannot be loaded: `Class not found: example.Hello`,
/// `example.Hello. Current classpath: file:/var/task/` (java11), or
/// `Error loading class A: com/blah/B` whose `NoClassDefFoundError` names
/// the class that is missing. The class is the bug, in dotted form.
pub(super) fn missing_class(message: &str) -> Option<String> {
    let first = message.lines().next()?.trim();
    let class = if let Some(rest) = first.strip_prefix("Class not found: ") {
        rest
    } else if let Some(rest) = first.strip_prefix("Error loading class ") {
        rest.rsplit_once(": ").map_or(rest, |(_, missing)| missing)
    } else {
        first
    };
    let class = class.split(". Current classpath").next().unwrap_or(class);
    let class = class.split_whitespace().next()?;
    Some(format!("class {}", class.replace('/', ".")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_names_the_bug_in_every_wording() {
        let hello = missing_class("Class not found: example.Hello").unwrap();
        assert_eq!(hello, missing_class("example.Hello").unwrap());
        assert_eq!(
            missing_class("native.handler. Current classpath: file:/var/task/").unwrap(),
            "class native.handler"
        );
        assert_eq!(
            missing_class(
                "Error loading class com.blah.LambdaHandler: com/blah/DynamoDBInsertHandler"
            )
            .unwrap(),
            "class com.blah.DynamoDBInsertHandler"
        );
        assert_ne!(
            hello,
            missing_class("Class not found: com.unicorn.store.StreamLambdaHandler").unwrap()
        );
    }
}

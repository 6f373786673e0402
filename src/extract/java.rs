//! Java on Lambda: the runtime's uncaught-exception formats.
//!
//! In the text format the runtime writes a summary line `message: Type`
//! and then the printed trace (read by `at_trace`, which skips the summary
//! since its type comes last); in the JSON format the same text is the
//! `message` of a record carrying `AWSRequestId`. The JSON a failed Java
//! function returns (in a Step Functions cause) is
//! `{errorMessage, errorType, stackTrace: ["pkg.Class.method(File.java:12)"]}`.

use serde_json::{Map, Value};

/// The Lambda Java runtime's JSON log format.
pub(crate) fn is_lambda_json(obj: &Map<String, Value>) -> bool {
    obj.contains_key("AWSRequestId")
}

#[cfg(test)]
mod tests {
    use crate::extract::extract;
    use crate::model::Occurrence;

    fn field<'a>(o: &'a Occurrence, key: &str) -> Option<&'a str> {
        o.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn java_json_message_holds_the_trace() {
        let o = extract(r#"{"timestamp":"2024-05-01T10:00:00.000Z","message":"index 3: java.lang.ArrayIndexOutOfBoundsException\njava.lang.ArrayIndexOutOfBoundsException: index 3\n\tat com.acme.Rows.get(Rows.java:14)\n","level":"ERROR","AWSRequestId":"r-5"}"#).unwrap();
        assert_eq!(o.kind, "java.lang.ArrayIndexOutOfBoundsException");
        assert_eq!(o.message, "index 3");
        assert_eq!(o.shape, "java-json");
        assert_eq!(field(&o, "AWSRequestId"), Some("r-5"));
    }
}

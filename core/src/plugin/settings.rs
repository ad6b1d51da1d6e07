//! A plugin's settings: the JSON Schema its manifest declares, and the values the tenant's admin
//! saves, which must satisfy it. The schema is the plugin's, so it is hostile input: bounded in
//! size, its patterns matched by a linear-time engine, nothing fetched for a `$ref`.

use jsonschema::{PatternOptions, Validator};
use serde_json::{Map, Value};

/// The largest schema a manifest may declare.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;
/// The largest settings document an admin may save.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// The problems reported for one refused document; the rest are counted.
const MAX_PROBLEMS: usize = 10;
/// One problem's text at most (the validator repeats the refused value in it).
const MAX_PROBLEM_CHARS: usize = 200;
/// A compiled pattern's size: enough for any real rule, not for a memory bomb.
const MAX_PATTERN_BYTES: usize = 1024 * 1024;

/// A schema the settings are checked against.
pub struct SettingsSchema {
    schema: Map<String, Value>,
    validator: Validator,
}

impl std::fmt::Debug for SettingsSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettingsSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl SettingsSchema {
    /// A schema a plugin declared: JSON, an object schema (settings are an object), and one the
    /// validator can compile without fetching anything.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_SCHEMA_BYTES {
            return Err(format!("{} bytes; at most {MAX_SCHEMA_BYTES}", text.len()));
        }
        let schema: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("not a JSON object: {e}"))?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err("the schema must describe an object (\"type\": \"object\")".into());
        }
        let validator = jsonschema::options()
            .with_pattern_options(PatternOptions::regex().size_limit(MAX_PATTERN_BYTES))
            .build(&Value::Object(schema.clone()))
            .map_err(|e| format!("not a usable JSON Schema: {e}"))?;
        Ok(Self { schema, validator })
    }

    /// The settings before an admin saved any: each top-level property's `default`.
    pub fn defaults(&self) -> Value {
        let defaults = self
            .schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| {
                properties
                    .iter()
                    .filter_map(|(name, p)| Some((name.clone(), p.get("default")?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(defaults)
    }

    /// Whether `settings` satisfy the schema; if not, what is wrong, each problem named by
    /// where it is (`/hours/opens: …`).
    pub fn check(&self, settings: &Value) -> Result<(), String> {
        let mut problems = self.validator.iter_errors(settings).map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            let text = e.to_string();
            match text.char_indices().nth(MAX_PROBLEM_CHARS) {
                Some((cut, _)) => format!("{at}: {}…", &text[..cut]),
                None => format!("{at}: {text}"),
            }
        });
        let shown: Vec<String> = problems.by_ref().take(MAX_PROBLEMS).collect();
        if shown.is_empty() {
            return Ok(());
        }
        let more = problems.count();
        let mut message = shown.join("; ");
        if more > 0 {
            message.push_str(&format!("; and {more} more"));
        }
        Err(message)
    }
}

/// A settings document as an admin sent it: JSON, an object, within the size limit.
pub fn parse_settings(text: &str) -> Result<Value, String> {
    if text.len() > MAX_SETTINGS_BYTES {
        return Err(format!(
            "{} bytes; at most {MAX_SETTINGS_BYTES}",
            text.len()
        ));
    }
    match serde_json::from_str(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err("the settings must be a JSON object".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOURS: &str = r#"{
        "type": "object",
        "properties": {
            "time_zone": {"type": "string", "default": "Europe/Moscow"},
            "opens": {"type": "integer", "minimum": 0, "maximum": 23, "default": 9},
            "closes": {"type": "integer", "minimum": 1, "maximum": 24, "default": 18},
            "note": {"type": "string", "pattern": "^[a-z ]*$"}
        },
        "required": ["time_zone", "opens", "closes"],
        "additionalProperties": false
    }"#;

    #[test]
    fn defaults_come_from_the_top_level_properties() {
        let schema = SettingsSchema::parse(HOURS).unwrap();
        let defaults = schema.defaults();
        assert_eq!(
            defaults,
            json!({"time_zone": "Europe/Moscow", "opens": 9, "closes": 18})
        );
        assert_eq!(schema.check(&defaults), Ok(()));
    }

    #[test]
    fn refused_settings_name_each_problem_by_its_place() {
        let schema = SettingsSchema::parse(HOURS).unwrap();
        let problem = schema
            .check(&json!({"time_zone": 3, "opens": 30, "closes": 18, "extra": true}))
            .unwrap_err();
        assert!(problem.contains("/time_zone: "), "{problem}");
        assert!(problem.contains("/opens: "), "{problem}");
        assert!(problem.contains("extra"), "{problem}");
    }

    #[test]
    fn a_schema_must_be_an_object_schema_that_compiles_without_fetching() {
        assert!(SettingsSchema::parse("[]").is_err());
        assert!(SettingsSchema::parse(r#"{"type": "string"}"#).is_err());
        assert!(SettingsSchema::parse(r#"{"type": "object", "minProperties": "x"}"#).is_err());
        let remote =
            r#"{"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}"#;
        assert!(SettingsSchema::parse(remote).is_err());
        let huge = format!(
            r#"{{"type": "object", "description": "{}"}}"#,
            "x".repeat(MAX_SCHEMA_BYTES)
        );
        assert!(
            SettingsSchema::parse(&huge)
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn a_refusal_does_not_repeat_a_long_value_whole() {
        let schema = SettingsSchema::parse(HOURS).unwrap();
        let long = "Z".repeat(5_000);
        let problem = schema
            .check(&json!({"time_zone": "x", "opens": 9, "closes": 18, "note": long}))
            .unwrap_err();
        assert!(problem.starts_with("/note: "), "{problem}");
        assert!(
            problem.chars().count() < 300,
            "{} chars",
            problem.chars().count()
        );
    }

    #[test]
    fn settings_are_a_bounded_json_object() {
        assert!(parse_settings("{}").is_ok());
        assert!(parse_settings("[1]").is_err());
        assert!(parse_settings("{").is_err());
        let big = format!(r#"{{"a": "{}"}}"#, "x".repeat(MAX_SETTINGS_BYTES));
        assert!(parse_settings(&big).is_err());
    }
}

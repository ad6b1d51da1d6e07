//! What a change did, as the trail keeps it: only the fields that differ, before and after,
//! with secrets redacted and long texts cut so that an entry stays small.

use serde::Serialize;
use serde_json::{Map, Value};

/// What a secret's value reads as in the trail.
pub const REDACTED: &str = "[redacted]";

/// Texts longer than this are cut in the trail (a template can be 64 KB).
const MAX_TEXT_CHARS: usize = 2_000;

/// Words that make a key's value a secret wherever it appears (plugin settings name their own
/// keys, so the net is wide: over-redacting a harmless field costs less than keeping a key).
const SECRET_WORDS: [&str; 15] = [
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "bearer",
    "dsn",
    "cookie",
    "session",
    "signature",
    "hmac",
    "private",
];

/// The changed fields of something, before and after.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Change {
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    /// Nothing to show but that it happened (a secret rotated).
    pub fn bare() -> Self {
        Self::default()
    }

    /// Something new, with these fields.
    pub fn created(after: &impl Serialize) -> Self {
        Self {
            before: None,
            after: Some(kept(to_value(after))),
        }
    }

    /// Something gone, which had these fields.
    pub fn removed(before: &impl Serialize) -> Self {
        Self {
            before: Some(kept(to_value(before))),
            after: None,
        }
    }

    /// The fields that differ between `before` and `after` (nested objects field by field).
    pub fn between(before: &impl Serialize, after: &impl Serialize) -> Self {
        Self::between_values(to_value(before), to_value(after))
    }

    pub fn between_values(before: Value, after: Value) -> Self {
        match difference(before, after) {
            None => Self::default(),
            Some((before, after)) => Self {
                before: Some(kept(before)),
                after: Some(kept(after)),
            },
        }
    }

    /// With the URLs in `field` reduced to their hosts (see [`hide_url_paths`]); after the
    /// comparison, so that a changed path still shows as a change.
    pub fn with_urls_hidden_in(mut self, field: &str) -> Self {
        for side in [&mut self.before, &mut self.after].into_iter().flatten() {
            if let Some(value) = side.get_mut(field) {
                hide_url_paths(value);
            }
        }
        self
    }

    /// With the values of `fields` under `parent` redacted (a plugin's settings its schema marks
    /// secret); after the comparison, so that a changed secret still shows as a change.
    pub fn with_fields_hidden(mut self, parent: &str, fields: &[String]) -> Self {
        for side in [&mut self.before, &mut self.after].into_iter().flatten() {
            if let Some(Value::Object(values)) = side.get_mut(parent) {
                for field in fields {
                    if let Some(value) = values.get_mut(field)
                        && !value.is_null()
                    {
                        *value = Value::String(REDACTED.into());
                    }
                }
            }
        }
        self
    }

    /// With every URL reduced to its host.
    pub fn with_urls_hidden(mut self) -> Self {
        for side in [&mut self.before, &mut self.after].into_iter().flatten() {
            hide_url_paths(side);
        }
        self
    }

    /// Whether nothing differs: such a save is not recorded.
    pub fn is_empty(&self) -> bool {
        self.before.is_none() && self.after.is_none()
    }
}

fn to_value(value: &impl Serialize) -> Value {
    // Only the domain's own types are recorded; they always serialize.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The differing parts of two values; none when they are equal. Objects are compared key by
/// key (a key on one side only shows as null on the other); anything else as a whole.
fn difference(before: Value, after: Value) -> Option<(Value, Value)> {
    if before == after {
        return None;
    }
    match (before, after) {
        (Value::Object(mut before), Value::Object(mut after)) => {
            let mut keys: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
            keys.sort();
            keys.dedup();
            let (mut was, mut is) = (Map::new(), Map::new());
            for key in keys {
                let old = before.remove(&key).unwrap_or(Value::Null);
                let new = after.remove(&key).unwrap_or(Value::Null);
                if let Some((old, new)) = difference(old, new) {
                    was.insert(key.clone(), old);
                    is.insert(key, new);
                }
            }
            Some((Value::Object(was), Value::Object(is)))
        }
        (before, after) => Some((before, after)),
    }
}

/// What the trail keeps of a value: secrets redacted, long texts cut.
fn kept(mut value: Value) -> Value {
    redact(&mut value, false);
    value
}

fn redact(value: &mut Value, secret: bool) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                redact(field, secret || is_secret_key(key));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, secret)),
        Value::Null => {}
        _ if secret => *value = Value::String(REDACTED.into()),
        Value::String(text) => {
            strip_credentials(text);
            cut(text);
        }
        _ => {}
    }
}

/// Removes the `user:password@` of every `scheme://user:password@host` in the text.
fn strip_credentials(text: &mut String) {
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let start = from + found + 3;
        let end = text[start..]
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace())
            .map_or(text.len(), |i| start + i);
        if let Some(at) = text[start..end].rfind('@') {
            text.replace_range(start..start + at + 1, "");
        }
        from = start;
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| key.contains(word))
}

fn cut(text: &mut String) {
    if let Some((at, _)) = text.char_indices().nth(MAX_TEXT_CHARS) {
        let rest = text[at..].chars().count();
        text.truncate(at);
        text.push_str(&format!("… ({rest} more characters)"));
    }
}

/// Hides the path, query and credentials of every URL in `value`: a webhook's URL is often
/// its secret (Slack's, a plugin's endpoint), while its host says which one it is.
fn hide_url_paths(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Some(shown) = url_host(text) {
                *text = shown;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_url_paths),
        Value::Object(fields) => fields.values_mut().for_each(hide_url_paths),
        _ => {}
    }
}

fn url_host(text: &str) -> Option<String> {
    let (scheme, rest) = text.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let hidden = (rest.len() > end && &rest[end..] != "/") || host.len() != authority.len();
    Some(if hidden {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_what_differs_is_kept() {
        let change = Change::between_values(
            json!({"a": 1, "b": {"c": true, "d": "x"}, "e": [1, 2], "gone": 5}),
            json!({"a": 1, "b": {"c": false, "d": "x"}, "e": [1, 2], "new": 6}),
        );
        assert_eq!(
            change.before,
            Some(json!({"b": {"c": true}, "gone": 5, "new": null}))
        );
        assert_eq!(
            change.after,
            Some(json!({"b": {"c": false}, "gone": null, "new": 6}))
        );
        assert!(Change::between_values(json!({"a": 1}), json!({"a": 1})).is_empty());
    }

    #[test]
    fn secrets_are_redacted_but_their_change_shows() {
        let change = Change::between_values(
            json!({"bot_token": "123:abc", "login": {"password": "hunter2"}, "name": "x"}),
            json!({"bot_token": "456:def", "login": {"password": "hunter3"}, "name": "x"}),
        );
        assert_eq!(
            change.after,
            Some(json!({"bot_token": REDACTED, "login": {"password": REDACTED}}))
        );
        let created = Change::created(
            &json!({"api_key": ["k1", "k2"], "Secret": null, "Authorization": "Bearer x", "x-api-key": "k"}),
        );
        assert_eq!(
            created.after,
            Some(
                json!({"api_key": [REDACTED, REDACTED], "Secret": null, "Authorization": REDACTED, "x-api-key": REDACTED})
            )
        );
    }

    #[test]
    fn credentials_in_any_url_are_dropped() {
        let created = Change::created(&json!({
            "relay": "smtp://user:pw@mail.example:25",
            "note": "use redis://:hunter2@cache:6379/0 or postgres://u:p@db/x",
            "plain": "a@b.example",
        }));
        assert_eq!(
            created.after,
            Some(json!({
                "relay": "smtp://mail.example:25",
                "note": "use redis://cache:6379/0 or postgres://db/x",
                "plain": "a@b.example",
            }))
        );
        let hidden = Change::between_values(
            json!({"settings": {"pin": "1234", "tz": "UTC"}}),
            json!({"settings": {"pin": "4321", "tz": "UTC"}}),
        )
        .with_fields_hidden("settings", &["pin".to_owned()]);
        assert_eq!(hidden.after, Some(json!({"settings": {"pin": REDACTED}})));
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "é".repeat(MAX_TEXT_CHARS + 5);
        let created = Change::created(&json!({ "html": long }));
        let html = created.after.unwrap()["html"].as_str().unwrap().to_owned();
        assert!(html.ends_with("… (5 more characters)"), "{html}");
        assert_eq!(html.chars().filter(|c| *c == 'é').count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn urls_keep_only_their_host() {
        let mut value = json!({
            "urls": ["https://hooks.slack.com/services/T0/B0/XYZ", "https://example.com",
                     "https://example.com/", "http://user:pw@example.com:8080?k=1"],
            "not": "ftp://example.com/x",
        });
        hide_url_paths(&mut value);
        assert_eq!(
            value,
            json!({
                "urls": ["https://hooks.slack.com/…", "https://example.com",
                         "https://example.com", "http://example.com:8080/…"],
                "not": "ftp://example.com/x",
            })
        );
    }
}

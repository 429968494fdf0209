//! One rule for text from outside, on both stores: no control characters
//! but tab and newline. PostgreSQL cannot store U+0000 at all (SQLite
//! can), so without this rule the same request would be kept by one store
//! and refused with a server error by the other; the other control
//! characters have no place in a description, a name or a purpose either,
//! and can hide text from whoever reads it later.

/// The stable code of the refusal.
pub const CODE: &str = "control-character";

/// What the refusal says.
pub const MESSAGE: &str =
    "text may not hold control characters (U+0000 to U+001F, U+007F to U+009F) other than tab and newline";

/// Whether `c` may not appear in text.
pub fn forbidden(c: char) -> bool {
    c.is_control() && c != '\t' && c != '\n'
}

/// Whether `text` holds a character it may not.
pub fn has_forbidden(text: &str) -> bool {
    text.chars().any(forbidden)
}

/// The path (`description`, `indicators[1]`, `properties.name`) of the first
/// string, or object key, in `value` that holds a character it may not.
pub fn first_forbidden(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        match value {
            serde_json::Value::String(s) if has_forbidden(s) => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if has_forbidden(k) {
                    Some(here)
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(value, "")
}

/// The 1-based line of the first forbidden character in a file sent as
/// text (CSV or GeoJSON), where carriage returns end lines as well.
pub fn first_forbidden_line(text: &str) -> Option<usize> {
    text.split('\n')
        .position(|line| line.trim_end_matches('\r').chars().any(forbidden))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tab_and_newline_are_text_and_nul_escape_and_delete_are_not() {
        assert!(!has_forbidden("Path unlit\tafter dusk\nby the bandstand"));
        for bad in ["a\u{0}b", "a\u{1b}[31mb", "a\u{7f}", "a\u{85}", "a\rb"] {
            assert!(has_forbidden(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_path_of_the_first_bad_string_is_named_however_deep() {
        let value = json!({"description": "fine", "grading": {"source": "ok"}, "indicators": ["ok", "x\u{0}"]});
        assert_eq!(first_forbidden(&value).as_deref(), Some("indicators[1]"));
        assert_eq!(
            first_forbidden(&json!({"a\u{0}": 1})).as_deref(),
            Some("a\u{0}")
        );
        assert_eq!(first_forbidden(&json!({"fine": ["yes", 2, null]})), None);
    }

    #[test]
    fn a_file_names_the_line_and_lets_crlf_endings_be() {
        assert_eq!(first_forbidden_line("a,b\r\nc,d\r\n"), None);
        assert_eq!(first_forbidden_line("a,b\r\nc,\u{0}d\r\n"), Some(2));
    }
}

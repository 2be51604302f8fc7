//! `list_users` filters in Cognito's syntax: `attribute = "value"` (exact) or
//! `attribute ^= "value"` (prefix), one attribute, quotes escaped with a backslash.

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::flow::state::UserRecord;

/// Attributes Cognito lets `list_users` search.
const SEARCHABLE: &[&str] = &[
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
];

/// A parsed filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    attribute: String,
    prefix: bool,
    value: String,
}

impl Filter {
    /// Parses `attr = "v"` or `attr ^= "v"`; an empty filter is `None`.
    pub(crate) fn parse(text: &str) -> Result<Option<Self>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() > 256 {
            return Err(Error::invalid("Filter must be at most 256 characters"));
        }
        let bad = || Error::invalid(r#"Filter must look like attribute = "value" or attribute ^= "value""#);
        let name_end = text.find(|c: char| c.is_whitespace() || c == '=' || c == '^').ok_or_else(bad)?;
        let attribute = &text[..name_end];
        let rest = text[name_end..].trim_start();
        let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
            (true, r)
        } else if let Some(r) = rest.strip_prefix('=') {
            (false, r)
        } else {
            return Err(bad());
        };
        let quoted = rest.trim();
        let inner = quoted.strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or_else(bad)?;
        let mut value = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.push(chars.next().ok_or_else(bad)?),
                '"' => return Err(bad()),
                c => value.push(c),
            }
        }
        if !SEARCHABLE.contains(&attribute) {
            return Err(Error::invalid(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Some(Self { attribute: attribute.to_owned(), prefix, value }))
    }

    fn test(&self, actual: &str, case_insensitive: bool) -> bool {
        let (a, v) = if case_insensitive {
            (actual.to_lowercase(), self.value.to_lowercase())
        } else {
            (actual.to_owned(), self.value.clone())
        };
        if self.prefix { a.starts_with(&v) } else { a == v }
    }

    /// Whether a user matches.
    pub(crate) fn matches(&self, settings: &Settings, user: &UserRecord) -> bool {
        let insensitive = !settings.raw.sign_in.case_sensitive;
        match self.attribute.as_str() {
            "username" => self.test(&user.username, insensitive),
            "sub" => self.test(&user.sub, false),
            "cognito:user_status" => self.test(user.status.as_str(), true),
            // Cognito's `status` is Enabled/Disabled; the account status names are accepted
            // too, since people reach for `status = "CONFIRMED"`.
            "status" => {
                let enabled = if user.enabled { "Enabled" } else { "Disabled" };
                self.test(enabled, false) || self.test(user.status.as_str(), true)
            }
            attr => user.attributes.get(attr).is_some_and(|v| self.test(v, insensitive && attr != "phone_number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cognito_syntax() {
        let f = Filter::parse(r#"email ^= "ali""#).unwrap().unwrap();
        assert_eq!(f, Filter { attribute: "email".into(), prefix: true, value: "ali".into() });
        let f = Filter::parse(r#"name="Say \"hi\"""#).unwrap().unwrap();
        assert_eq!(f.value, r#"Say "hi""#);
        assert!(!f.prefix);
        assert_eq!(Filter::parse("  ").unwrap(), None);
        for bad in [r#"email ~ "x""#, r#"email = x"#, r#"email = "x"#, r#"custom:tier = "x""#, r#"email = "a"b""#] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }
}

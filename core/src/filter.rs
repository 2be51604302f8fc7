//! `list_users` filters in Cognito's syntax: `attribute = "value"` (exact) or
//! `attribute ^= "value"` (prefix), one attribute, a quote or a backslash in the value escaped
//! with a backslash (any other backslash is itself).

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::flow::state::{UserRecord, UserStatus};
use crate::store::{SEARCH_ATTRIBUTES, UserSearch, fold_case, search_term};

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
        // Counted as given, as Cognito's `UserFilterType` is: padding is no way past it.
        if text.chars().count() > 256 {
            return Err(Error::invalid("Filter must be at most 256 characters"));
        }
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
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
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                // `"C:\temp"` is the path it shows; only `\"` and `\\` are escapes.
                '\\' => match chars.peek() {
                    Some('"' | '\\') => value.extend(chars.next()),
                    Some(_) => value.push('\\'),
                    None => return Err(bad()),
                },
                '"' => return Err(bad()),
                c => value.push(c),
            }
        }
        // Every attribute Cognito lets `list_users` search is indexed, but for `sub`, which
        // stores keep in order anyway.
        if attribute != "sub" && !SEARCH_ATTRIBUTES.contains(&attribute) {
            return Err(Error::invalid(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Some(Self { attribute: attribute.to_owned(), prefix, value }))
    }

    fn test(&self, actual: &str, case_insensitive: bool) -> bool {
        let (a, v) = if case_insensitive {
            (fold_case(actual).collect(), fold_case(&self.value).collect())
        } else {
            (actual.to_owned(), self.value.clone())
        };
        if self.prefix { a.starts_with(&v) } else { a == v }
    }

    /// The index search that finds every user this filter matches (and perhaps others, which
    /// [`Filter::matches`] then turns away), for the attributes stores index.
    pub(crate) fn search(&self) -> Option<UserSearch> {
        let prefix = self.prefix;
        if self.attribute == "sub" {
            return Some(UserSearch { attribute: "sub", term: self.value.clone(), prefix });
        }
        // Values that fold alike are cut alike, so a long value's term still equals the
        // term of a filter that matches it.
        let term = search_term(&self.value);
        if self.attribute == "status" {
            // `status` matches the word Enabled or Disabled (case-sensitively, so its terms
            // are the words as they are), or a status name (in any case): the terms of
            // `status` or of `cognito:user_status`. Only the empty prefix reaches both (and
            // everyone), so it walks the pool instead.
            let reaches = |word: &str, value: &str| if prefix { word.starts_with(value) } else { word == value };
            let enabled = ["Enabled", "Disabled"].into_iter().any(|w| reaches(w, &self.value));
            let named = UserStatus::ALL.iter().any(|s| reaches(&search_term(s.as_str()), &term));
            return match (enabled, named) {
                (true, true) => None,
                (false, true) => Some(UserSearch { attribute: "cognito:user_status", term, prefix }),
                (_, false) => Some(UserSearch { attribute: "status", term: self.value.clone(), prefix }),
            };
        }
        let attribute = *SEARCH_ATTRIBUTES.iter().find(|a| **a == self.attribute)?;
        Some(UserSearch { attribute, term, prefix })
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
        let f = Filter::parse(r#"name = "C:\temp \\ \"x\"""#).unwrap().unwrap();
        assert_eq!(f.value, r#"C:\temp \ "x""#, "a backslash escapes only a quote or a backslash");
        let padded = format!("{}email = \"a\"", " ".repeat(300));
        assert!(Filter::parse(&padded).is_err(), "the 256 characters are counted as given");
        assert!(Filter::parse(&" ".repeat(300)).is_err());
        for bad in [r#"email ~ "x""#, r#"email = x"#, r#"email = "x"#, r#"custom:tier = "x""#, r#"email = "a"b""#] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_filters_search_the_words_they_can_match() {
        let search =
            |text: &str| Filter::parse(text).unwrap().unwrap().search().map(|s| (s.attribute, s.term, s.prefix));
        assert_eq!(search(r#"status = "Disabled""#), Some(("status", "Disabled".into(), false)));
        assert_eq!(search(r#"status ^= "En""#), Some(("status", "En".into(), true)));
        assert_eq!(search(r#"status = "ENABLED""#), Some(("status", "ENABLED".into(), false)), "no word: nobody");
        assert_eq!(search(r#"status = "CONFIRMED""#), Some(("cognito:user_status", "confirmed".into(), false)));
        assert_eq!(search(r#"status ^= "force""#), Some(("cognito:user_status", "force".into(), true)));
        assert_eq!(search(r#"status = "nothing""#), Some(("status", "nothing".into(), false)), "nobody");
        assert_eq!(search(r#"status ^= """#), None, "reaches both words: everyone");
        assert_eq!(
            search(r#"cognito:user_status = "Reset_Required""#),
            Some(("cognito:user_status", "reset_required".into(), false))
        );
        assert_eq!(search(r#"sub ^= "AB-c""#), Some(("sub", "AB-c".into(), true)), "a sub as it is");
    }

    /// Whatever a filter matches, its index search finds: the terms keep prefixes and
    /// equalities, case-sensitive or not, across the letters whose case is tricky.
    mod search_finds_every_match {
        use proptest::prelude::*;

        use super::*;
        use crate::store::SEARCH_TERM_BYTES;

        /// Short texts, where coincidences are likely, and a few long enough to be cut.
        fn text() -> impl Strategy<Value = String> {
            let chars = proptest::sample::select(vec!['a', 'A', 'Σ', 'σ', 'ς', 'İ', 'i', 'ß', 'ẞ', 'K', '\u{10FFFF}']);
            prop_oneof![
                9 => proptest::collection::vec(chars.clone(), 0..12),
                1 => proptest::collection::vec(chars, 30..120),
            ]
            .prop_map(|chars| chars.into_iter().collect())
        }

        #[test]
        fn a_value_past_the_longest_term_has_the_term_of_the_filter_that_matches_it() {
            let value = format!("{}@example.com", "é".repeat(100));
            let f = Filter { attribute: "email".into(), prefix: false, value: value.to_uppercase() };
            let search = f.search().unwrap();
            assert!(f.test(&value, true));
            assert_eq!(search.term.len(), SEARCH_TERM_BYTES);
            assert_eq!(search_term(&value), search.term);
        }

        #[test]
        fn a_final_sigma_in_the_filter_finds_a_final_sigma_in_the_value() {
            let f = Filter { attribute: "name".into(), prefix: false, value: "ΟΔΥΣΣΕΥΣ".into() };
            assert!(f.test("Οδυσσευς", true));
            assert_eq!(f.search().unwrap().term, search_term("Οδυσσευς"));
        }

        /// `to_lowercase` makes a Σ that ends the filter a final ς, which no longer begins the
        /// word it is the start of.
        #[test]
        fn a_prefix_ending_in_a_capital_sigma_matches_the_word_it_begins() {
            let f = Filter { attribute: "given_name".into(), prefix: true, value: "ΟΔΥΣ".into() };
            assert!(f.test("ΟΔΥΣΣΕΑΣ", true));
            assert!(f.test("Οδυσσεας", true));
            assert!(!f.test("Οδυσσεας", false));
        }

        #[test]
        fn the_filter_limit_counts_characters() {
            let wide = format!("name ^= \"{}\"", "名".repeat(90));
            assert!(wide.len() > 256 && wide.chars().count() <= 256);
            assert!(Filter::parse(&wide).unwrap().is_some());
            assert!(Filter::parse(&format!("name ^= \"{}\"", "a".repeat(250))).is_err());
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

            #[test]
            fn for_any_value(value in text(), filter in text(), cut in 0usize..26, prefix: bool, insensitive: bool) {
                // Half the time the filter is a prefix of the value (all of it, at times), case
                // changed or not.
                let filter = if cut % 2 == 0 {
                    let start: String = value.chars().take(cut / 2 * (value.chars().count() + 1) / 12).collect();
                    if insensitive { start.to_uppercase() } else { start }
                } else {
                    filter
                };
                let f = Filter { attribute: "email".into(), prefix, value: filter };
                let search = f.search().unwrap();
                let term = search_term(&value);
                if f.test(&value, insensitive) {
                    let found = if search.prefix { term.starts_with(&search.term) } else { term == search.term };
                    prop_assert!(found, "{f:?} matches {value:?} but its search {search:?} misses {term:?}");
                }
            }
        }
    }
}

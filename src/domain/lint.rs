//! Free-text lint: observations are about places, so text that looks like
//! it identifies a person is flagged before saving. Identities belong in
//! the case system (WCCIS, Mosaic, police records), referenced by case
//! number.
//!
//! Deliberately simple patterns, tuned to flag rather than miss: the
//! recorder confirms or rewrites. No text is logged or stored by the lint.

use serde::Serialize;

use super::vocabulary::Label;

/// What kind of identifier a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentifierKind {
    /// A title followed by a name, or "named …"/"called …".
    Name,
    /// A UK phone number.
    PhoneNumber,
    /// An email address.
    EmailAddress,
    /// A date of birth, or a date next to "born"/"DOB".
    DateOfBirth,
    /// A house number with a full postcode.
    Address,
}

impl IdentifierKind {
    fn label(self) -> Label {
        match self {
            IdentifierKind::Name => Label {
                en: "This looks like a person's name.",
                cy: "Mae hwn yn edrych fel enw person.",
            },
            IdentifierKind::PhoneNumber => Label {
                en: "This looks like a phone number.",
                cy: "Mae hwn yn edrych fel rhif ffôn.",
            },
            IdentifierKind::EmailAddress => Label {
                en: "This looks like an email address.",
                cy: "Mae hwn yn edrych fel cyfeiriad e-bost.",
            },
            IdentifierKind::DateOfBirth => Label {
                en: "This looks like a date of birth.",
                cy: "Mae hwn yn edrych fel dyddiad geni.",
            },
            IdentifierKind::Address => Label {
                en: "This looks like a home address.",
                cy: "Mae hwn yn edrych fel cyfeiriad cartref.",
            },
        }
    }
}

/// Where identities belong instead, in both languages.
pub const WHERE_IDENTITIES_BELONG: Label = Label {
    en: "Observations describe places, not people. Record people in the case system (WCCIS, Mosaic or police records) and put its case number in case_reference.",
    cy: "Mae arsylwadau'n disgrifio lleoedd, nid pobl. Cofnodwch bobl yn y system achosion (WCCIS, Mosaic neu gofnodion yr heddlu) a rhowch rif yr achos yn case_reference.",
};

/// One flagged stretch of text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextWarning {
    /// The field it is in.
    pub field: String,
    /// What it looks like.
    pub kind: IdentifierKind,
    /// Start, in characters from the beginning of the field.
    pub start: usize,
    /// End (exclusive), in characters.
    pub end: usize,
    /// What it looks like, in English and Welsh.
    pub message: Label,
}

/// A word of the text with its character span.
struct Word<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

fn words(text: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (byte, char)
    let mut chars = 0;
    for (byte, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some((b, ch)) = start.take() {
                out.push(Word {
                    text: &text[b..byte],
                    start: ch,
                    end: chars,
                });
            }
        } else if start.is_none() {
            start = Some((byte, chars));
        }
        chars += 1;
    }
    if let Some((b, ch)) = start {
        out.push(Word {
            text: &text[b..],
            start: ch,
            end: chars,
        });
    }
    out
}

fn trim(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '@' && c != '+')
}

fn is_capitalised(word: &str) -> bool {
    let w = trim(word);
    let mut chars = w.chars();
    chars.next().is_some_and(char::is_uppercase)
        && chars.all(|c| c.is_lowercase() || c == '\'' || c == '-')
}

fn is_email(word: &str) -> bool {
    let w = trim(word);
    match w.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    }
}

/// A UK full postcode, e.g. NP20 1AB or CF10 3AT (outward and inward parts).
fn is_postcode(outward: &str, inward: &str) -> bool {
    let (o, i) = (
        trim(outward).to_ascii_uppercase(),
        trim(inward).to_ascii_uppercase(),
    );
    let ob = o.as_bytes();
    let ib = i.as_bytes();
    let outward_ok = (2..=4).contains(&ob.len())
        && ob[0].is_ascii_alphabetic()
        && ob.iter().all(u8::is_ascii_alphanumeric)
        && ob.iter().any(u8::is_ascii_digit);
    let inward_ok = ib.len() == 3
        && ib[0].is_ascii_digit()
        && ib[1].is_ascii_alphabetic()
        && ib[2].is_ascii_alphabetic();
    outward_ok && inward_ok
}

fn is_date(word: &str) -> bool {
    let parts: Vec<&str> = trim(word).split(['/', '.', '-']).collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[0].len() <= 2
        && parts[1].len() <= 2
        && (parts[2].len() == 2 || parts[2].len() == 4)
}

const TITLES: &[&str] = &["mr", "mrs", "ms", "miss", "mx", "dr"];
const NAMING: &[&str] = &["named", "called", "name", "aka", "nicknamed"];
const BIRTH: &[&str] = &["dob", "born", "d.o.b", "birthday"];

/// Flags likely personal identifiers in one field's text.
pub fn lint(field: &str, text: &str) -> Vec<TextWarning> {
    let ws = words(text);
    let mut out = Vec::new();
    let mut flag = |kind: IdentifierKind, start: usize, end: usize| {
        out.push(TextWarning {
            field: field.to_owned(),
            kind,
            start,
            end,
            message: kind.label(),
        });
    };
    for (i, w) in ws.iter().enumerate() {
        let bare = trim(w.text).to_lowercase();
        let next = ws.get(i + 1);
        if (TITLES.contains(&bare.as_str()) || NAMING.contains(&bare.as_str()))
            && next.is_some_and(|n| is_capitalised(n.text))
        {
            let mut end = next.map_or(w.end, |n| n.end);
            if let Some(after) = ws.get(i + 2).filter(|a| is_capitalised(a.text)) {
                end = after.end;
            }
            flag(IdentifierKind::Name, w.start, end);
        }
        if is_email(w.text) {
            flag(IdentifierKind::EmailAddress, w.start, w.end);
        }
        if is_date(w.text) {
            let near_birth = ws[i.saturating_sub(3)..i]
                .iter()
                .any(|p| BIRTH.contains(&trim(p.text).to_lowercase().as_str()));
            // A date with a four-digit year before 2015 is a child's or an
            // adult's birth date far more often than an event in a log of
            // recent observations.
            let old_year = trim(w.text)
                .rsplit(['/', '.', '-'])
                .next()
                .and_then(|y| y.parse::<u32>().ok())
                .is_some_and(|y| (1900..2015).contains(&y));
            if near_birth || old_year {
                flag(IdentifierKind::DateOfBirth, w.start, w.end);
            }
        }
        if let Some(n) = next {
            if is_postcode(w.text, n.text) {
                let numbered = ws[i.saturating_sub(6)..i].iter().any(|p| {
                    trim(p.text)
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit())
                });
                if numbered {
                    flag(IdentifierKind::Address, w.start, n.end);
                }
            }
        }
    }
    // Phone numbers: runs of digit groups adding up to 10 or 11 digits,
    // starting 0 or +44.
    let mut i = 0;
    while i < ws.len() {
        let first = trim(ws[i].text);
        if first.starts_with('0') || first.starts_with("+44") {
            let mut digits = 0;
            let mut j = i;
            while j < ws.len() {
                let t = trim(ws[j].text);
                if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || c == '+') {
                    break;
                }
                digits += t.chars().filter(char::is_ascii_digit).count();
                j += 1;
                if digits >= 10 {
                    break;
                }
            }
            if (10..=12).contains(&digits) {
                flag(IdentifierKind::PhoneNumber, ws[i].start, ws[j - 1].end);
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.sort_by_key(|w| w.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<IdentifierKind> {
        lint("description", text)
            .into_iter()
            .map(|w| w.kind)
            .collect()
    }

    #[test]
    fn place_descriptions_pass_without_warnings() {
        for text in [
            "Path unlit after dusk by the bandstand in Belle Vue Park",
            "Group gathers outside the takeaway on Commercial Street after 9pm; seen 12/11/2026",
            "Needles found behind 24 units at the retail park",
            "Staff at the Kingsway Centre trained in safeguarding",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", lint("d", text));
        }
    }

    #[test]
    fn identifiers_are_flagged_where_they_stand() {
        assert_eq!(kinds("Seen with Mr Jones again"), [IdentifierKind::Name]);
        assert_eq!(kinds("a boy called Tyler"), [IdentifierKind::Name]);
        assert_eq!(
            kinds("ring 07700 900123 if seen"),
            [IdentifierKind::PhoneNumber]
        );
        assert_eq!(kinds("call 01633 123456"), [IdentifierKind::PhoneNumber]);
        assert_eq!(
            kinds("email x.y@example.org"),
            [IdentifierKind::EmailAddress]
        );
        assert_eq!(kinds("DOB 03/04/2011"), [IdentifierKind::DateOfBirth]);
        assert_eq!(
            kinds("lives at 14 Station Road NP20 1AB"),
            [IdentifierKind::Address]
        );
        let w = &lint("description", "Seen with Mr Jones")[0];
        assert_eq!((w.start, w.end), (10, 18));
    }
}

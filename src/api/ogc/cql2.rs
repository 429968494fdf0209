//! CQL2 filters (OGC API – Features Part 3), in text and JSON: parsed into
//! one expression tree, checked against a collection's queryables, and
//! evaluated on features as the viewer is shown them (their properties and
//! shown geometry, after the index's box prefilter), so a filter can never
//! see more than the answer would show.
//!
//! The parser is a hand-written recursive descent, linear in its input;
//! length and nesting are bounded before it starts, so a hostile filter is
//! refused at once.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use geo::line_measures::{Distance, Euclidean};
use geo::{Geometry, Relate};
use serde_json::Value;

use crate::domain::time::parse_instant;

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 8 * 1024;
/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_DEPTH: usize = 24;
/// Most nodes one expression may have.
pub const MAX_NODES: usize = 1000;
/// Most positions in one geometry of a filter.
pub const MAX_VERTICES: usize = 500;
/// Longest `LIKE` pattern, in characters.
pub const MAX_PATTERN: usize = 200;

/// Why a filter was refused: what to tell the caller, and the property at
/// fault when it is an unknown one.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterError {
    /// What is wrong.
    pub message: String,
    /// The unknown property, if that is the fault.
    pub property: Option<String>,
}

fn fail<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        message: message.into(),
        property: None,
    })
}

/// A value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A feature's property (or `id`, or the geometry).
    Property(String),
    /// Text.
    Text(String),
    /// A number.
    Number(f64),
    /// True or false.
    Bool(bool),
    /// An instant or a day, as an interval of milliseconds (equal ends for
    /// an instant); `None` ends are open.
    Time(Option<i64>, Option<i64>),
    /// A geometry, CRS84.
    Geometry(Box<Geometry<f64>>),
    /// A geometry of the filter in British National Grid metres, made
    /// once when the filter is read (for `S_DWITHIN`).
    Metres(Box<Geometry<f64>>),
    /// No value.
    Null,
}

/// A CQL2 expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of these.
    And(Vec<Expr>),
    /// Any of these.
    Or(Vec<Expr>),
    /// Not this.
    Not(Box<Expr>),
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`.
    Compare(&'static str, Scalar, Scalar),
    /// `LIKE` with `%` and `_`.
    Like(Scalar, String),
    /// `BETWEEN low AND high`.
    Between(Scalar, Scalar, Scalar),
    /// `IN (…)`.
    In(Scalar, Vec<Scalar>),
    /// `IS NULL`.
    IsNull(Scalar),
    /// A spatial function (`s_intersects` …) of two geometries.
    Spatial(&'static str, Scalar, Scalar),
    /// `S_DWITHIN(a, b, distance, units)`, the distance in metres.
    DWithin(Scalar, Scalar, f64),
    /// A temporal function (`t_after` …) of two instants or intervals.
    Temporal(&'static str, Scalar, Scalar),
    /// A literal truth value.
    Literal(bool),
}

const SPATIAL: [&str; 8] = [
    "s_intersects",
    "s_equals",
    "s_disjoint",
    "s_touches",
    "s_within",
    "s_overlaps",
    "s_crosses",
    "s_contains",
];

const TEMPORAL: [&str; 15] = [
    "t_after",
    "t_before",
    "t_contains",
    "t_disjoint",
    "t_during",
    "t_equals",
    "t_finishedby",
    "t_finishes",
    "t_intersects",
    "t_meets",
    "t_metby",
    "t_overlappedby",
    "t_overlaps",
    "t_startedby",
    "t_starts",
];

/// Refuses input too long or too deeply nested to parse, before parsing.
fn bounded(text: &str) -> Result<(), FilterError> {
    if text.len() > MAX_FILTER_BYTES {
        return fail(format!("a filter is at most {MAX_FILTER_BYTES} bytes"));
    }
    // Quotes of one kind hide brackets (and the other kind) until the same
    // kind closes them; a doubled '' inside text closes and reopens.
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None::<char>);
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '(' | '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_DEPTH {
        return fail(format!("a filter nests at most {MAX_DEPTH} deep"));
    }
    Ok(())
}

/// Parses a filter in `lang` (`cql2-text` or `cql2-json`).
pub fn parse(text: &str, lang: &str) -> Result<Expr, FilterError> {
    bounded(text)?;
    let expr = match lang {
        "cql2-text" => Text::new(text)?.whole()?,
        "cql2-json" => {
            let value: Value =
                serde_json::from_str(text).or_else(|e| fail(format!("not JSON: {e}")))?;
            from_json(&value)?
        }
        other => {
            return fail(format!(
                "filter-lang `{other}` is not cql2-text or cql2-json"
            ))
        }
    };
    if nodes(&expr) > MAX_NODES {
        return fail(format!("a filter has at most {MAX_NODES} terms"));
    }
    prepare(expr)
}

/// Does once what evaluating would otherwise do for every feature: a
/// distance's literal geometry goes into metres.
fn prepare(e: Expr) -> Result<Expr, FilterError> {
    let metres = |s: Scalar| match s {
        Scalar::Geometry(g) => in_metres(&g)
            .map(|m| Scalar::Metres(Box::new(m)))
            .ok_or_else(|| FilterError {
                message: "S_DWITHIN's geometry lies outside the British National Grid's cover"
                    .into(),
                property: None,
            }),
        other => Ok(other),
    };
    Ok(match e {
        Expr::And(v) => Expr::And(v.into_iter().map(prepare).collect::<Result<_, _>>()?),
        Expr::Or(v) => Expr::Or(v.into_iter().map(prepare).collect::<Result<_, _>>()?),
        Expr::Not(e) => Expr::Not(Box::new(prepare(*e)?)),
        Expr::DWithin(a, b, d) => Expr::DWithin(metres(a)?, metres(b)?, d),
        other => other,
    })
}

fn nodes(e: &Expr) -> usize {
    match e {
        Expr::And(v) | Expr::Or(v) => 1 + v.iter().map(nodes).sum::<usize>(),
        Expr::Not(e) => 1 + nodes(e),
        Expr::In(_, v) => 2 + v.len(),
        _ => 1,
    }
}

// --------------------------------------------------------------- cql2-text

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Text(String),
    Number(f64),
    Symbol(&'static str),
}

struct Text {
    tokens: Vec<Token>,
    at: usize,
    /// How deep the parser is: bounded here too, whatever got past the
    /// count of brackets, so no input can exhaust the stack.
    depth: usize,
}

fn tokens(text: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return fail("a text literal is not closed"),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        s.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        s.push(c);
                        i += 1;
                    }
                }
            }
            out.push(Token::Text(s));
        } else if c == '"' {
            let end = chars[i + 1..]
                .iter()
                .position(|&c| c == '"')
                .ok_or_else(|| FilterError {
                    message: "a quoted property name is not closed".into(),
                    property: None,
                })?;
            out.push(Token::Quoted(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if c.is_ascii_digit()
            || (c == '-' || c == '.')
                && chars
                    .get(i + 1)
                    .is_some_and(|d| d.is_ascii_digit() || *d == '.')
        {
            let start = i;
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || matches!(chars[i], '.' | 'e' | 'E')
                    || (matches!(chars[i], '+' | '-') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let n = s
                .parse::<f64>()
                .or_else(|_| fail(format!("`{s}` is not a number")))?;
            out.push(Token::Number(n));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | ':' | '.'))
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = match two.as_str() {
                "<>" => Some("<>"),
                "<=" => Some("<="),
                ">=" => Some(">="),
                _ => None,
            };
            if let Some(s) = symbol {
                out.push(Token::Symbol(s));
                i += 2;
                continue;
            }
            let s = match c {
                '=' => "=",
                '<' => "<",
                '>' => ">",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                '-' => "-",
                _ => return fail(format!("unexpected `{c}`")),
            };
            out.push(Token::Symbol(s));
            i += 1;
        }
    }
    Ok(out)
}

impl Text {
    fn new(text: &str) -> Result<Text, FilterError> {
        Ok(Text {
            tokens: tokens(text)?,
            at: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    /// Whether the next token is the keyword `word` (any case); takes it if so.
    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn symbol(&mut self, s: &str) -> bool {
        if self.peek() == Some(&Token::Symbol(static_symbol(s))) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> Result<(), FilterError> {
        if self.symbol(s) {
            Ok(())
        } else {
            fail(format!("expected `{s}`"))
        }
    }

    fn whole(mut self) -> Result<Expr, FilterError> {
        let e = self.or()?;
        match self.peek() {
            None => Ok(e),
            Some(t) => fail(format!("unexpected {t:?} after the end of the filter")),
        }
    }

    /// Terms read by `part`, joined by the keyword `word` into `make`.
    fn joined(
        &mut self,
        word: &str,
        part: fn(&mut Self) -> Result<Expr, FilterError>,
        make: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        let mut parts = vec![part(self)?];
        while self.keyword(word) {
            parts.push(part(self)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            make(parts)
        })
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.joined("or", Self::and, Expr::Or)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        self.joined("and", Self::not, Expr::And)
    }

    /// A function's first two arguments, `(a, b`, and its close if it has
    /// no more.
    fn two_arguments(&mut self, more: bool) -> Result<(Scalar, Scalar), FilterError> {
        self.expect("(")?;
        let a = self.scalar()?;
        self.expect(",")?;
        let b = self.scalar()?;
        if !more {
            self.expect(")")?;
        }
        Ok((a, b))
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return fail(format!("a filter nests at most {MAX_DEPTH} deep"));
        }
        Ok(())
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        self.deeper()?;
        let e = if self.keyword("not") {
            Expr::Not(Box::new(self.not()?))
        } else {
            self.predicate()?
        };
        self.depth -= 1;
        Ok(e)
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        if self.symbol("(") {
            let e = self.or()?;
            self.expect(")")?;
            return Ok(e);
        }
        if let Some(Token::Word(w)) = self.peek() {
            let lower = w.to_ascii_lowercase();
            if let Some(f) = SPATIAL.iter().find(|f| **f == lower) {
                self.at += 1;
                let (a, b) = self.two_arguments(false)?;
                return Ok(Expr::Spatial(f, a, b));
            }
            if lower == "s_dwithin" {
                self.at += 1;
                let (a, b) = self.two_arguments(true)?;
                self.expect(",")?;
                let Some(Token::Number(d)) = self.next() else {
                    return fail("S_DWITHIN's third argument is a distance");
                };
                self.expect(",")?;
                let units = match self.next() {
                    Some(Token::Word(u)) | Some(Token::Text(u)) => u,
                    _ => return fail("S_DWITHIN's fourth argument is the units (meters)"),
                };
                self.expect(")")?;
                return Ok(Expr::DWithin(a, b, metres(d, &units)?));
            }
            if let Some(f) = TEMPORAL.iter().find(|f| **f == lower) {
                self.at += 1;
                let (a, b) = self.two_arguments(false)?;
                return Ok(Expr::Temporal(f, a, b));
            }
        }
        let left = self.scalar()?;
        let negated = self.keyword("not");
        let e = if self.keyword("like") {
            match self.next() {
                Some(Token::Text(p)) => Expr::Like(left, pattern(p)?),
                _ => return fail("LIKE takes a text pattern"),
            }
        } else if self.keyword("between") {
            let low = self.scalar()?;
            if !self.keyword("and") {
                return fail("BETWEEN low AND high");
            }
            let high = self.scalar()?;
            Expr::Between(left, low, high)
        } else if self.keyword("in") {
            self.expect("(")?;
            let mut list = vec![self.scalar()?];
            while self.symbol(",") {
                list.push(self.scalar()?);
            }
            self.expect(")")?;
            Expr::In(left, list)
        } else if !negated && self.keyword("is") {
            let not = self.keyword("not");
            if !self.keyword("null") {
                return fail("IS [NOT] NULL");
            }
            let e = Expr::IsNull(left);
            return Ok(if not { Expr::Not(Box::new(e)) } else { e });
        } else if negated {
            return fail("NOT here must be followed by LIKE, BETWEEN or IN");
        } else {
            let op = match self.next() {
                Some(Token::Symbol(s)) if matches!(s, "=" | "<>" | "<" | "<=" | ">" | ">=") => s,
                _ => return match left {
                    Scalar::Bool(b) => Ok(Expr::Literal(b)),
                    _ => fail(
                        "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN or IS NULL)",
                    ),
                },
            };
            Expr::Compare(op, left, self.scalar()?)
        };
        Ok(if negated { Expr::Not(Box::new(e)) } else { e })
    }

    fn scalar(&mut self) -> Result<Scalar, FilterError> {
        match self.next() {
            Some(Token::Text(s)) => Ok(Scalar::Text(s)),
            Some(Token::Number(n)) => Ok(Scalar::Number(n)),
            Some(Token::Symbol("-")) => match self.next() {
                Some(Token::Number(n)) => Ok(Scalar::Number(-n)),
                _ => fail("`-` must come before a number"),
            },
            Some(Token::Quoted(p)) => Ok(Scalar::Property(p)),
            Some(Token::Word(w)) => {
                let lower = w.to_ascii_lowercase();
                match lower.as_str() {
                    "true" => Ok(Scalar::Bool(true)),
                    "false" => Ok(Scalar::Bool(false)),
                    "null" => Ok(Scalar::Null),
                    "timestamp" | "date" => {
                        self.expect("(")?;
                        let Some(Token::Text(t)) = self.next() else {
                            return fail(format!("{w} takes a text literal"));
                        };
                        self.expect(")")?;
                        time(&t, lower == "date")
                    }
                    "interval" => {
                        self.expect("(")?;
                        let a = self.interval_end()?;
                        self.expect(",")?;
                        let b = self.interval_end()?;
                        self.expect(")")?;
                        Ok(Scalar::Time(a.0, b.1))
                    }
                    "bbox" => {
                        self.expect("(")?;
                        let mut n = vec![self.number()?];
                        while self.symbol(",") {
                            n.push(self.number()?);
                        }
                        self.expect(")")?;
                        bbox(&n)
                    }
                    "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
                    | "multipolygon" => self.wkt(&lower),
                    _ => Ok(Scalar::Property(w)),
                }
            }
            other => fail(format!("expected a value, found {other:?}")),
        }
    }

    fn interval_end(&mut self) -> Result<(Option<i64>, Option<i64>), FilterError> {
        match self.next() {
            Some(Token::Text(t)) if t == ".." => Ok((None, None)),
            Some(Token::Text(t)) => match time(&t, !t.contains('T'))? {
                Scalar::Time(a, b) => Ok((a, b)),
                _ => fail("not a time"),
            },
            _ => fail("INTERVAL takes two text literals ('..' for an open end)"),
        }
    }

    fn number(&mut self) -> Result<f64, FilterError> {
        match self.next() {
            Some(Token::Number(n)) => Ok(n),
            Some(Token::Symbol("-")) => match self.next() {
                Some(Token::Number(n)) => Ok(-n),
                _ => fail("expected a number"),
            },
            _ => fail("expected a number"),
        }
    }

    /// A WKT geometry, turned into the GeoJSON it stands for.
    fn wkt(&mut self, kind: &str) -> Result<Scalar, FilterError> {
        let coordinates = self.wkt_list()?;
        let kind = match kind {
            "point" => "Point",
            "linestring" => "LineString",
            "polygon" => "Polygon",
            "multipoint" => "MultiPoint",
            "multilinestring" => "MultiLineString",
            _ => "MultiPolygon",
        };
        // A point's and a multipoint's coordinates come as a list of
        // positions here; GeoJSON wants the point's alone.
        let coordinates = match (kind, coordinates) {
            ("Point", Value::Array(mut p)) if p.len() == 1 => p.remove(0),
            (_, c) => c,
        };
        geometry(&serde_json::json!({ "type": kind, "coordinates": coordinates }))
    }

    /// `( … )` of positions (numbers separated by spaces) or of nested lists.
    fn wkt_list(&mut self) -> Result<Value, FilterError> {
        self.deeper()?;
        self.expect("(")?;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(&Token::Symbol("(")) {
                items.push(self.wkt_list()?);
            } else {
                let mut position = vec![Value::from(self.number()?)];
                while matches!(
                    self.peek(),
                    Some(Token::Number(_)) | Some(Token::Symbol("-"))
                ) {
                    position.push(Value::from(self.number()?));
                }
                items.push(Value::Array(position));
            }
            if !self.symbol(",") {
                break;
            }
        }
        self.expect(")")?;
        self.depth -= 1;
        Ok(Value::Array(items))
    }
}

fn static_symbol(s: &str) -> &'static str {
    match s {
        "(" => "(",
        ")" => ")",
        "," => ",",
        "-" => "-",
        "=" => "=",
        _ => "",
    }
}

fn metres(d: f64, units: &str) -> Result<f64, FilterError> {
    match units.to_ascii_lowercase().as_str() {
        "meters" | "metres" | "meter" | "metre" | "m" => Ok(d),
        "kilometers" | "kilometres" | "km" => Ok(d * 1000.0),
        other => fail(format!(
            "S_DWITHIN's units are meters or kilometers, not `{other}`"
        )),
    }
}

fn time(text: &str, day: bool) -> Result<Scalar, FilterError> {
    if day {
        let d = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .or_else(|_| fail(format!("`{text}` is not a date (YYYY-MM-DD)")))?;
        let start = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis());
        let end = start.map(|s| s + 86_400_000 - 1);
        return Ok(Scalar::Time(start, end));
    }
    let t = parse_instant(text)
        .map(|t| t.timestamp_millis())
        .ok_or_else(|| FilterError {
            message: format!("`{text}` is not an RFC 3339 instant"),
            property: None,
        })?;
    Ok(Scalar::Time(Some(t), Some(t)))
}

fn bbox(n: &[f64]) -> Result<Scalar, FilterError> {
    let [x0, y0, x1, y1] = match n {
        [a, b, c, d] => [*a, *b, *c, *d],
        [a, b, _, d, e, _] => [*a, *b, *d, *e],
        _ => return fail("BBOX takes four (or six) numbers"),
    };
    let ring = serde_json::json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]);
    geometry(&serde_json::json!({ "type": "Polygon", "coordinates": [ring] }))
}

fn geometry(value: &Value) -> Result<Scalar, FilterError> {
    let g = geojson::Geometry::from_json_value(value.clone())
        .or_else(|e| fail(format!("not a geometry: {e}")))?;
    let g: Geometry<f64> = g
        .try_into()
        .or_else(|_| fail("not a geometry this service reads"))?;
    use geo::CoordsIter;
    if g.coords_count() > MAX_VERTICES {
        return fail(format!(
            "a filter's geometry has at most {MAX_VERTICES} positions"
        ));
    }
    Ok(Scalar::Geometry(Box::new(g)))
}

/// A `LIKE` pattern, bounded, with runs of `%` folded to one (they match
/// the same).
fn pattern(p: String) -> Result<String, FilterError> {
    if p.chars().count() > MAX_PATTERN {
        return fail(format!(
            "a LIKE pattern is at most {MAX_PATTERN} characters"
        ));
    }
    let mut folded = String::with_capacity(p.len());
    for c in p.chars() {
        if !(c == '%' && folded.ends_with('%')) {
            folded.push(c);
        }
    }
    Ok(folded)
}

// --------------------------------------------------------------- cql2-json

fn from_json(v: &Value) -> Result<Expr, FilterError> {
    match v {
        Value::Bool(b) => return Ok(Expr::Literal(*b)),
        Value::Object(_) => {}
        _ => return fail("a cql2-json filter is an object with op and args"),
    }
    let op = v["op"]
        .as_str()
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| FilterError {
            message: "a cql2-json expression needs op".into(),
            property: None,
        })?;
    let args = v["args"].as_array().cloned().unwrap_or_default();
    let arg = |i: usize| -> Result<Scalar, FilterError> {
        args.get(i)
            .map(json_scalar)
            .unwrap_or_else(|| fail(format!("`{op}` needs more arguments")))
    };
    Ok(match op.as_str() {
        "and" | "or" => {
            let parts = args.iter().map(from_json).collect::<Result<Vec<_>, _>>()?;
            if op == "and" {
                Expr::And(parts)
            } else {
                Expr::Or(parts)
            }
        }
        "not" => Expr::Not(Box::new(from_json(args.first().unwrap_or(&Value::Null))?)),
        "=" | "<>" | "<" | "<=" | ">" | ">=" => {
            let op = ["=", "<>", "<", "<=", ">", ">="]
                .into_iter()
                .find(|o| *o == op)
                .unwrap_or("=");
            Expr::Compare(op, arg(0)?, arg(1)?)
        }
        "like" => match arg(1)? {
            Scalar::Text(p) => Expr::Like(arg(0)?, pattern(p)?),
            _ => return fail("like takes a text pattern"),
        },
        "between" => Expr::Between(arg(0)?, arg(1)?, arg(2)?),
        "in" => {
            let list = args
                .get(1)
                .and_then(Value::as_array)
                .ok_or_else(|| FilterError {
                    message: "in takes a list".into(),
                    property: None,
                })?
                .iter()
                .map(json_scalar)
                .collect::<Result<Vec<_>, _>>()?;
            Expr::In(arg(0)?, list)
        }
        "isnull" => Expr::IsNull(arg(0)?),
        "s_dwithin" => {
            let d = args
                .get(2)
                .and_then(Value::as_f64)
                .ok_or_else(|| FilterError {
                    message: "s_dwithin's third argument is a distance".into(),
                    property: None,
                })?;
            let units = args.get(3).and_then(Value::as_str).unwrap_or("meters");
            Expr::DWithin(arg(0)?, arg(1)?, metres(d, units)?)
        }
        other => {
            if let Some(f) = SPATIAL.iter().find(|f| **f == other) {
                Expr::Spatial(f, arg(0)?, arg(1)?)
            } else if let Some(f) = TEMPORAL.iter().find(|f| **f == other) {
                Expr::Temporal(f, arg(0)?, arg(1)?)
            } else {
                return fail(format!("the operator `{other}` is not supported"));
            }
        }
    })
}

fn json_scalar(v: &Value) -> Result<Scalar, FilterError> {
    Ok(match v {
        Value::String(s) => Scalar::Text(s.clone()),
        Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Null => Scalar::Null,
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                Scalar::Property(p.to_owned())
            } else if let Some(t) = o.get("timestamp").and_then(Value::as_str) {
                time(t, false)?
            } else if let Some(t) = o.get("date").and_then(Value::as_str) {
                time(t, true)?
            } else if let Some(i) = o.get("interval").and_then(Value::as_array) {
                let end = |k: usize| -> Result<(Option<i64>, Option<i64>), FilterError> {
                    match i.get(k).and_then(Value::as_str) {
                        Some("..") | None => Ok((None, None)),
                        Some(t) => match time(t, !t.contains('T'))? {
                            Scalar::Time(a, b) => Ok((a, b)),
                            _ => fail("not a time"),
                        },
                    }
                };
                Scalar::Time(end(0)?.0, end(1)?.1)
            } else if let Some(b) = o.get("bbox").and_then(Value::as_array) {
                bbox(&b.iter().filter_map(Value::as_f64).collect::<Vec<_>>())?
            } else if o.contains_key("type") && o.contains_key("coordinates") {
                geometry(v)?
            } else {
                return fail("an argument object is a property, a time, a bbox or a geometry");
            }
        }
        Value::Array(_) => return fail("a list is only an argument of in"),
    })
}

// --------------------------------------------------------------- checking

/// What a property of a collection holds, for checking and evaluating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (codes among them).
    Text,
    /// A number.
    Number,
    /// True or false.
    Bool,
    /// An RFC 3339 instant, or a month (`YYYY-MM`).
    Time,
    /// The feature's geometry.
    Geometry,
}

/// Checks every property the filter names against the queryables; the
/// first unknown one is refused by name.
pub fn check(e: &Expr, queryables: &HashMap<String, Kind>) -> Result<(), FilterError> {
    let scalar = |s: &Scalar| match s {
        Scalar::Property(p) if !queryables.contains_key(p) => Err(FilterError {
            message: format!("`{p}` is not a queryable of this collection (see its queryables)"),
            property: Some(p.clone()),
        }),
        _ => Ok(()),
    };
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|e| check(e, queryables)),
        Expr::Not(e) => check(e, queryables),
        Expr::Compare(_, a, b)
        | Expr::Spatial(_, a, b)
        | Expr::Temporal(_, a, b)
        | Expr::DWithin(a, b, _) => scalar(a).and(scalar(b)),
        Expr::Like(a, _) | Expr::IsNull(a) => scalar(a),
        Expr::Between(a, b, c) => scalar(a).and(scalar(b)).and(scalar(c)),
        Expr::In(a, list) => list.iter().try_fold((), |_, s| scalar(s)).and(scalar(a)),
        Expr::Literal(_) => Ok(()),
    }
}

// --------------------------------------------------------------- evaluating

/// A value a feature gives a scalar (the filter's own literals borrowed).
#[derive(Debug, Clone)]
enum Got<'a> {
    Text(Cow<'a, str>),
    Number(f64),
    Bool(bool),
    Time(Option<i64>, Option<i64>),
    Geometry(Cow<'a, Geometry<f64>>),
    Metres(&'a Geometry<f64>),
    Null,
}

fn value_of<'a>(s: &'a Scalar, feature: &Value, queryables: &HashMap<String, Kind>) -> Got<'a> {
    match s {
        Scalar::Text(t) => Got::Text(Cow::Borrowed(t)),
        Scalar::Number(n) => Got::Number(*n),
        Scalar::Bool(b) => Got::Bool(*b),
        Scalar::Time(a, b) => Got::Time(*a, *b),
        Scalar::Geometry(g) => Got::Geometry(Cow::Borrowed(g)),
        Scalar::Metres(g) => Got::Metres(g),
        Scalar::Null => Got::Null,
        Scalar::Property(p) => {
            let kind = queryables.get(p).copied().unwrap_or(Kind::Text);
            if kind == Kind::Geometry {
                return geojson::Geometry::from_json_value(feature["geometry"].clone())
                    .ok()
                    .and_then(|g| Geometry::<f64>::try_from(g).ok())
                    .map_or(Got::Null, |g| Got::Geometry(Cow::Owned(g)));
            }
            let v = if p == "id" {
                &feature["id"]
            } else {
                &feature["properties"][p.as_str()]
            };
            match (kind, v) {
                (_, Value::Null) => Got::Null,
                (Kind::Time, Value::String(t)) => {
                    // A month (police.uk's) is the whole month.
                    if t.len() == 7 {
                        // UK time, as `datetime` reads months.
                        let uk = |d: NaiveDate| {
                            d.and_hms_opt(0, 0, 0)
                                .map(|t| crate::domain::time::uk_to_utc(t).timestamp_millis())
                        };
                        let first = NaiveDate::parse_from_str(&format!("{t}-01"), "%Y-%m-%d").ok();
                        let end = first
                            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                            .and_then(uk)
                            .map(|n| n - 1);
                        Got::Time(first.and_then(uk), end)
                    } else {
                        parse_instant(t)
                            .map(|t| t.timestamp_millis())
                            .map_or(Got::Null, |t| Got::Time(Some(t), Some(t)))
                    }
                }
                (_, Value::String(t)) => Got::Text(Cow::Owned(t.clone())),
                (_, Value::Number(n)) => n.as_f64().map_or(Got::Null, Got::Number),
                (_, Value::Bool(b)) => Got::Bool(*b),
                (_, other) => Got::Text(Cow::Owned(other.to_string())),
            }
        }
    }
}

fn compare(a: &Got<'_>, b: &Got<'_>) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Got::Text(x), Got::Text(y)) => Some(x.cmp(y)),
        (Got::Number(x), Got::Number(y)) => x.partial_cmp(y),
        (Got::Bool(x), Got::Bool(y)) => Some(x.cmp(y)),
        (Got::Time(Some(x), _), Got::Time(Some(y), _)) => Some(x.cmp(y)),
        // A text compared with a time (an instant property compared with a
        // bare string): read the text as an instant.
        (Got::Time(..), Got::Text(t)) => compare(
            a,
            &Got::Time(parse_instant(t).map(|t| t.timestamp_millis()), None),
        ),
        (Got::Text(_), Got::Time(..)) => compare(b, a).map(std::cmp::Ordering::reverse),
        _ => None,
    }
}

fn like(text: &str, pattern: &str) -> bool {
    // Dynamic programming over characters: linear in their product, with
    // no backtracking blow-up.
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let mut row = vec![false; t.len() + 1];
    row[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        if *pc == '%' {
            let mut any = false;
            for j in 0..=t.len() {
                any |= row[j];
                next[j] = any;
            }
        } else {
            for j in 1..=t.len() {
                next[j] = row[j - 1] && (*pc == '_' || *pc == t[j - 1]);
            }
        }
        row = next;
    }
    row[t.len()]
}

fn interval(g: &Got<'_>) -> Option<(i64, i64)> {
    match g {
        Got::Time(a, b) => Some((a.unwrap_or(i64::MIN), b.unwrap_or(i64::MAX))),
        _ => None,
    }
}

fn temporal(f: &str, (a0, a1): (i64, i64), (b0, b1): (i64, i64)) -> bool {
    match f {
        "t_after" => a0 > b1,
        "t_before" => a1 < b0,
        "t_disjoint" => a1 < b0 || a0 > b1,
        "t_intersects" => a0 <= b1 && a1 >= b0,
        "t_equals" => a0 == b0 && a1 == b1,
        "t_during" => a0 > b0 && a1 < b1 || (a0 == a1 && a0 >= b0 && a1 <= b1 && b0 != b1),
        "t_contains" => b0 > a0 && b1 < a1,
        "t_meets" => a1 == b0,
        "t_metby" => a0 == b1,
        "t_overlaps" => a0 < b0 && a1 > b0 && a1 < b1,
        "t_overlappedby" => b0 < a0 && b1 > a0 && b1 < a1,
        "t_starts" => a0 == b0 && a1 < b1,
        "t_startedby" => a0 == b0 && a1 > b1,
        "t_finishes" => a1 == b1 && a0 > b0,
        "t_finishedby" => a1 == b1 && a0 < b0,
        _ => false,
    }
}

/// The geometry in British National Grid metres, for distances.
fn in_metres(g: &Geometry<f64>) -> Option<Geometry<f64>> {
    use geo::MapCoords;
    g.try_map_coords(|c| {
        crate::bng::to_grid(c.x, c.y)
            .map(|p| geo::coord! { x: p.easting, y: p.northing })
            .ok_or(())
    })
    .ok()
}

/// A geometry in metres: a filter's literal as prepared, a feature's
/// converted now.
fn geometry_in_metres(g: Got<'_>) -> Option<Cow<'_, Geometry<f64>>> {
    match g {
        Got::Metres(m) => Some(Cow::Borrowed(m)),
        Got::Geometry(g) => in_metres(&g).map(Cow::Owned),
        _ => None,
    }
}

/// Whether `feature` (as the viewer is shown it) meets the filter.
pub fn matches(e: &Expr, feature: &Value, queryables: &HashMap<String, Kind>) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|e| matches(e, feature, queryables)),
        Expr::Or(v) => v.iter().any(|e| matches(e, feature, queryables)),
        Expr::Not(e) => !matches(e, feature, queryables),
        Expr::Literal(b) => *b,
        Expr::Compare(op, a, b) => {
            let ordering = compare(
                &value_of(a, feature, queryables),
                &value_of(b, feature, queryables),
            );
            match (*op, ordering) {
                (_, None) => false,
                ("=", Some(o)) => o.is_eq(),
                ("<>", Some(o)) => o.is_ne(),
                ("<", Some(o)) => o.is_lt(),
                ("<=", Some(o)) => o.is_le(),
                (">", Some(o)) => o.is_gt(),
                (_, Some(o)) => o.is_ge(),
            }
        }
        Expr::Like(a, p) => matches!(value_of(a, feature, queryables), Got::Text(t) if like(&t, p)),
        Expr::Between(a, low, high) => {
            let v = value_of(a, feature, queryables);
            compare(&v, &value_of(low, feature, queryables)).is_some_and(|o| o.is_ge())
                && compare(&v, &value_of(high, feature, queryables)).is_some_and(|o| o.is_le())
        }
        Expr::In(a, list) => {
            let v = value_of(a, feature, queryables);
            list.iter()
                .any(|s| compare(&v, &value_of(s, feature, queryables)).is_some_and(|o| o.is_eq()))
        }
        Expr::IsNull(a) => matches!(value_of(a, feature, queryables), Got::Null),
        Expr::Spatial(f, a, b) => match (
            value_of(a, feature, queryables),
            value_of(b, feature, queryables),
        ) {
            (Got::Geometry(x), Got::Geometry(y)) => {
                let m = x.relate(y.as_ref());
                match *f {
                    "s_intersects" => m.is_intersects(),
                    "s_equals" => m.is_equal_topo(),
                    "s_disjoint" => m.is_disjoint(),
                    "s_touches" => m.is_touches(),
                    "s_within" => m.is_within(),
                    "s_overlaps" => m.is_overlaps(),
                    "s_crosses" => m.is_crosses(),
                    _ => m.is_contains(),
                }
            }
            _ => false,
        },
        Expr::DWithin(a, b, d) => {
            match (
                geometry_in_metres(value_of(a, feature, queryables)),
                geometry_in_metres(value_of(b, feature, queryables)),
            ) {
                (Some(x), Some(y)) => Euclidean::distance(x.as_ref(), y.as_ref()) <= *d,
                _ => false,
            }
        }
        Expr::Temporal(f, a, b) => match (
            interval(&value_of(a, feature, queryables)),
            interval(&value_of(b, feature, queryables)),
        ) {
            (Some(x), Some(y)) => temporal(f, x, y),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> HashMap<String, Kind> {
        [
            ("category", Kind::Text),
            ("count", Kind::Number),
            ("observed_at", Kind::Time),
            ("geometry", Kind::Geometry),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn feature() -> Value {
        serde_json::json!({"type": "Feature", "id": 7,
            "geometry": {"type": "Point", "coordinates": [-2.9977, 51.5886]},
            "properties": {"category": "unsafe-environment", "count": 12, "observed_at": "2026-11-20T18:30:00.000Z"}})
    }

    fn holds(text: &str) -> bool {
        let e = parse(text, "cql2-text").unwrap_or_else(|e| panic!("{text}: {e:?}"));
        check(&e, &q()).expect("known");
        matches(&e, &feature(), &q())
    }

    #[test]
    fn text_filters_of_every_class_read_as_their_json_twins() {
        for (text, expected) in [
            ("category = 'unsafe-environment'", true),
            ("category <> 'unsafe-environment' OR count > 10", true),
            ("NOT (count >= 12) AND category LIKE 'unsafe%'", false),
            ("category LIKE 'unsafe_environment'", true),
            ("count BETWEEN 10 AND 12", true),
            ("count NOT BETWEEN 10 AND 12", false),
            ("category IN ('drugs', 'unsafe-environment')", true),
            ("category IS NULL", false),
            ("category IS NOT NULL", true),
            (
                "S_INTERSECTS(geometry, BBOX(-3.0, 51.58, -2.99, 51.59))",
                true,
            ),
            (
                "S_WITHIN(geometry, POLYGON((-3 51.5, -2.9 51.5, -2.9 51.6, -3 51.6, -3 51.5)))",
                true,
            ),
            (
                "S_DWITHIN(geometry, POINT(-2.9977 51.5895), 150, meters)",
                true,
            ),
            (
                "S_DWITHIN(geometry, POINT(-2.9977 51.5895), 50, meters)",
                false,
            ),
            (
                "T_AFTER(observed_at, TIMESTAMP('2026-11-01T00:00:00Z'))",
                true,
            ),
            (
                "T_DURING(observed_at, INTERVAL('2026-11-01', '2026-11-30'))",
                true,
            ),
            ("T_BEFORE(observed_at, DATE('2026-11-20'))", false),
        ] {
            assert_eq!(holds(text), expected, "{text}");
        }
        let json = r#"{"op": "and", "args": [{"op": "=", "args": [{"property": "category"}, "unsafe-environment"]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-3.0, 51.58, -2.99, 51.59]}]}]}"#;
        let e = parse(json, "cql2-json").expect("json");
        assert!(matches(&e, &feature(), &q()));
    }

    #[test]
    fn an_unknown_property_is_refused_by_name() {
        let e = parse("colour = 'red' AND count > 1", "cql2-text").expect("parses");
        let err = check(&e, &q()).expect_err("refused");
        assert_eq!(err.property.as_deref(), Some("colour"));
    }

    #[test]
    fn hostile_filters_are_refused_before_parsing() {
        let deep = format!("{}count = 1{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep, "cql2-text").is_err());
        let unclosed = format!("{}count = 1", "(".repeat(22));
        assert!(parse(&unclosed, "cql2-text").is_err());
        let long = format!("category = '{}'", "a".repeat(100_000));
        assert!(parse(&long, "cql2-text").is_err());
        assert!(!like(
            &"a".repeat(2000),
            &"%a".repeat(30).to_string().replace("%a%a", "%a%b")
        ));
    }
}

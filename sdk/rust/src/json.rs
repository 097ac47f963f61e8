//! A very small reader for the configuration JSON (RFC 8259), enough to pick
//! top-level values out of [`Host::config`](crate::Host::config) without a
//! JSON library.
//!
//! Limits, on purpose:
//! - only **top-level** keys of an object are looked up; nested objects and
//!   arrays are skipped (keys inside them never match);
//! - a key is compared with its raw bytes: a key written with escapes
//!   (`"gr\u0065eting"`) does not match;
//! - it does not validate the document: the gateway sends valid JSON, and
//!   on malformed input the functions return `None` rather than an error;
//! - if a key appears twice, the first one wins.
//!
//! ```
//! let cfg = br#"{"greeting":"hi \"there\"","limit":5,"list":{"greeting":"no"}}"#;
//! assert_eq!(sluice::json::string(cfg, "greeting").as_deref(), Some("hi \"there\""));
//! assert_eq!(sluice::json::raw(cfg, "limit"), Some(&b"5"[..]));
//! assert_eq!(sluice::json::string(cfg, "limit"), None); // not a string
//! assert_eq!(sluice::json::string(cfg, "missing"), None);
//! ```
//!
//! [`int`] reads a whole number and [`check_keys`] refuses unknown keys, both
//! with an error message in policy terms, ready to return from
//! `configure`:
//!
//! ```
//! let cfg = br#"{"max_words":2.5,"greting":"hi"}"#;
//! assert_eq!(sluice::json::int(cfg, "max_words"),
//!            Err("config.max_words: 2.5 is not a whole number".into()));
//! assert_eq!(sluice::json::int(br#"{"max_words":500}"#, "max_words"), Ok(Some(500)));
//! assert_eq!(sluice::json::int(cfg, "limit"), Ok(None)); // absent
//! assert_eq!(sluice::json::check_keys(cfg, &["greeting", "max_words"]),
//!            Err("config.greting: unknown key (known here: greeting, max_words)".into()));
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The whole-number value of top-level key `key`: `Ok(None)` if the key is
/// absent or `null`, `Ok(Some(n))` for a whole number that fits an `i64`
/// (`5`, `-3`, `1e3`, `5.0`), and otherwise an error naming the key the
/// way the policy does: `config.max_words: 2.5 is not a whole number`.
pub fn int(json: &[u8], key: &str) -> Result<Option<i64>, String> {
    let v = match raw(json, key) {
        None => return Ok(None),
        Some(v) => v,
    };
    if v == b"null" {
        return Ok(None);
    }
    let text = core::str::from_utf8(v).unwrap_or("?");
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Some(n));
    }
    let starts_like_number = matches!(v.first(), Some(b'-' | b'0'..=b'9'));
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    match text.parse::<f64>() {
        // core has no f64::fract or abs in no_std: compare with a round
        // trip through i64 inside its range; beyond it, every f64 is whole.
        Ok(f) if starts_like_number && f >= -LIMIT && f < LIMIT && (f as i64) as f64 == f => Ok(Some(f as i64)),
        Ok(f) if starts_like_number && f.is_finite() && (f < -LIMIT || f >= LIMIT) => {
            Err(format!("config.{}: {} is out of range ({} to {})", key, text, i64::MIN, i64::MAX))
        }
        _ => Err(format!("config.{}: {} is not a whole number", key, describe(v))),
    }
}

/// Checks that every top-level key of the object is one of `known`, so a
/// typo in the policy is reported instead of silently ignored. The error
/// names the first unknown key and lists the known ones:
/// `config.greting: unknown key (known here: greeting, max_words)`.
pub fn check_keys(json: &[u8], known: &[&str]) -> Result<(), String> {
    for k in keys(json) {
        if !known.iter().any(|n| n.as_bytes() == k.as_slice()) {
            let mut names: Vec<&str> = known.to_vec();
            names.sort_unstable();
            return Err(format!(
                "config.{}: unknown key (known here: {})",
                String::from_utf8_lossy(&k),
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// The top-level keys of the object, raw (escapes not decoded), in order.
/// Empty if the document is not an object or is malformed.
pub fn keys(json: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut s = Scanner { b: json, i: 0 };
    s.ws();
    if !s.eat(b'{') {
        return out;
    }
    s.ws();
    if s.eat(b'}') {
        return out;
    }
    loop {
        s.ws();
        let (ks, ke) = match s.string() {
            Some(span) => span,
            None => return out,
        };
        s.ws();
        if !s.eat(b':') {
            return out;
        }
        s.ws();
        if s.value().is_none() {
            return out;
        }
        out.push(json[ks + 1..ke - 1].to_vec());
        s.ws();
        if !s.eat(b',') {
            return out;
        }
    }
}

/// A value as the operator wrote it in HCL, for error messages.
fn describe(v: &[u8]) -> String {
    match v.first() {
        Some(b'[') => "a list".into(),
        Some(b'{') => "an object".into(),
        _ if v.len() > 40 => format!("{}...", String::from_utf8_lossy(&v[..40])),
        _ => String::from_utf8_lossy(v).into(),
    }
}

/// The string value of top-level key `key`, with its escapes decoded.
/// `None` if the key is absent, its value is not a string, or the document
/// is malformed.
pub fn string(json: &[u8], key: &str) -> Option<String> {
    let v = raw(json, key)?;
    if v.first() != Some(&b'"') {
        return None;
    }
    decode_string(&v[1..v.len() - 1])
}

/// The raw text of the value of top-level key `key`: `5`, `true`,
/// `"quoted"` (quotes included), `{...}` or `[...]`.
pub fn raw<'a>(json: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut s = Scanner { b: json, i: 0 };
    s.ws();
    if !s.eat(b'{') {
        return None;
    }
    s.ws();
    if s.eat(b'}') {
        return None;
    }
    loop {
        s.ws();
        let (ks, ke) = s.string()?;
        let k = &json[ks + 1..ke - 1];
        s.ws();
        if !s.eat(b':') {
            return None;
        }
        s.ws();
        let vs = s.i;
        s.value()?;
        if k == key.as_bytes() {
            return Some(&json[vs..s.i]);
        }
        s.ws();
        if s.eat(b'}') {
            return None;
        }
        if !s.eat(b',') {
            return None;
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.peek() {
            self.i += 1;
        }
    }

    /// Skips a string; returns its span including the quotes.
    fn string(&mut self) -> Option<(usize, usize)> {
        let start = self.i;
        if !self.eat(b'"') {
            return None;
        }
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some((start, self.i));
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    /// Skips any value: a string, or a nested object/array (with the
    /// strings inside it), or a number or literal.
    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                let start = self.i;
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.i += 1;
                }
                if self.i == start {
                    None
                } else {
                    Some(())
                }
            }
        }
    }
}

/// Decodes the inside of a JSON string (RFC 8259 §7), `\uXXXX` surrogate
/// pairs included.
fn decode_string(s: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let text = core::str::from_utf8(s).ok()?;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = match chars.next()? {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = hex4(&mut chars)?;
                if (0xD800..0xDC00).contains(&hi) {
                    if chars.next()? != '\\' || chars.next()? != 'u' {
                        return None;
                    }
                    let lo = hex4(&mut chars)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        };
        out.push(e);
    }
    Some(out)
}

fn hex4(chars: &mut core::str::Chars<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_string() {
        assert_eq!(string(br#"{"greeting":"hi"}"#, "greeting").as_deref(), Some("hi"));
        assert_eq!(string(br#" { "a" : 1 , "greeting" : "hi" } "#, "greeting").as_deref(), Some("hi"));
        assert_eq!(string(br#"{"greeting":""}"#, "greeting").as_deref(), Some(""));
    }

    #[test]
    fn nested_keys_do_not_match() {
        let j = br#"{"o":{"greeting":"inner","x":[1,"]}",{"greeting":2}]},"greeting":"outer"}"#;
        assert_eq!(string(j, "greeting").as_deref(), Some("outer"));
        assert_eq!(raw(j, "o"), Some(&br#"{"greeting":"inner","x":[1,"]}",{"greeting":2}]}"#[..]));
        assert_eq!(string(br#"{"o":{"greeting":"inner"}}"#, "greeting"), None);
    }

    #[test]
    fn escapes() {
        let j = br#"{"k":"a\"b\\c\/d\n\u00e9\ud83d\ude00"}"#;
        assert_eq!(string(j, "k").as_deref(), Some("a\"b\\c/d\né😀"));
        assert_eq!(string(br#"{"k":"\ud83d"}"#, "k"), None, "lone surrogate");
        assert_eq!(string(br#"{"k":"\q"}"#, "k"), None);
    }

    #[test]
    fn key_inside_a_value_string_does_not_match() {
        let j = br#"{"a":"\"greeting\":\"no\"","greeting":"yes"}"#;
        assert_eq!(string(j, "greeting").as_deref(), Some("yes"));
    }

    #[test]
    fn int_reads_whole_numbers() {
        let j = br#"{"a":5,"b":-3,"c":1e3,"d":5.0,"e":2.5,"f":"7","g":true,"h":null,"i":[1],"j":1e30,"k":-9223372036854775808}"#;
        assert_eq!(int(j, "a"), Ok(Some(5)));
        assert_eq!(int(j, "b"), Ok(Some(-3)));
        assert_eq!(int(j, "c"), Ok(Some(1000)));
        assert_eq!(int(j, "d"), Ok(Some(5)));
        assert_eq!(int(j, "e"), Err("config.e: 2.5 is not a whole number".into()));
        assert_eq!(int(j, "f"), Err("config.f: \"7\" is not a whole number".into()));
        assert_eq!(int(j, "g"), Err("config.g: true is not a whole number".into()));
        assert_eq!(int(j, "h"), Ok(None));
        assert_eq!(int(j, "i"), Err("config.i: a list is not a whole number".into()));
        assert_eq!(
            int(j, "j"),
            Err("config.j: 1e30 is out of range (-9223372036854775808 to 9223372036854775807)".into())
        );
        assert_eq!(int(j, "k"), Ok(Some(i64::MIN)));
        assert_eq!(int(j, "missing"), Ok(None));
    }

    #[test]
    fn check_keys_refuses_unknown_keys() {
        let j = br#"{"greeting":"hi","o":{"nested":1},"limit":2}"#;
        assert_eq!(check_keys(j, &["limit", "greeting", "o"]), Ok(()));
        assert_eq!(
            check_keys(j, &["limit", "greeting"]),
            Err("config.o: unknown key (known here: greeting, limit)".into())
        );
        assert_eq!(check_keys(b"{}", &[]), Ok(()));
        assert_eq!(keys(j), [b"greeting".to_vec(), b"o".to_vec(), b"limit".to_vec()]);
    }

    #[test]
    fn non_strings_and_malformed() {
        let j = br#"{"n":-1.5e3,"t":true,"z":null,"a":[1,2]}"#;
        assert_eq!(raw(j, "n"), Some(&b"-1.5e3"[..]));
        assert_eq!(raw(j, "t"), Some(&b"true"[..]));
        assert_eq!(raw(j, "a"), Some(&b"[1,2]"[..]));
        assert_eq!(string(j, "z"), None);
        for bad in [&b""[..], b"[]", b"{", b"{}", br#"{"k""#, br#"{"k":"#, br#"{"k":"open"#, br#"{"k" "v"}"#]
        {
            assert_eq!(string(bad, "k"), None, "{:?}", core::str::from_utf8(bad));
        }
    }
}

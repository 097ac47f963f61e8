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

use alloc::string::String;

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

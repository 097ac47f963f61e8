//! The checks the gateway makes on what a plugin passes it (sdk/ABI.md §4),
//! so the mock host traps where the gateway would. Each returns the reason
//! of a trap.

use std::string::{String, ToString};

/// §4.4: 1 to 76 bytes of printable ASCII other than `:` (RFC 5322 §3.6.8).
pub(crate) fn header_name(name: &[u8]) -> Result<(), String> {
    if name.is_empty() || name.len() > 76 {
        return Err("header name must be 1 to 76 bytes".to_string());
    }
    match name.iter().find(|&&c| !(33..=126).contains(&c) || c == b':') {
        Some(c) => Err(std::format!("header name contains byte 0x{:02x}", c)),
        None => Ok(()),
    }
}

/// §4.4: no NUL, CRLF only as folding, no whitespace-only continuation
/// line. Length is no error: the host folds (`fold`).
pub(crate) fn header_value(_name: &[u8], value: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            0 => return Err("header value contains NUL".to_string()),
            b'\r' => {
                if i + 2 >= value.len() || value[i + 1] != b'\n' || !matches!(value[i + 2], b' ' | b'\t') {
                    return Err("header value contains CR or LF that is not folding".to_string());
                }
                i += 2;
                let rest = &value[i..];
                let end = rest.iter().position(|&c| c == b'\r').unwrap_or(rest.len());
                if rest[..end].iter().all(|&c| c == b' ' || c == b'\t') {
                    return Err("header value ends in a whitespace-only continuation line".to_string());
                }
                continue;
            }
            b'\n' => return Err("header value contains CR or LF that is not folding".to_string()),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// §4.4, "the 998-byte line rule": a CRLF is inserted before the space or
/// tab that keeps a line of `Name: value` within 998 bytes (else the first
/// one after it); whitespace that starts or ends a line is no fold point,
/// and a line without one stays long. The unfolded value is unchanged.
pub(crate) fn fold(name: &[u8], value: &[u8]) -> std::vec::Vec<u8> {
    const MAX: usize = 998;
    let wsp = |c: u8| c == b' ' || c == b'\t';
    let mut out = std::vec::Vec::with_capacity(value.len());
    let (mut copied, mut start, mut prefix) = (0, 0, name.len() + 2);
    loop {
        let end = value[start..].windows(2).position(|w| w == b"\r\n").map_or(value.len(), |i| start + i);
        while prefix + end - start > MAX {
            let line = &value[start..end];
            let (first, last) =
                match (line.iter().position(|&c| !wsp(c)), line.iter().rposition(|&c| !wsp(c))) {
                    (Some(f), Some(l)) => (f, l),
                    _ => break,
                };
            let mut best = None;
            for i in first + 1..last {
                if !wsp(line[i]) {
                    continue;
                }
                if prefix + i > MAX {
                    best = best.or(Some(i));
                    break;
                }
                best = Some(i);
            }
            let p = match best {
                Some(p) => p,
                None => break,
            };
            out.extend_from_slice(&value[copied..start + p]);
            out.extend_from_slice(b"\r\n");
            copied = start + p;
            start = copied;
            prefix = 0;
        }
        if end == value.len() {
            break;
        }
        start = end + 2;
        prefix = 0;
    }
    out.extend_from_slice(&value[copied..]);
    out
}

/// §4.5: no NUL, no bare CR or LF, lines of at most 998 bytes.
pub(crate) fn body(b: &[u8]) -> Result<(), String> {
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            0 => return Err("body contains NUL".to_string()),
            b'\r' => {
                if b.get(i + 1) != Some(&b'\n') {
                    return Err("body contains a bare CR".to_string());
                }
                if i - start > 998 {
                    return Err("body line longer than 998 bytes".to_string());
                }
                i += 1;
                start = i + 1;
            }
            b'\n' => return Err("body contains a bare LF".to_string()),
            _ => {}
        }
        i += 1;
    }
    if b.len() - start > 998 {
        return Err("body line longer than 998 bytes".to_string());
    }
    Ok(())
}

/// §4.3: 1 to 64 bytes of `[A-Za-z0-9_.-]`.
pub(crate) fn tag_key(k: &[u8]) -> Result<(), String> {
    if !k.is_empty()
        && k.len() <= 64
        && k.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
    {
        Ok(())
    } else {
        Err(std::format!("tag key {:?} must be 1 to 64 bytes of A-Z a-z 0-9 _ . -", show(k)))
    }
}

/// §4.3: at most 1024 bytes without CR, LF or NUL.
pub(crate) fn tag_value(v: &[u8]) -> Result<(), String> {
    if v.len() > 1024 {
        return Err(std::format!("tag value is {} bytes; at most 1024 are allowed", v.len()));
    }
    if v.iter().any(|&c| matches!(c, b'\r' | b'\n' | 0)) {
        return Err("tag value contains CR, LF or NUL".to_string());
    }
    Ok(())
}

/// §4.6: `local@domain`, at most 254 bytes, no whitespace, control
/// characters or angle brackets; empty only for the null reverse path.
pub(crate) fn address(a: &[u8], allow_empty: bool) -> Result<(), String> {
    if a.is_empty() && allow_empty {
        return Ok(());
    }
    if a.len() > 254 {
        return Err(std::format!("address is {} bytes; at most 254 are allowed", a.len()));
    }
    if a.iter().any(|&c| c <= b' ' || c == 0x7f || c == b'<' || c == b'>') {
        return Err(std::format!(
            "address {:?} contains a space, control character or angle bracket",
            show(a)
        ));
    }
    match a.iter().rposition(|&c| c == b'@') {
        Some(at) if at > 0 && at < a.len() - 1 => Ok(()),
        _ => Err(std::format!("address {:?} is not local@domain", show(a))),
    }
}

/// §4.7: code 400 to 599, enhanced code of the same class (RFC 3463) or
/// empty, text of 1 to 400 bytes of printable ASCII and space.
pub(crate) fn reply(code: i32, enh: &[u8], text: &[u8]) -> Result<(), String> {
    if !(400..=599).contains(&code) {
        return Err(std::format!("reply code {} is not between 400 and 599", code));
    }
    if !enh.is_empty() && !enhanced(enh, code) {
        return Err(std::format!(
            "enhanced status code {:?} is not class.subject.detail with class {} (RFC 3463)",
            show(enh),
            code / 100
        ));
    }
    if text.is_empty() || text.len() > 400 {
        return Err(std::format!("reply text is {} bytes; it must be 1 to 400", text.len()));
    }
    if let Some(c) = text.iter().find(|&&c| !(0x20..=0x7e).contains(&c)) {
        return Err(std::format!(
            "reply text contains byte 0x{:02x}; only printable ASCII and space are allowed",
            c
        ));
    }
    Ok(())
}

fn enhanced(e: &[u8], code: i32) -> bool {
    let parts: std::vec::Vec<&[u8]> = e.split(|&c| c == b'.').collect();
    parts.len() == 3
        && parts.iter().enumerate().all(|(i, p)| {
            !p.is_empty() && p.len() <= 3 && (i != 0 || p.len() == 1) && p.iter().all(u8::is_ascii_digit)
        })
        && i32::from(parts[0][0] - b'0') == code / 100
}

/// Bytes for an error message: lossy UTF-8, cut at 80 bytes.
pub(crate) fn show(b: &[u8]) -> String {
    let cut = &b[..b.len().min(80)];
    String::from_utf8_lossy(cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values() {
        assert!(header_value(b"Subject", b"hello").is_ok());
        assert!(header_value(b"Subject", b"a\r\n b").is_ok());
        assert!(header_value(b"Subject", b"a\r\n\tb\r\n c").is_ok());
        for bad in [&b"a\nb"[..], b"a\rb", b"a\r\nb", b"a\r\n", b"a\r\n \r\n b", b"a\r\n  ", b"a\0"] {
            assert!(header_value(b"Subject", bad).is_err(), "{:?}", bad);
        }
        assert!(header_value(b"S", &[b'x'; 5000]).is_ok(), "length is no error");
    }

    #[test]
    fn folding() {
        let words = "word ".repeat(299) + "word"; // 1499 bytes
        let got = fold(b"Subject", words.as_bytes());
        assert_eq!(got, (words[..989].to_string() + "\r\n" + &words[989..]).into_bytes());
        let cont = "hi\r\n ".to_string() + &words;
        let got = fold(b"Subject", cont.as_bytes());
        assert_eq!(got, ("hi\r\n ".to_string() + &words[..994] + "\r\n" + &words[994..]).into_bytes());
        let word = [b'w'; 1500];
        assert_eq!(fold(b"Subject", &word), word.to_vec(), "no fold point");
        assert_eq!(fold(b"Subject", b"short"), b"short".to_vec());
    }

    #[test]
    fn replies() {
        assert!(reply(550, b"5.7.1", b"no").is_ok());
        assert!(reply(451, b"", b"later").is_ok());
        assert!(reply(250, b"2.0.0", b"ok").is_err());
        assert!(reply(550, b"4.7.1", b"x").is_err());
        assert!(reply(550, b"5.7", b"x").is_err());
        assert!(reply(550, b"5.7.1", b"x\r\n250 OK").is_err());
        assert!(reply(550, b"5.7.1", b"").is_err());
    }

    #[test]
    fn addresses_and_tags() {
        assert!(address(b"a@b", false).is_ok());
        assert!(address(b"", true).is_ok());
        for bad in [&b""[..], b"ab", b"@b", b"a@", b"<a@b>", b"a b@c"] {
            assert!(address(bad, false).is_err(), "{:?}", bad);
        }
        assert!(tag_key(b"probe.rcpt-count_2").is_ok());
        assert!(tag_key(b"").is_err() && tag_key(b"a b").is_err() && tag_key(&[b'a'; 65]).is_err());
        assert!(tag_value(b"x").is_ok() && tag_value(b"a\nb").is_err());
    }

    #[test]
    fn bodies() {
        assert!(body(b"a\r\nb").is_ok());
        assert!(body(b"a\nb").is_err() && body(b"a\rb").is_err() && body(b"a\0").is_err());
        let mut long = std::vec![b'x'; 998];
        long.extend_from_slice(b"\r\n");
        assert!(body(&long).is_ok());
        long.insert(0, b'x');
        assert!(body(&long).is_err());
    }
}

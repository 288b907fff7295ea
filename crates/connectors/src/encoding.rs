//! A feed's bytes to UTF-8, decided the way lenient feed readers decide:
//! a byte-order mark first, then the XML declaration, then the HTTP
//! `charset`, then UTF-8, then a statistical guess (`chardetng`). Labels
//! follow the WHATWG table of `encoding_rs`, so a declared ISO-8859-1,
//! Latin-1 or US-ASCII is read as CP-1252 (what such feeds almost always
//! hold: `don\x92t` is `don’t`). UTF-16 and UTF-32 (with or without a mark)
//! and EBCDIC (code page 037) are transcoded here, because the XML reader
//! behind feed-rs panics on some of them; the normaliser then writes a
//! UTF-8 declaration in place of the old one.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

/// A decoded body and how its encoding was chosen (for logs and tests).
#[derive(Debug)]
pub(crate) struct Decoded {
    /// The text, without any byte-order mark.
    pub text: String,
    /// Name of the encoding read (`UTF-8`, `windows-1252`, `UTF-32LE`, ...).
    pub encoding: &'static str,
    /// What decided it: `bom`, `sniffed`, `declaration`, `http`, `default`, `detected`.
    pub decided_by: &'static str,
    /// Double-encoded UTF-8 (UTF-8 read as CP-1252 and encoded again) was repaired.
    pub repaired_mojibake: bool,
}

/// Bytes of the body looked at for a declaration or a sniffed encoding.
const PREFIX: usize = 1024;

/// Decodes `body`; `http_charset` is the `charset` of the response's `Content-Type`.
/// Never fails: the last resort decodes with replacement characters.
pub(crate) fn decode(body: &[u8], http_charset: Option<&str>) -> Decoded {
    let (text, encoding, decided_by) = decode_raw(body, http_charset);
    let (text, repaired_mojibake) = match repair_double_encoding(&text) {
        Some(fixed) => (fixed, true),
        None => (text, false),
    };
    Decoded {
        text,
        encoding,
        decided_by,
        repaired_mojibake,
    }
}

fn decode_raw(body: &[u8], http_charset: Option<&str>) -> (String, &'static str, &'static str) {
    // UTF-32 marks first: `FF FE 00 00` would otherwise be taken for UTF-16LE's.
    if body.starts_with(&[0xFF, 0xFE, 0, 0]) {
        return (utf32(&body[4..], false), "UTF-32LE", "bom");
    }
    if body.starts_with(&[0, 0, 0xFE, 0xFF]) {
        return (utf32(&body[4..], true), "UTF-32BE", "bom");
    }
    if let Some((enc, len)) = Encoding::for_bom(body) {
        let (text, _) = enc.decode_without_bom_handling(&body[len..]);
        return (text.into_owned(), enc.name(), "bom");
    }
    if let Some(sniffed) = sniff(body) {
        return sniffed;
    }
    let mut candidates: Vec<(&'static Encoding, &'static str)> = Vec::new();
    if let Some(label) = declared_encoding(body) {
        if let Some(enc) = Encoding::for_label(label.as_bytes()) {
            candidates.push((enc, "declaration"));
        }
    }
    if let Some(enc) = http_charset.and_then(|c| Encoding::for_label(c.trim().as_bytes())) {
        candidates.push((enc, "http"));
    }
    candidates.push((UTF_8, "default"));
    for (enc, how) in candidates {
        // The bytes were readable as ASCII, so a UTF-16 label cannot be right.
        if enc == UTF_16LE || enc == UTF_16BE {
            continue;
        }
        if let Some(text) = enc.decode_without_bom_handling_and_without_replacement(body) {
            return (text.into_owned(), enc.name(), how);
        }
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    let enc = detector.guess(None, true);
    let (text, _) = enc.decode_without_bom_handling(body);
    (text.into_owned(), enc.name(), "detected")
}

/// UTF-16, UTF-32 and EBCDIC without a mark, told by where the zero bytes of
/// the first characters fall (XML starts with `<` or whitespace) or by
/// `<?xm` in code page 037.
fn sniff(body: &[u8]) -> Option<(String, &'static str, &'static str)> {
    let head = &body[..body.len().min(64)];
    if head.len() >= 4 {
        match head[..4] {
            [0, 0, 0, b] if b != 0 => return Some((utf32(body, true), "UTF-32BE", "sniffed")),
            [b, 0, 0, 0] if b != 0 => return Some((utf32(body, false), "UTF-32LE", "sniffed")),
            [0x4C, 0x6F, 0xA7, 0x94] => return Some((ebcdic_037(body), "IBM037", "sniffed")),
            _ => {}
        }
    }
    if head.len() < 4 {
        return None;
    }
    let pairs = head.len() / 2;
    let even_zero = head.chunks_exact(2).filter(|p| p[0] == 0).count();
    let odd_zero = head.chunks_exact(2).filter(|p| p[1] == 0).count();
    // Mostly-ASCII UTF-16 has a zero in every pair, always on the same side.
    let enc = if even_zero * 10 >= pairs * 8 && odd_zero == 0 {
        UTF_16BE
    } else if odd_zero * 10 >= pairs * 8 && even_zero == 0 {
        UTF_16LE
    } else {
        return None;
    };
    let (text, _) = enc.decode_without_bom_handling(body);
    Some((text.into_owned(), enc.name(), "sniffed"))
}

/// The `encoding` of an ASCII-readable XML declaration at the start of `body`.
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(PREFIX)];
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].trim().to_string())
}

/// The `charset` parameter of a `Content-Type` header value.
pub(crate) fn http_charset(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']).to_string())
            .filter(|v| !v.is_empty())
    })
}

fn utf32(bytes: &[u8], big_endian: bool) -> String {
    bytes
        .chunks_exact(4)
        .map(|c| {
            let n = if big_endian {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            };
            char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

/// Code page 037 (EBCDIC, US/Canada) for the characters XML feeds are written
/// with; anything else becomes U+FFFD.
fn ebcdic_037(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x05 => '\t',
            0x0D => '\r',
            0x15 | 0x25 => '\n',
            0x40 => ' ',
            0x4A => '¢',
            0x4B => '.',
            0x4C => '<',
            0x4D => '(',
            0x4E => '+',
            0x4F => '|',
            0x50 => '&',
            0x5A => '!',
            0x5B => '$',
            0x5C => '*',
            0x5D => ')',
            0x5E => ';',
            0x5F => '¬',
            0x60 => '-',
            0x61 => '/',
            0x6B => ',',
            0x6C => '%',
            0x6D => '_',
            0x6E => '>',
            0x6F => '?',
            0x79 => '`',
            0x7A => ':',
            0x7B => '#',
            0x7C => '@',
            0x7D => '\'',
            0x7E => '=',
            0x7F => '"',
            0x81..=0x89 => char::from(b'a' + (b - 0x81)),
            0x91..=0x99 => char::from(b'j' + (b - 0x91)),
            0xA1 => '~',
            0xA2..=0xA9 => char::from(b's' + (b - 0xA2)),
            0xB0 => '^',
            0xBA => '[',
            0xBB => ']',
            0xC0 => '{',
            0xC1..=0xC9 => char::from(b'A' + (b - 0xC1)),
            0xD0 => '}',
            0xD1..=0xD9 => char::from(b'J' + (b - 0xD1)),
            0xE0 => '\\',
            0xE2..=0xE9 => char::from(b'S' + (b - 0xE2)),
            0xF0..=0xF9 => char::from(b'0' + (b - 0xF0)),
            _ => char::REPLACEMENT_CHARACTER,
        })
        .collect()
}

/// UTF-8 that was read as CP-1252 and written out again as UTF-8 (`cafÃ©`):
/// when every character maps back to one CP-1252 byte and those bytes are
/// valid UTF-8 with multi-byte sequences, the bytes were the real text.
fn repair_double_encoding(text: &str) -> Option<String> {
    // The lead bytes of two- and three-byte sequences, read as CP-1252.
    if !text.contains(['Ã', 'Â', 'â', 'Å', 'Ä']) {
        return None;
    }
    let (bytes, _, unmappable) = WINDOWS_1252.encode(text);
    if unmappable {
        return None;
    }
    let bytes = match bytes {
        Cow::Borrowed(_) => return None,
        Cow::Owned(b) => b,
    };
    let fixed = String::from_utf8(bytes).ok()?;
    (fixed.len() < text.len()).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str, be: bool, bom: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if bom {
            out.extend(if be { [0xFE, 0xFF] } else { [0xFF, 0xFE] });
        }
        for u in s.encode_utf16() {
            out.extend(if be { u.to_be_bytes() } else { u.to_le_bytes() });
        }
        out
    }

    #[test]
    fn issue_19_marks_declarations_and_sniffing() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss>é</rss>";
        for (be, bom) in [(true, true), (false, true), (true, false), (false, false)] {
            let d = decode(&utf16(xml, be, bom), None);
            assert_eq!(d.text, xml, "be={be} bom={bom}");
        }
        let mut u32le = vec![0xFF, 0xFE, 0, 0];
        for c in "<rss>é</rss>".chars() {
            u32le.extend((c as u32).to_le_bytes());
        }
        assert_eq!(decode(&u32le, None).text, "<rss>é</rss>");
        let latin = b"<?xml version='1.0' encoding='ISO-8859-1'?><t>don\x92t caf\xe9</t>";
        let d = decode(latin, None);
        assert_eq!(
            d.text,
            "<?xml version='1.0' encoding='ISO-8859-1'?><t>don’t café</t>"
        );
        assert_eq!((d.encoding, d.decided_by), ("windows-1252", "declaration"));
        // Declared UTF-8 but not: the HTTP charset is tried next.
        let d = decode(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>\xe9t\xe9</t>",
            Some("iso-8859-1"),
        );
        assert_eq!(
            d.text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><t>été</t>"
        );
        // No hint at all: detected.
        let d = decode(
            "<t>Příliš žluťoučký kůň úpěl ďábelské ódy</t>".as_bytes(),
            None,
        );
        assert_eq!(d.decided_by, "default");
        let (win1250, _, _) = encoding_rs::WINDOWS_1250
            .encode("<t>Příliš žluťoučký kůň úpěl ďábelské ódy, příliš žluťoučký kůň</t>");
        let d = decode(&win1250, None);
        assert_eq!(d.decided_by, "detected");
        assert!(d.text.contains("žluťoučký"), "{}", d.text);
        // EBCDIC.
        let ebcdic: Vec<u8> = vec![
            0x4C, 0x6F, 0xA7, 0x94, 0x93, 0x40, 0x6F, 0x6E, 0x4C, 0xA3, 0x6E, 0xC1, 0xF1, 0x4C,
            0x61, 0xA3, 0x6E,
        ];
        assert_eq!(decode(&ebcdic, None).text, "<?xml ?><t>A1</t>");
    }

    #[test]
    fn issue_19_double_encoded_utf8_is_repaired() {
        let d = decode("<t>cafÃ© dâ€™or</t>".as_bytes(), None);
        assert_eq!(d.text, "<t>café d’or</t>");
        assert!(d.repaired_mojibake);
        // Real text with those letters stays.
        let d = decode("<t>Ångström Ärger Ã</t>".as_bytes(), None);
        assert_eq!(d.text, "<t>Ångström Ärger Ã</t>");
        assert_eq!(
            http_charset("text/xml; charset=\"Windows-1252\"").as_deref(),
            Some("Windows-1252")
        );
        assert_eq!(http_charset("text/xml"), None);
    }
}

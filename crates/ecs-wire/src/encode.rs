//! Percent-encoding and form decoding as the Alibaba Cloud signers use them (spec §1.2, §2.2).

/// RFC 3986 percent-encoding of the UTF-8 bytes of `s`: only `A-Z a-z 0-9 - _ . ~` stay literal,
/// everything else becomes `%XX` with upper-case hex. Space is `%20`, never `+`; `*` is `%2A`.
///
/// Both signature versions canonicalize with exactly this function, so it must match the SDKs
/// byte for byte (Python `quote(s, safe='~')`, Node `encodeURIComponent` plus `!'()*`).
pub fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() + s.len() / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0x0f)] as char);
        }
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` string (`+` is a space, then `%XX`) into
/// pairs in wire order, duplicates kept.
///
/// Form decoding is used for the query string too: Python Tea writes literal `+` for spaces in
/// the query while having signed `%20`, so only `+` → space makes its signature verify.
/// A bare key (`SignatureType` without `=`) decodes to an empty value, like `SignatureType=`.
pub fn form_decode(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Builds a query string or form body from pairs, encoding with [`percent_encode`] (so a space
/// goes out as `%20`, which every decoder accepts).
pub fn encode_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_unicode() {
        assert_eq!(percent_encode("a b*c~d/é"), "a%20b%2Ac~d%2F%C3%A9");
        assert_eq!(percent_encode("-_.AZaz09"), "-_.AZaz09");
        assert_eq!(percent_encode("!'()+=&:"), "%21%27%28%29%2B%3D%26%3A");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn form_decoding_treats_plus_as_space() {
        let pairs = form_decode(b"Tag.1.Value=v+w&A=%2B&SignatureType=&Bare&&");
        assert_eq!(
            pairs,
            vec![
                ("Tag.1.Value".to_string(), "v w".to_string()),
                ("A".to_string(), "+".to_string()),
                ("SignatureType".to_string(), String::new()),
                ("Bare".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn encode_pairs_round_trips() {
        let s = encode_pairs([("a b", "c+d"), ("e", "")]);
        assert_eq!(s, "a%20b=c%2Bd&e=");
        let back = form_decode(s.as_bytes());
        assert_eq!(back[0], ("a b".to_string(), "c+d".to_string()));
        assert_eq!(back[1], ("e".to_string(), String::new()));
    }
}

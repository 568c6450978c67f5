//! ECS's rules for what RunInstances is given about the instance itself: its password and
//! host name.

/// The characters ECS allows in a password besides letters and digits.
const PASSWORD_SPECIALS: &str = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/";

/// 8 to 30 characters, each a letter, a digit or one of [`PASSWORD_SPECIALS`], with at least
/// three of the four kinds (lower case, upper case, digit, special); not starting with `/`.
pub fn password_ok(p: &str) -> bool {
    let len = p.chars().count();
    if !(8..=30).contains(&len) || p.starts_with('/') {
        return false;
    }
    let mut kinds = [false; 4];
    for c in p.chars() {
        let k = match c {
            'a'..='z' => 0,
            'A'..='Z' => 1,
            '0'..='9' => 2,
            c if PASSWORD_SPECIALS.contains(c) => 3,
            _ => return false,
        };
        kinds[k] = true;
    }
    kinds.iter().filter(|k| **k).count() >= 3
}

/// A Linux host name: 2 to 64 characters of letters, digits, `.` and `-`, neither first nor
/// last, and never two of them in a row.
pub fn host_name_ok(h: &str) -> bool {
    let len = h.chars().count();
    if !(2..=64).contains(&len) {
        return false;
    }
    let sep = |c: char| c == '.' || c == '-';
    if h.starts_with(sep) || h.ends_with(sep) {
        return false;
    }
    let mut last_sep = false;
    for c in h.chars() {
        if !(c.is_ascii_alphanumeric() || sep(c)) {
            return false;
        }
        if sep(c) && last_sep {
            return false;
        }
        last_sep = sep(c);
    }
    true
}

/// The name (or host name) of instance number `k` (from 0) of a RunInstances call, as ECS
/// expands it: the first `[begin,bits]` placeholder becomes `begin + k`, zero-padded to `bits`
/// digits (`begin` 0 to 999999, default 0; `bits` 1 to 6, default 6); without one, and when
/// `unique_suffix` is asked for with more than one instance, a three-digit number from 001
/// is appended. Anything else is kept as written.
pub fn expand_name(pattern: &str, k: u32, amount: u32, unique_suffix: bool) -> String {
    if let Some((start, end, begin, bits)) = placeholder(pattern) {
        let n = u64::from(begin) + u64::from(k);
        let width = bits as usize;
        return format!("{}{n:0width$}{}", &pattern[..start], &pattern[end..]);
    }
    if unique_suffix && amount > 1 {
        return format!("{pattern}{:03}", k + 1);
    }
    pattern.to_string()
}

/// The first well-formed `[begin,bits]` in `s`: its byte range, begin and bits.
fn placeholder(s: &str) -> Option<(usize, usize, u32, u32)> {
    let mut from = 0;
    while let Some(open) = s[from..].find('[').map(|i| i + from) {
        let close = s[open..].find(']').map(|i| i + open)?;
        let inner = &s[open + 1..close];
        let parsed = inner.split_once(',').and_then(|(b, w)| {
            let digits = |t: &str| t.is_empty() || t.bytes().all(|c| c.is_ascii_digit());
            if !digits(b) || !digits(w) || b.len() > 6 || w.len() > 1 {
                return None;
            }
            let begin = if b.is_empty() { 0 } else { b.parse().ok()? };
            let bits = if w.is_empty() { 6 } else { w.parse().ok()? };
            (1..=6).contains(&bits).then_some((begin, bits))
        });
        if let Some((begin, bits)) = parsed {
            return Some((open, close + 1, begin, bits));
        }
        from = open + 1;
    }
    None
}

/// A Windows host name: 2 to 15 characters of letters, digits and `-`, not all digits, not
/// starting or ending with `-`.
pub fn windows_host_name_ok(h: &str) -> bool {
    let len = h.chars().count();
    (2..=15).contains(&len)
        && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !h.starts_with('-')
        && !h.ends_with('-')
        && !h.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert!(password_ok("Abcdefg1"));
        assert!(password_ok("abc123!@#"));
        assert!(!password_ok("abcdefgh1"), "two kinds");
        assert!(!password_ok("Ab1!"), "short");
        assert!(!password_ok(&"Ab1!".repeat(8)), "long");
        assert!(!password_ok("Abc def1"), "space");
        assert!(!password_ok("/Abcdef1"), "leading slash");
    }

    #[test]
    fn host_names() {
        assert!(host_name_ok("web-1.example"));
        assert!(!host_name_ok("a"));
        assert!(!host_name_ok("-web"));
        assert!(!host_name_ok("web."));
        assert!(!host_name_ok("web..1"));
        assert!(!host_name_ok("web_1"));
        assert!(!host_name_ok(&"a".repeat(65)));
        assert!(windows_host_name_ok("win-web-01"));
        assert!(!windows_host_name_ok("web.example"));
        assert!(!windows_host_name_ok("a-sixteen-chars1"));
        assert!(!windows_host_name_ok("12345"));
    }

    #[test]
    fn names_expand_as_ecs_does() {
        let names: Vec<String> = (0..3)
            .map(|k| expand_name("web-[1,4]", k, 3, false))
            .collect();
        assert_eq!(names, ["web-0001", "web-0002", "web-0003"]);
        assert_eq!(expand_name("a[,2]b", 1, 2, false), "a01b");
        assert_eq!(expand_name("a[5,]", 0, 1, false), "a000005");
        assert_eq!(expand_name("web", 1, 3, true), "web002");
        assert_eq!(expand_name("web", 0, 1, true), "web");
        assert_eq!(expand_name("web", 1, 3, false), "web");
        assert_eq!(expand_name("x[a,1][2,1]", 0, 2, false), "x[a,1]2");
        assert_eq!(expand_name("x[1,7]", 0, 2, false), "x[1,7]");
    }
}

//! ECS's rules for the names and descriptions people give resources: instance names, dedicated
//! host names, descriptions. Pure checks; each door answers a refusal with its operation's row.

use crate::launch::expand_name;

/// Names are 2 to 128 characters long (counted as characters, not bytes: a Chinese name
/// of 40 characters is fine).
const NAME_LENGTH: std::ops::RangeInclusive<usize> = 2..=128;
/// Descriptions are 2 to 256 characters long.
const DESCRIPTION_LENGTH: std::ops::RangeInclusive<usize> = 2..=256;
/// What a name may hold besides Unicode letters and digits.
const NAME_PUNCTUATION: &str = ":_.-";
/// What RunInstances' `InstanceName` may hold on top: the `[begin,bits]` placeholder of
/// sequential names.
const PLACEHOLDER_PUNCTUATION: &str = "[],";

fn length_in(s: &str, range: std::ops::RangeInclusive<usize>) -> bool {
    range.contains(&s.chars().count())
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || NAME_PUNCTUATION.contains(c)
}

/// A resource name as ECS documents it for CreateInstance's `InstanceName` and
/// AllocateDedicatedHosts' `DedicatedHostName`: 2 to 128 characters, each a Unicode letter
/// or digit or one of `:`, `_`, `.`, `-`. (No space, and no `/`, so never a URL either.)
pub fn name_ok(name: &str) -> bool {
    length_in(name, NAME_LENGTH) && name.chars().all(name_char)
}

/// ModifyInstanceAttribute's `InstanceName`: the same, and starting with a letter (its
/// documentation adds that rule; the creating calls' do not).
pub fn renamed_instance_name_ok(name: &str) -> bool {
    name_ok(name) && name.chars().next().is_some_and(char::is_alphabetic)
}

/// Why RunInstances' `InstanceName` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequentialNameRefusal {
    /// Not a name by the rule, as sent or as some instance would get it.
    Malformed,
    /// Fits as sent, but `UniqueSuffix`'s three digits would take it past 128 characters.
    NoRoomForSuffix,
}

/// RunInstances' `InstanceName` for `amount` instances. The value as sent is a name by
/// [`name_ok`]'s rule that may also hold `[`, `]` and `,` (the `[begin,bits]` placeholder);
/// and every name the instances get, placeholders expanded and a `UniqueSuffix` appended,
/// must still be 2 to 128 characters: `a[,6]` grows by two digits, `[1,1]` shrinks to one,
/// and the unique suffix adds three.
pub fn sequential_name_check(
    pattern: &str,
    amount: u32,
    unique_suffix: bool,
) -> Result<(), SequentialNameRefusal> {
    let pattern_ok = length_in(pattern, NAME_LENGTH)
        && pattern
            .chars()
            .all(|c| name_char(c) || PLACEHOLDER_PUNCTUATION.contains(c));
    if !pattern_ok {
        return Err(SequentialNameRefusal::Malformed);
    }
    // The first and last instance's names are the shortest and the longest: numbers only
    // grow with the instance, and whatever is appended is the same width for all.
    for k in [0, amount.saturating_sub(1)] {
        let name = expand_name(pattern, k, amount, unique_suffix);
        let len = name.chars().count();
        let suffixed = name != expand_name(pattern, k, amount, false);
        if suffixed && len > *NAME_LENGTH.end() {
            return Err(SequentialNameRefusal::NoRoomForSuffix);
        }
        if !length_in(&name, NAME_LENGTH) {
            return Err(SequentialNameRefusal::Malformed);
        }
    }
    Ok(())
}

/// A description (of an instance or a dedicated host): 2 to 256 characters of anything, not
/// starting with `http://` or `https://` (in any case: the rule keeps links out, and a link
/// is one whatever its case).
pub fn description_ok(description: &str) -> bool {
    let head: String = description.chars().take(8).collect::<String>();
    let head = head.to_ascii_lowercase();
    length_in(description, DESCRIPTION_LENGTH)
        && !head.starts_with("http://")
        && !head.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_and_four_marks() {
        for ok in [
            "web",
            "web-1",
            "db_2.prod:eu",
            "测试实例-1",
            "Ünïcødé",
            "ab",
            "9lives",
        ] {
            assert!(name_ok(ok), "{ok}");
        }
        for bad in [
            "a",
            "my web server",
            "web/1",
            "a*b",
            "tab\there",
            "http://x",
            "",
            "x[1,2]",
        ] {
            assert!(!name_ok(bad), "{bad}");
        }
        assert!(name_ok(&"a".repeat(128)));
        assert!(!name_ok(&"a".repeat(129)));
        // Counted in characters: 128 Chinese characters are 384 bytes and still fit.
        assert!(name_ok(&"名".repeat(128)));
        assert!(!name_ok(&"名".repeat(129)));
    }

    #[test]
    fn a_renamed_instance_starts_with_a_letter() {
        assert!(renamed_instance_name_ok("web-1"));
        assert!(renamed_instance_name_ok("实例1"));
        assert!(!renamed_instance_name_ok("1web"));
        assert!(!renamed_instance_name_ok("-web"));
        assert!(!renamed_instance_name_ok("_web"));
        assert!(!renamed_instance_name_ok("my web"));
    }

    #[test]
    fn sequential_names_are_checked_as_sent_and_as_given() {
        use SequentialNameRefusal::*;
        assert_eq!(sequential_name_check("web-[1,4]", 3, false), Ok(()));
        assert_eq!(
            sequential_name_check("k8s-node-[1,4]-eu", 100, true),
            Ok(())
        );
        assert_eq!(sequential_name_check("db", 2, true), Ok(()));
        // Brackets and commas that are no placeholder stay in the name, as ECS keeps them.
        assert_eq!(sequential_name_check("x[a,1]", 1, false), Ok(()));
        assert_eq!(
            sequential_name_check("my web-[1,4]", 2, false),
            Err(Malformed)
        );
        assert_eq!(sequential_name_check("a", 1, false), Err(Malformed));
        // `[1,1]` alone becomes "1": one character.
        assert_eq!(sequential_name_check("[1,1]", 1, false), Err(Malformed));
        assert_eq!(sequential_name_check("[10,2]", 1, false), Ok(()));
        // 124 characters and `[,6]`: 128 as sent, 130 once expanded.
        let grows = format!("{}[,6]", "a".repeat(124));
        assert_eq!(sequential_name_check(&grows, 2, false), Err(Malformed));
        let fits = format!("{}[,2]", "a".repeat(124));
        assert_eq!(sequential_name_check(&fits, 2, false), Ok(()));
        // Three digits more for UniqueSuffix, only when it applies (several instances).
        let full = "a".repeat(126);
        assert_eq!(sequential_name_check(&full, 2, true), Err(NoRoomForSuffix));
        assert_eq!(sequential_name_check(&full, 1, true), Ok(()));
        assert_eq!(sequential_name_check(&full, 2, false), Ok(()));
        assert_eq!(sequential_name_check(&"a".repeat(125), 2, true), Ok(()));
        assert_eq!(
            sequential_name_check(&"a".repeat(129), 1, false),
            Err(Malformed)
        );
    }

    #[test]
    fn descriptions_are_anything_but_a_link() {
        for ok in [
            "my web server",
            "测试 实例-1",
            "a*b~c!'(x)/y+z=&%20",
            "see http://x",
            "ab",
        ] {
            assert!(description_ok(ok), "{ok}");
        }
        for bad in [
            "http://example.com",
            "https://example.com",
            "HTTPS://EXAMPLE",
            "x",
            "",
        ] {
            assert!(!description_ok(bad), "{bad}");
        }
        assert!(description_ok(&"d".repeat(256)));
        assert!(!description_ok(&"d".repeat(257)));
    }
}

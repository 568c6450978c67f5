//! The request's parameter map and the typed readers operations use on it (spec §1.6).

use std::collections::BTreeMap;

use ecs_domain::ApiError;

use crate::codes::invalid_parameter;

/// All request parameters: query string ∪ form body, form-decoded, keyed by exact (case-sensitive)
/// name. Sorted by name, which is also the order both signature versions canonicalize in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the map from decoded pairs. A name given twice (in the query, in the body, or once
    /// in each) is ambiguous — no SDK does it — so it is rejected naming the parameter.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if map.contains_key(&k) {
                return Err(invalid_parameter(&k));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    /// Sets a parameter, replacing any previous value (for building requests in tests/clients).
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The value if the parameter was sent, possibly empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value if the parameter was sent with a non-empty value. Most operations treat
    /// `X=` like an absent `X` (the classic SDK sends `SignatureType=` that way).
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A Boolean parameter. Python SDKs send `True`/`False`, Node sends `true`/`false`, so the
    /// comparison ignores case. Absent or empty → `None`; anything else → InvalidParameter.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.non_empty(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(invalid_parameter(name)),
        }
    }

    /// A decimal integer parameter. Absent → `None`; anything but an i64, *including the empty
    /// string*, → InvalidParameter naming it. `PageSize=` is not "use the default": ECS is strict
    /// about typed parameters, and no SDK sends an integer empty (the only empty parameter in the
    /// captured SDK traffic is the classic core's `SignatureType=`, a string).
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| invalid_parameter(name)),
        }
    }

    /// Refuses list-shaped names ECS would refuse, so that no reader can silently drop or
    /// miscount them: `parse_request` calls this on every request.
    ///
    /// * Every index (a `.`-separated segment after the first that starts with a digit or a
    ///   sign) must be `1`, `2`, … without leading zeros and at most the list's documented
    ///   maximum ([`list_limit`]); `InstanceId.0`, `InstanceId.01`, `InstanceId.99999999999`,
    ///   `Tag.-1.Key` are InvalidParameter naming the parameter. An empty segment (`A..B`,
    ///   `A.`) is malformed the same way.
    /// * The lists the server reads ([`LISTS`]) must have exactly their shape: `InstanceId.N`,
    ///   `Tag.N.Field`; so `Tag.x.Key` or `Tag.1` is refused rather than ignored.
    /// * More than 20 tags (`Tag.21.*`) is InvalidTagCount, ECS's code for too many tags.
    pub fn check_lists(&self) -> Result<(), ApiError> {
        self.0.keys().try_for_each(|key| check_list_key(key))
    }

    /// [`Params::repeat_list`], refusing malformed or out-of-range indices of this list instead
    /// of skipping them (the checks of [`Params::check_lists`], for maps not built by
    /// `parse_request`).
    pub fn try_repeat_list(&self, prefix: &str) -> Result<Vec<String>, ApiError> {
        self.check_prefix(prefix)?;
        Ok(self.repeat_list(prefix))
    }

    /// [`Params::tags`], refusing malformed `Tag.N` names and more than [`MAX_TAGS`] tags.
    pub fn try_tags(&self) -> Result<Vec<(String, String)>, ApiError> {
        self.check_prefix("Tag")?;
        Ok(self.tags())
    }

    fn check_prefix(&self, prefix: &str) -> Result<(), ApiError> {
        self.with_prefix(prefix)
            .try_for_each(|(rest, _)| check_list_key(&format!("{prefix}.{rest}")))
    }

    /// A repeat list `Prefix.1`, `Prefix.2`, … in numeric order of N (so `.10` follows `.9`).
    /// Only keys of exactly the form `Prefix.N` with a valid index count (see
    /// [`Params::check_lists`], which `parse_request` has already enforced); values are returned
    /// as sent.
    pub fn repeat_list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u64, &str)> = self
            .with_prefix(prefix)
            .filter_map(|(rest, v)| Some((parse_index(rest)?, v)))
            .collect();
        items.sort_by_key(|&(n, _)| n);
        items.into_iter().map(|(_, v)| v.to_string()).collect()
    }

    /// A list of objects `Prefix.N.Field`, grouped by N in numeric order. Each entry maps the
    /// field name to its value (`Tag.1.Key=k` → `(1, {"Key": "k"})`).
    pub fn object_list(&self, prefix: &str) -> Vec<(u64, BTreeMap<&str, &str>)> {
        let mut groups: BTreeMap<u64, BTreeMap<&str, &str>> = BTreeMap::new();
        for (rest, v) in self.with_prefix(prefix) {
            let Some((index, field)) = rest.split_once('.') else {
                continue;
            };
            if let Some(n) = parse_index(index) {
                groups.entry(n).or_default().insert(field, v);
            }
        }
        groups.into_iter().collect()
    }

    /// Tags as `(Key, Value)` from `Tag.N.Key` / `Tag.N.Value`, in order of N. Entries without a
    /// non-empty Key are dropped; a missing Value is the empty string.
    pub fn tags(&self) -> Vec<(String, String)> {
        self.object_list("Tag")
            .into_iter()
            .filter_map(|(_, fields)| {
                let key = fields.get("Key").filter(|k| !k.is_empty())?;
                let value = fields.get("Value").copied().unwrap_or("");
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    }

    /// A parameter holding a JSON array of strings, e.g. DescribeInstances
    /// `InstanceIds=["i-a","i-b"]`. Absent or empty → `None`; not such an array → InvalidParameter.
    pub fn json_string_array(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let Some(raw) = self.non_empty(name) else {
            return Ok(None);
        };
        let invalid = || invalid_parameter(name);
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| invalid())?;
        let serde_json::Value::Array(items) = value else {
            return Err(invalid());
        };
        items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(invalid()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A comma-separated list (`InstanceId=i-a, i-b`): items trimmed, empty items dropped.
    /// `None` only when the parameter is absent.
    pub fn comma_list(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|raw| {
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    }

    /// All parameters in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `(rest, value)` for keys `prefix.rest`.
    fn with_prefix<'a>(&'a self, prefix: &str) -> impl Iterator<Item = (&'a str, &'a str)> {
        let start = format!("{prefix}.");
        let skip = start.len();
        self.0
            .range(start.clone()..)
            .take_while(move |(k, _)| k.starts_with(&start))
            .map(move |(k, v)| (&k[skip..], v.as_str()))
    }
}

/// ECS allows at most 20 tags per resource (Tag.N: N from 1 to 20 in every operation that
/// takes tags, e.g. RunInstances, AllocateDedicatedHosts, DescribeInstances).
pub const MAX_TAGS: u64 = 20;

/// The largest N accepted for a list the server has no specific limit for. 1000 is the largest
/// documented for any ECS repeat list (RunInstances `HostNames.N`, with Amount ≤ 1000); it keeps
/// absurd indices out while refusing nothing an SDK could legitimately send.
pub const DEFAULT_MAX_INDEX: u64 = 1000;

/// How a list's parameter names are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListShape {
    /// `Name.N`
    Values,
    /// `Name.N.Field`
    Objects,
}

/// The lists ecsd reads, with their shape and documented maximum N (ECS API reference):
/// DeleteInstances `InstanceId.N` 1–100; `Tag.N` 1–20; DescribeInstances `Filter.N` and
/// `AdditionalAttributes.N`, RunInstances `SecurityGroupIds.N`: no tighter limit is enforced
/// here than the default.
pub const LISTS: &[(&str, ListShape, u64)] = &[
    ("InstanceId", ListShape::Values, 100),
    ("SecurityGroupIds", ListShape::Values, DEFAULT_MAX_INDEX),
    ("AdditionalAttributes", ListShape::Values, DEFAULT_MAX_INDEX),
    ("Tag", ListShape::Objects, MAX_TAGS),
    ("Filter", ListShape::Objects, DEFAULT_MAX_INDEX),
];

/// The maximum N of list `name` (its first index).
pub fn list_limit(name: &str) -> u64 {
    LISTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or(DEFAULT_MAX_INDEX, |&(_, _, max)| max)
}

/// InvalidTagCount (400), from the ECS API reference error tables (RunInstances,
/// DescribeInstances, CreateSnapshot…: "The specified tags are beyond the permitted range."),
/// also listed for DescribeInstances in the project's ECS wire reference (§5.8).
pub const INVALID_TAG_COUNT: ecs_domain::error::ErrorCode = ecs_domain::error::ErrorCode::new(
    400,
    "InvalidTagCount",
    "The specified tags are beyond the permitted range.",
);

/// The checks of [`Params::check_lists`] for one parameter name.
fn check_list_key(key: &str) -> Result<(), ApiError> {
    let mut segments = key.split('.');
    let name = segments.next().unwrap_or_default();
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty() {
        return Ok(());
    }
    let invalid = || invalid_parameter(key);
    if let Some(&(_, shape, max)) = LISTS.iter().find(|(n, _, _)| *n == name) {
        let expected = match shape {
            ListShape::Values => 1,
            ListShape::Objects => 2,
        };
        if rest.len() != expected || rest.iter().any(|s| s.is_empty()) {
            return Err(invalid());
        }
        let n = parse_index(rest[0]).ok_or_else(invalid)?;
        if n > max {
            return Err(if name == "Tag" {
                INVALID_TAG_COUNT.err()
            } else {
                invalid()
            });
        }
        return Ok(());
    }
    // Any other dotted name: whatever looks like an index must be a valid one.
    for (i, segment) in rest.iter().enumerate() {
        let index_like = segment
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_digit() || b == b'-' || b == b'+');
        if index_like {
            let n = parse_index(segment).ok_or_else(invalid)?;
            if i == 0 && n > list_limit(name) || n > DEFAULT_MAX_INDEX {
                return Err(invalid());
            }
        }
    }
    Ok(())
}

/// A list index as ECS numbers them: `1`, `2`, … — ASCII digits only, no sign, no spaces, no
/// leading zero, not 0. `None` for anything else, including numbers too large for a u64.
pub fn parse_index(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || b[0] == b'0' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse().ok()
}

impl From<BTreeMap<String, String>> for Params {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    /// Later duplicates win; use [`Params::from_pairs`] to reject them instead.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<'a> IntoIterator for &'a Params {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().copied().collect()
    }

    #[test]
    fn get_and_non_empty() {
        let p = params(&[("A", ""), ("B", "x")]);
        assert_eq!(p.get("A"), Some(""));
        assert_eq!(p.non_empty("A"), None);
        assert_eq!(p.non_empty("B"), Some("x"));
        assert_eq!(p.get("C"), None);
    }

    #[test]
    fn booleans_ignore_case() {
        let p = params(&[
            ("a", "True"),
            ("b", "false"),
            ("c", "FALSE"),
            ("d", "yes"),
            ("e", ""),
        ]);
        assert_eq!(p.bool("a").unwrap(), Some(true));
        assert_eq!(p.bool("b").unwrap(), Some(false));
        assert_eq!(p.bool("c").unwrap(), Some(false));
        assert_eq!(p.bool("e").unwrap(), None);
        assert_eq!(p.bool("missing").unwrap(), None);
        let err = p.bool("d").unwrap_err();
        assert_eq!((err.code.as_ref(), err.status), ("InvalidParameter", 400));
        assert!(err.message.contains("\"d\""));
    }

    #[test]
    fn integers() {
        let p = params(&[("a", "10"), ("b", "-3"), ("c", "1.5"), ("d", " 1")]);
        assert_eq!(p.int("a").unwrap(), Some(10));
        assert_eq!(p.int("b").unwrap(), Some(-3));
        assert!(p.int("c").is_err());
        assert!(p.int("d").is_err());
        assert_eq!(p.int("x").unwrap(), None);
    }

    #[test]
    fn repeat_list_orders_numerically() {
        let p = params(&[
            ("InstanceId.10", "j"),
            ("InstanceId.2", "b"),
            ("InstanceId.1", "a"),
            ("InstanceId.x", "no"),
            ("InstanceId.1.Sub", "no"),
            ("InstanceIdX.1", "no"),
            ("InstanceId", "no"),
        ]);
        assert_eq!(p.repeat_list("InstanceId"), vec!["a", "b", "j"]);
        assert!(p.repeat_list("Nothing").is_empty());
    }

    #[test]
    fn tags_pair_keys_and_values() {
        let p = params(&[
            ("Tag.2.Key", "k2"),
            ("Tag.2.Value", "v 2"),
            ("Tag.1.Key", "k1"),
            ("Tag.1.Value", "v1"),
            ("Tag.3.Value", "orphan"),
            ("Tag.11.Key", "k11"),
        ]);
        assert_eq!(
            p.tags(),
            vec![
                ("k1".to_string(), "v1".to_string()),
                ("k2".to_string(), "v 2".to_string()),
                ("k11".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn json_string_arrays() {
        let p = params(&[
            ("Ids", r#"["i-a","i-b"]"#),
            ("Empty", "[]"),
            ("Bad", "[i-a]"),
            ("Nums", "[1]"),
            ("Obj", "{}"),
            ("Blank", ""),
        ]);
        assert_eq!(
            p.json_string_array("Ids").unwrap(),
            Some(vec!["i-a".to_string(), "i-b".to_string()])
        );
        assert_eq!(p.json_string_array("Empty").unwrap(), Some(vec![]));
        assert_eq!(p.json_string_array("Blank").unwrap(), None);
        assert_eq!(p.json_string_array("Missing").unwrap(), None);
        for name in ["Bad", "Nums", "Obj"] {
            let err = p.json_string_array(name).unwrap_err();
            assert_eq!(err.code, "InvalidParameter");
            assert!(err.message.contains(name));
        }
    }

    #[test]
    fn comma_lists() {
        let p = params(&[("A", " i-a, i-b ,,"), ("B", "")]);
        assert_eq!(
            p.comma_list("A"),
            Some(vec!["i-a".to_string(), "i-b".to_string()])
        );
        assert_eq!(p.comma_list("B"), Some(vec![]));
        assert_eq!(p.comma_list("C"), None);
    }

    /// Regression: an empty integer was taken as "absent" (the default) instead of refused.
    #[test]
    fn empty_integers_are_invalid() {
        let p = params(&[("PageSize", ""), ("SignatureType", "")]);
        let err = p.int("PageSize").unwrap_err();
        assert_eq!((err.code.as_ref(), err.status), ("InvalidParameter", 400));
        assert!(err.message.contains("\"PageSize\""));
        // Strings may still be empty (the classic core always sends SignatureType=).
        assert_eq!(p.get("SignatureType"), Some(""));
    }

    /// Regression: `InstanceId.0`, `.01`, huge indices and `Tag.-1.Key` were silently counted
    /// or dropped; they are InvalidParameter naming the parameter now.
    #[test]
    fn malformed_list_indices_are_refused() {
        for key in [
            "InstanceId.0",
            "InstanceId.01",
            "InstanceId.99999999999",
            "InstanceId.999999999999999999999999",
            "InstanceId.101",
            "InstanceId.+1",
            "InstanceId.-1",
            "InstanceId. 1",
            "InstanceId.",
            "InstanceId.x",
            "InstanceId.1.Sub",
            "Tag.-1.Key",
            "Tag.0.Key",
            "Tag.01.Value",
            "Tag.x.Key",
            "Tag.1",
            "Tag.1.",
            "Tag.1.Key.More",
            "Tag..Key",
            "Filter.0.Key",
            "DataDisk.01.Size",
            "Anything.1001",
            "Anything..x",
            "Nested.1.Item.0",
        ] {
            let err = params(&[(key, "v")]).check_lists().unwrap_err();
            assert_eq!(
                (err.code.as_ref(), err.status),
                ("InvalidParameter", 400),
                "{key}"
            );
            assert!(
                err.message.contains(&format!("\"{key}\"")),
                "{key}: {}",
                err.message
            );
        }
        for key in [
            "InstanceId",
            "InstanceId.1",
            "InstanceId.100",
            "Tag.1.Key",
            "Tag.20.Value",
            "Filter.4.Value",
            "AdditionalAttributes.2",
            "SystemDisk.Category",
            "DataDisk.16.Size",
            "HostNames.1000",
        ] {
            params(&[(key, "v")])
                .check_lists()
                .unwrap_or_else(|e| panic!("{key}: {e}"));
        }
    }

    /// ECS allows 20 tags; a 21st is InvalidTagCount (ECS API reference error tables).
    #[test]
    fn more_than_twenty_tags_are_refused() {
        let mut p = Params::new();
        for n in 1..=20 {
            p.insert(format!("Tag.{n}.Key"), format!("k{n}"));
        }
        p.check_lists().unwrap();
        assert_eq!(p.try_tags().unwrap().len(), 20);
        p.insert("Tag.21.Key", "k21");
        let err = p.check_lists().unwrap_err();
        assert_eq!(
            (err.code.as_ref(), err.status, err.message.as_ref()),
            (
                "InvalidTagCount",
                400,
                "The specified tags are beyond the permitted range."
            )
        );
        assert_eq!(p.try_tags().unwrap_err().code, "InvalidTagCount");
    }

    #[test]
    fn strict_readers_refuse_what_lenient_ones_skip() {
        let p = params(&[("InstanceId.1", "a"), ("InstanceId.01", "b")]);
        assert_eq!(p.repeat_list("InstanceId"), vec!["a"]);
        assert!(p.try_repeat_list("InstanceId").is_err());
        let p = params(&[("Tag.1.Key", "k"), ("Tag.-1.Key", "x")]);
        assert_eq!(p.tags().len(), 1);
        assert!(p.try_tags().is_err());
        assert_eq!(parse_index("7"), Some(7));
        for bad in ["", "0", "07", "-1", "+1", "1a", "99999999999999999999999"] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn duplicates_are_rejected() {
        let err = Params::from_pairs([
            ("A".to_string(), "1".to_string()),
            ("A".to_string(), "2".to_string()),
        ])
        .unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("\"A\""));
    }
}

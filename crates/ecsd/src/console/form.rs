//! Query strings and form bodies as name/value pairs, in order. A selection of instances is a
//! name given many times (`id=i-1&id=i-2`), which a map would lose.

use ecs_wire::encode::{encode_pairs, form_decode};

#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(raw: &[u8]) -> Self {
        Fields(form_decode(raw))
    }

    pub fn query(raw: Option<&str>) -> Self {
        Self::parse(raw.unwrap_or_default().as_bytes())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank value of `name`, in order, each once.
    pub fn all(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.0 {
            let v = v.trim();
            if k == name && !v.is_empty() && !out.iter().any(|seen| seen == v) {
                out.push(v.to_string());
            }
        }
        out
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A console address with its query: `/console/x?a=1&id=i-1&id=i-2`.
pub fn url<'a>(path: &str, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let query = encode_pairs(pairs.into_iter().filter(|(_, v)| !v.is_empty()));
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// `url` for a selection: `region` and one `id` per instance.
pub fn selection_url(path: &str, region: &str, ids: &[String]) -> String {
    let mut pairs = vec![("region", region)];
    pairs.extend(ids.iter().map(|id| ("id", id.as_str())));
    url(path, pairs)
}

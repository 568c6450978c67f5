//! Response bodies: JSON or XML success documents and the gateway-style error document
//! (spec §4.1–§4.3).

use std::borrow::Cow;

use ecs_domain::ApiError;
use serde_json::Value;

use crate::encode::percent_encode;
use crate::request::Format;

pub const CONTENT_TYPE_JSON: &str = "application/json;charset=utf-8";
/// Tea SDKs parse an XML error only when the Content-Type is exactly this string.
pub const CONTENT_TYPE_XML: &str = "text/xml;charset=utf-8";

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// A rendered response, ready for the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body as text (responses are always UTF-8).
    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("rendered bodies are UTF-8")
    }
}

/// A request id in the shape of real ones: an upper-case UUID v4
/// (`473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E`).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase()
}

/// A 200 response. `body` is the operation's result object including `RequestId`; it must not
/// contain `Code` (pop-core treats any other `Code` than OK/200/Success as an error).
///
/// XML: `<{action}Response>` holding one element per field; an array repeats its field's
/// element once per item (`{"Instance":[a,b]}` → `<Instance>a</Instance><Instance>b</Instance>`).
pub fn render_success(action: &str, format: Format, body: &Value) -> HttpResponse {
    debug_assert!(body.get("Code").is_none(), "success body with a Code field");
    match format {
        Format::Json => json_response(200, body.to_string()),
        Format::Xml => {
            let root = format!("{action}Response");
            let mut xml = String::from(XML_DECLARATION);
            write_element(&mut xml, &root, body);
            xml_response(200, xml)
        }
    }
}

/// A 200 JSON response whose body the caller already rendered (with `RequestId`, and under the
/// same rules as [`render_success`]).
pub fn render_success_json(body: String) -> HttpResponse {
    json_response(200, body)
}

/// An error response with the HTTP status of `err`, in the gateway's shape:
/// `RequestId`, `HostId`, `Code`, `Message`, `Recommend` (JSON object or XML `<Error>`).
pub fn render_error(
    format: Format,
    request_id: &str,
    host_id: &str,
    err: &ApiError,
) -> HttpResponse {
    let recommend = format!(
        "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={}",
        percent_encode(&err.code),
        percent_encode(request_id)
    );
    let fields = [
        ("RequestId", request_id),
        ("HostId", host_id),
        ("Code", err.code.as_ref()),
        ("Message", err.message.as_ref()),
        ("Recommend", recommend.as_str()),
    ];
    match format {
        Format::Json => {
            // Written by hand to keep the documented field order (serde_json's map sorts keys).
            let members: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{}", Value::from(*k), Value::from(*v)))
                .collect();
            json_response(err.status, format!("{{{}}}", members.join(",")))
        }
        Format::Xml => {
            let mut xml = String::from(XML_DECLARATION);
            xml.push_str("<Error>");
            for (k, v) in fields {
                write_element(&mut xml, k, &Value::from(v));
            }
            xml.push_str("</Error>");
            xml_response(err.status, xml)
        }
    }
}

fn json_response(status: u16, body: String) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CONTENT_TYPE_JSON,
        body: body.into_bytes(),
    }
}

fn xml_response(status: u16, body: String) -> HttpResponse {
    HttpResponse {
        status,
        content_type: CONTENT_TYPE_XML,
        body: body.into_bytes(),
    }
}

/// Writes `value` as element(s) named `name`. Arrays produce one element per item (nothing for
/// an empty array); null produces an empty element.
fn write_element(out: &mut String, name: &str, value: &Value) {
    if let Value::Array(items) = value {
        for item in items {
            write_element(out, name, item);
        }
        return;
    }
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                write_element(out, k, v);
            }
        }
        Value::String(s) => out.push_str(&escape_text(s)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Null | Value::Array(_) => {}
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Escapes text content. Characters XML 1.0 cannot carry at all (most C0 controls) become
/// U+FFFD so the document stays parseable whatever a user put into, say, an instance name;
/// `\r` is written as a reference because parsers would otherwise normalize it away.
fn escape_text(s: &str) -> Cow<'_, str> {
    let needs_fixing =
        |c: char| (c < ' ' && !matches!(c, '\t' | '\n')) || c == '\u{FFFE}' || c == '\u{FFFF}';
    if !s.chars().any(needs_fixing) {
        return quick_xml::escape::escape(s);
    }
    let cleaned: String = s
        .chars()
        .map(|c| {
            if needs_fixing(c) && c != '\r' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    Cow::Owned(quick_xml::escape::escape(cleaned.as_str()).replace('\r', "&#13;"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escaping() {
        assert_eq!(escape_text("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape_text("x\u{1}y\r\n"), "x\u{FFFD}y&#13;\n");
        assert_eq!(escape_text("plain"), "plain");
    }
}

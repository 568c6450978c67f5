//! Shared by the fuzz targets: turning fuzzer bytes into an HTTP request and checking the
//! invariant every target relies on (errors are ECS errors with a 4xx status, never panics).
#![allow(dead_code)]

use ecs_domain::ApiError;

pub const KEY_ID: &str = "testid";
pub const SECRET: &str = "testsecret";

pub fn secret_for(id: &str) -> Option<String> {
    (id == KEY_ID).then(|| SECRET.to_string())
}

/// An owned request read from an HTTP-like text, so seeds can be written by hand:
/// `METHOD PATH[?QUERY]\nname: value\n…\n\nBODY`. Anything unparsable still yields a request
/// (odd method, no headers…): the parser under test must cope with all of it.
pub struct Input {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Input {
    pub fn parse(data: &[u8]) -> Self {
        let split = data.windows(2).position(|w| w == b"\n\n");
        let (head, body) = match split {
            Some(i) => (&data[..i], data[i + 2..].to_vec()),
            None => (data, Vec::new()),
        };
        let head = String::from_utf8_lossy(head);
        let mut lines = head.split('\n');
        let first = lines.next().unwrap_or_default();
        let (method, target) = first.split_once(' ').unwrap_or((first, "/"));
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (target.to_string(), None),
        };
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Self {
            method: method.to_string(),
            path,
            query,
            headers,
            body,
        }
    }

    pub fn http(&self) -> ecs_wire::HttpRequest<'_> {
        ecs_wire::HttpRequest {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

/// Every refusal of a request is the client's fault: an ECS error with a 4xx status.
pub fn assert_client_error(err: &ApiError) {
    assert!(
        (400..500).contains(&err.status) && !err.code.is_empty() && !err.message.is_empty(),
        "not a client error: {err:?}"
    );
}

/// Parses, and if that succeeds verifies at the request's own timestamp with the test key.
/// Returns whether the request was accepted.
pub fn parse_and_verify(input: &Input) -> bool {
    let http = input.http();
    let _ = ecs_wire::error_format(&http);
    let rpc = match ecs_wire::parse_request(&http) {
        Ok(rpc) => rpc,
        Err(e) => {
            assert_client_error(&e);
            return false;
        }
    };
    let _ = rpc.check_version();
    let _ = rpc.action();
    match ecs_wire::verify_signature(&rpc, &http, rpc.timestamp, &secret_for) {
        Ok(_) => true,
        Err(e) => {
            assert_client_error(&e);
            false
        }
    }
}

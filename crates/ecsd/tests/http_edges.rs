//! The real `ecsd serve` binary, spoken to in raw HTTP/1.1 over TCP: requests that are
//! malformed, oversized or sent where nothing is served get an ECS error envelope, keep-alive
//! keeps working, and each RPC call leaves one line in the request log.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const KEY_ID: &str = "LTAIhttpedgestest";
const KEY_SECRET: &str = "edge-secret-never-logged";

struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `ecsd serve` on a free port with a data dir of its own; `log` is ECSD_LOG.
    fn start(name: &str, log: Option<&str>) -> Server {
        let dir =
            std::env::temp_dir().join(format!("ecsd-http-edges-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecsd"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
            .env("NO_COLOR", "1")
            .env_remove("ECSD_ADMIN_TOKEN")
            .env_remove("ECSD_CONFIG")
            .env_remove("ECSD_CLOCK")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match log {
            Some(filter) => cmd.env("ECSD_LOG", filter),
            None => cmd.env_remove("ECSD_LOG"),
        };
        let mut child = cmd.spawn().expect("start ecsd");

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err_pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });

        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let addr = loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                panic!("ecsd exited: {}", stderr.lock().unwrap());
            }
            if let Some(rest) = line.trim().strip_prefix("ecsd listening on http://") {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        // Keep draining standard output so the server never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server {
            child,
            addr,
            dir,
            stderr,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Sends `raw` on a new connection (from another thread, so that a server refusing to
    /// read it all cannot block the test) and reads one response.
    fn exchange(&self, raw: Vec<u8>) -> Reply {
        let stream = self.connect();
        let mut writer = stream.try_clone().unwrap();
        // The server may close before it has read everything: that error is expected.
        let sending = std::thread::spawn(move || {
            let _ = writer.write_all(&raw);
        });
        let reply = read_reply(&mut BufReader::new(stream)).expect("a response");
        let _ = sending.join();
        reply
    }

    /// The log lines written so far that mention `needle`, waiting a little for them.
    fn log_lines_with(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let found: Vec<String> = self
                .stderr
                .lock()
                .unwrap()
                .lines()
                .filter(|l| l.contains(needle))
                .map(strip_ansi)
                .collect();
            if !found.is_empty() || Instant::now() > deadline {
                return found;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        strip_ansi(&self.stderr.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Colour codes, in case the log is coloured after all.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts an ECS error envelope with this status and code, and returns it.
    fn assert_envelope(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json;charset=utf-8"),
            "{self:?}"
        );
        let body = self.json();
        assert_eq!(body["Code"], code, "{body}");
        for field in ["RequestId", "HostId", "Message", "Recommend"] {
            assert!(
                body[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} in {body}"
            );
        }
        body
    }
}

/// One response (status line, headers, a Content-Length body); None at end of stream.
fn read_reply(r: &mut impl BufRead) -> Option<Reply> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: ecs.test\r\n\r\n").into_bytes()
}

/// A V1-signed GET of `action` with the server's key.
fn signed_get(action: &str, secret: &str) -> String {
    let params: BTreeMap<String, String> = [
        ("AccessKeyId", KEY_ID),
        ("Action", action),
        ("Version", ecs_wire::API_VERSION),
        ("Format", "JSON"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &ecs_wire::new_request_id()),
        ("Timestamp", &ecs_wire::format_timestamp(chrono::Utc::now())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let query = ecs_wire::signed_query_v1("GET", &params, secret);
    format!("GET /?{query} HTTP/1.1\r\nHost: ecs.test\r\n\r\n")
}

#[test]
fn unparsable_requests_get_envelopes() {
    let server = Server::start("unparsable", Some("info,ecsd::access=debug"));

    let garbage = server.exchange(b"THIS IS NOT HTTP\r\n\r\n".to_vec());
    let body = garbage.assert_envelope(400, "InvalidParameter");
    assert_eq!(body["HostId"], "ecs.aliyuncs.com");
    assert_eq!(garbage.header("connection"), Some("close"));

    let nul = server.exchange(b"GET / HTTP/1.1\r\nHost: ecs.test\r\nX-Bad: a\0b\r\n\r\n".to_vec());
    nul.assert_envelope(400, "InvalidParameter");

    // A bad Content-Length is a head hyper refuses too.
    let bad_length = server
        .exchange(b"POST / HTTP/1.1\r\nHost: ecs.test\r\nContent-Length: lots\r\n\r\n".to_vec());
    bad_length.assert_envelope(400, "InvalidParameter");

    // Each refusal is in the request log with its RequestId.
    let id = body["RequestId"].as_str().unwrap();
    let lines = server.log_lines_with(id);
    assert_eq!(lines.len(), 1, "{}", server.log());
    assert!(lines[0].contains("code=InvalidParameter") && lines[0].contains("status=400"));
}

#[test]
fn oversized_heads_get_envelopes() {
    let server = Server::start("oversized", None);

    let params: Vec<String> = (0..10_000).map(|i| format!("Param{i}=value")).collect();
    let long_url = server.exchange(get(&format!("/?{}", params.join("&"))));
    long_url.assert_envelope(414, "InvalidParameter");

    let mut many = String::from("GET / HTTP/1.1\r\nHost: ecs.test\r\n");
    for i in 0..1_000 {
        many.push_str(&format!("X-Header-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    server
        .exchange(many.into_bytes())
        .assert_envelope(431, "InvalidParameter");

    let mut big = b"GET / HTTP/1.1\r\nHost: ecs.test\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    server
        .exchange(big)
        .assert_envelope(431, "InvalidParameter");
}

#[test]
fn an_over_limit_content_length_is_refused_at_once() {
    let server = Server::start("content-length", None);
    let started = Instant::now();
    // Only the head is sent: the answer must not wait for the body.
    let reply = server.exchange(
        b"POST / HTTP/1.1\r\nHost: ecs.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n\r\n"
            .to_vec(),
    );
    let body = reply.assert_envelope(413, "InvalidParameter");
    assert_eq!(body["HostId"], "ecs.test");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Just over the 2 MiB limit is refused the same way; at the limit it is read.
    let over = server.exchange(
        format!(
            "POST / HTTP/1.1\r\nHost: ecs.test\r\nContent-Length: {}\r\n\r\n",
            2 * 1024 * 1024 + 1
        )
        .into_bytes(),
    );
    over.assert_envelope(413, "InvalidParameter");
    let mut at_limit = format!(
        "POST / HTTP/1.1\r\nHost: ecs.test\r\nContent-Length: {}\r\n\r\n",
        2 * 1024 * 1024
    )
    .into_bytes();
    at_limit.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    // Read, then refused for what it lacks (no AccessKeyId), not for its size.
    server
        .exchange(at_limit)
        .assert_envelope(400, "MissingParameter");
}

#[test]
fn unknown_paths_and_methods_get_envelopes() {
    let server = Server::start("paths", None);

    let health = server.exchange(get("/health"));
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    let post_health = server
        .exchange(b"POST /health HTTP/1.1\r\nHost: ecs.test\r\nContent-Length: 0\r\n\r\n".to_vec());
    post_health.assert_envelope(404, "InvalidAction.NotFound");
    let delete_health =
        server.exchange(b"DELETE /health HTTP/1.1\r\nHost: ecs.test\r\n\r\n".to_vec());
    delete_health.assert_envelope(400, "UnsupportedHTTPMethod");

    server
        .exchange(get("/nope"))
        .assert_envelope(404, "InvalidAction.NotFound");
    server
        .exchange(b"PUT / HTTP/1.1\r\nHost: ecs.test\r\nContent-Length: 0\r\n\r\n".to_vec())
        .assert_envelope(400, "UnsupportedHTTPMethod");
    // ecsd's own 400 for a readable request passes through as it was rendered.
    let missing = server.exchange(get("/"));
    let body = missing.assert_envelope(400, "MissingParameter");
    assert_eq!(body["HostId"], "ecs.test");
}

#[test]
fn keep_alive_survives_error_answers() {
    let server = Server::start("keep-alive", None);
    let stream = server.connect();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for path in ["/nope", "/", "/health", "/nope"] {
        writer.write_all(&get(path)).unwrap();
        let reply = read_reply(&mut reader).expect("an answer on the same connection");
        assert_ne!(reply.header("connection"), Some("close"), "{reply:?}");
    }
    // A refused head ends the connection, after its envelope.
    writer.write_all(b"NOT HTTP\r\n\r\n").unwrap();
    read_reply(&mut reader)
        .expect("an envelope")
        .assert_envelope(400, "InvalidParameter");
    assert!(read_reply(&mut reader).is_none());
}

/// One access-log line per call with ECSD_LOG=debug (or the access target alone at debug), with
/// no secret; none at the default level.
#[test]
fn each_call_is_logged_once_without_secrets() {
    {
        let server = Server::start("log-default", None);
        let ok = server.exchange(signed_get("DescribeRegions", KEY_SECRET).into_bytes());
        assert_eq!(ok.status, 200, "{:?}", String::from_utf8_lossy(&ok.body));
        let ok_id = ok.json()["RequestId"].as_str().unwrap().to_string();
        assert!(
            server.log_lines_with(&ok_id).is_empty(),
            "no call line at the default level: {}",
            server.log()
        );
    }
    for (name, filter) in [
        ("log-debug", Some("debug")),
        ("log-access", Some("info,ecsd::access=debug")),
    ] {
        let server = Server::start(name, filter);

        let ok = server.exchange(signed_get("DescribeRegions", KEY_SECRET).into_bytes());
        assert_eq!(ok.status, 200, "{:?}", String::from_utf8_lossy(&ok.body));
        let ok_id = ok.json()["RequestId"].as_str().unwrap().to_string();

        let signed_wrong = signed_get("DescribeInstances", "not-the-secret");
        let signature = signed_wrong
            .split(['?', '&', ' '])
            .find_map(|p| p.strip_prefix("Signature="))
            .unwrap()
            .to_string();
        let refused = server.exchange(signed_wrong.into_bytes());
        let refused_id = refused.assert_envelope(400, "SignatureDoesNotMatch")["RequestId"]
            .as_str()
            .unwrap()
            .to_string();

        let ok_lines = server.log_lines_with(&ok_id);
        assert_eq!(ok_lines.len(), 1, "{name}: {}", server.log());
        let line = &ok_lines[0];
        for field in [
            "ecsd::access".to_string(),
            format!("request_id={ok_id}"),
            "action=DescribeRegions".to_string(),
            format!("access_key_id={KEY_ID}"),
            "code=OK".to_string(),
            "status=200".to_string(),
            "duration_ms=".to_string(),
        ] {
            assert!(line.contains(&field), "{name}: {field} not in {line}");
        }
        assert!(line.contains(" DEBUG "), "{name}: {line}");

        let refused_lines = server.log_lines_with(&refused_id);
        assert_eq!(refused_lines.len(), 1, "{name}: {}", server.log());
        for field in [
            "action=DescribeInstances",
            "code=SignatureDoesNotMatch",
            "status=400",
        ] {
            assert!(
                refused_lines[0].contains(field),
                "{name}: {field} not in {}",
                refused_lines[0]
            );
        }

        let log = server.log();
        assert!(!log.contains(KEY_SECRET), "{name}: the secret is logged");
        assert!(!log.contains(&signature), "{name}: a signature is logged");
        assert!(
            !log.contains("SignatureNonce"),
            "{name}: parameters are logged"
        );
    }
}

//! Commands that talk to a running server's admin API. A few requests on loopback do not
//! need an HTTP client library: plain HTTP/1.1 with `Connection: close` is enough.

use std::io::{Read, Write};
use std::net::TcpStream;

use ecs_service::clock::{advance_stored, latest_time, parse_duration, AdvanceError};
use ecs_store::TxError;
use serde_json::Value;

use crate::accounts::{lock_out_servers_in, open_store_in, DataDirError};
use crate::output::{say, OutputError};
use crate::AdminTarget;
use crate::DataDir;

/// Why a command against the admin API (or the offline clock) failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("only http:// server URLs are supported")]
    NotHttp,
    #[error("no host in server URL {url:?}")]
    NoHost { url: String },
    #[error("set ECSD_ADMIN_TOKEN (or --admin-token) to the server's admin token")]
    NoToken,
    #[error("cannot reach {server}")]
    Connect {
        server: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot send")]
    Send(#[source] std::io::Error),
    #[error("cannot read the answer")]
    Receive(#[source] std::io::Error),
    #[error("malformed HTTP answer")]
    MalformedAnswer,
    #[error("malformed status line")]
    MalformedStatus,
    /// The admin API's `error` field when it sent one, else the whole body.
    #[error("server answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("bad duration {duration:?}: use e.g. 9d12h, 90m, 30s")]
    BadDuration { duration: String },
    #[error("cannot move the stored clock")]
    StoredClock(#[source] TxError),
    #[error("this data dir has no virtual clock (serve it once with --clock virtual)")]
    NoVirtualClock,
    #[error("the clock cannot move backwards")]
    Backwards,
    #[error("too far: the clock stops at {latest}")]
    TooFar { latest: String },
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

fn call(
    target: &AdminTarget,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, CliError> {
    let base = target
        .server
        .strip_prefix("http://")
        .ok_or(CliError::NotHttp)?;
    // `http://HOST:PORT`, with or without a trailing path (`.../admin`), port 80 if none.
    let authority = base.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(CliError::NoHost {
            url: target.server.clone(),
        });
    }
    let host = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.contains(']'))
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let host = host.as_str();
    let token = target.admin_token.as_deref().ok_or(CliError::NoToken)?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} /admin{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    let mut stream = TcpStream::connect(host).map_err(|source| CliError::Connect {
        server: target.server.clone(),
        source,
    })?;
    stream
        .write_all(request.as_bytes())
        .map_err(CliError::Send)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(CliError::Receive)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or(CliError::MalformedAnswer)?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(CliError::MalformedStatus)?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    let value: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
    if status >= 400 {
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(body);
        return Err(CliError::Refused { status, message });
    }
    Ok(value)
}

fn bad_duration(duration: &str) -> CliError {
    CliError::BadDuration {
        duration: duration.to_string(),
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn clock_show(target: &AdminTarget) -> Result<(), CliError> {
    let v = call(target, "GET", "/clock", None)?;
    say!(
        "{} ({})",
        v["now"].as_str().unwrap_or("?"),
        v["mode"].as_str().unwrap_or("?")
    )?;
    Ok(())
}

pub fn clock_advance(target: &AdminTarget, duration: &str) -> Result<(), CliError> {
    let seconds = parse_duration(duration).ok_or_else(|| bad_duration(duration))?;
    let v = call(
        target,
        "POST",
        "/clock/advance",
        Some(&serde_json::json!({ "seconds": seconds })),
    )?;
    say!("now {}", v["now"].as_str().unwrap_or("?"))?;
    for a in v["actions"].as_array().into_iter().flatten() {
        say!(
            "  {} {} {} (due {}): {}",
            a["action"].as_str().unwrap_or(""),
            a["resource_type"].as_str().unwrap_or(""),
            a["resource_id"].as_str().unwrap_or(""),
            a["scheduled_at"].as_str().unwrap_or(""),
            a["outcome"].as_str().unwrap_or(""),
        )?;
    }
    Ok(())
}

pub fn events(target: &AdminTarget, since: Option<&str>) -> Result<(), CliError> {
    let path = match since {
        Some(s) => format!("/events?since={s}"),
        None => "/events".to_string(),
    };
    let v = call(target, "GET", &path, None)?;
    for e in v["events"].as_array().into_iter().flatten() {
        say!(
            "{} {} {} {} {} (due {})",
            e["happened_at"].as_str().unwrap_or(""),
            e["action"].as_str().unwrap_or(""),
            e["resource_type"].as_str().unwrap_or(""),
            e["resource_id"].as_str().unwrap_or(""),
            e["outcome"].as_str().unwrap_or(""),
            e["scheduled_at"].as_str().unwrap_or("-"),
        )?;
    }
    say!("next cursor: {}", v["next"].as_str().unwrap_or(""))?;
    Ok(())
}

/// Moves the stored virtual time of a stopped server. Nothing runs now: the server carries out
/// what fell due, in due order, when it starts.
///
/// On a shared database there is no lock to keep servers out: running servers see the new
/// time at once (the clock is a row) and carry out what fell due as their scheduler comes by.
pub fn clock_advance_offline(dir: &DataDir, duration: &str) -> Result<(), CliError> {
    let seconds = parse_duration(duration)
        .filter(|s| *s >= 0)
        .ok_or_else(|| bad_duration(duration))?;
    let _stopped = lock_out_servers_in(dir)?;
    let store = open_store_in(dir)?;
    let now = match advance_stored(&*store, seconds).map_err(CliError::StoredClock)? {
        Ok(to) => to,
        Err(AdvanceError::RealClock) => return Err(CliError::NoVirtualClock),
        Err(AdvanceError::Backwards) => return Err(CliError::Backwards),
        Err(AdvanceError::TooFar) => {
            return Err(CliError::TooFar {
                latest: latest_time().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        }
    };
    say!(
        "stored virtual time is now {}",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )?;
    Ok(())
}

//! A small HTTP/1.1 client over one tokio TCP connection: enough for a load generator on
//! loopback, and cheap, so that the generator's own cost stays small next to the server's.
//!
//! One request at a time per connection (no pipelining). The connection is kept alive unless the
//! server says `Connection: close` (moto's server does, after every answer), in which case the
//! next request opens a new one. Bodies come with `Content-Length`, `Transfer-Encoding: chunked`
//! or, failing both, run to the end of the connection.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An answer: status code and body (de-chunked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// What the head of an answer says about the body and the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    status: u16,
    length: BodyLength,
    close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLength {
    Fixed(usize),
    Chunked,
    UntilClose,
}

/// The largest head accepted before the answer is declared malformed.
const MAX_HEAD: usize = 64 * 1024;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Parses a response head (status line and headers, without the blank line).
fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(head).map_err(|_| bad("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!("not an HTTP/1.x answer: {status_line:?}")));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let mut close = version == "HTTP/1.0";
    let mut length = BodyLength::UntilClose;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            if length != BodyLength::Chunked {
                let n = value
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length {value:?}")))?;
                length = BodyLength::Fixed(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                length = BodyLength::Chunked;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                close = true;
            } else if v.contains("keep-alive") {
                close = false;
            }
        }
    }
    // 1xx, 204 and 304 answers have no body whatever the headers say.
    if status < 200 || status == 204 || status == 304 {
        length = BodyLength::Fixed(0);
    }
    Ok(Head {
        status,
        length,
        close,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One client connection to `addr`, opened on first use and again after the server closes it.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    /// Bytes read but not consumed yet; `pos` is where the unconsumed part starts.
    buf: Vec<u8>,
    pos: usize,
    /// New TCP connections opened after the first one.
    pub reconnects: u64,
    opened: u64,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Conn {
            addr,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
            pos: 0,
            reconnects: 0,
            opened: 0,
        }
    }

    /// Sends one complete request (head and body, as bytes) and reads the whole answer.
    ///
    /// A kept-alive connection that the server closed while idle fails on first use; such a
    /// request is sent once more on a fresh connection, since the server cannot have acted on it.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<Response> {
        let reused = self.stream.is_some();
        match self.exchange(request).await {
            Ok(r) => Ok(r),
            Err(e) if reused && is_stale_connection(&e) => {
                self.stream = None;
                self.exchange(request).await
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<Response> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            if self.opened > 0 {
                self.reconnects += 1;
            }
            self.opened += 1;
            self.stream = Some(s);
            self.buf.clear();
            self.pos = 0;
        }
        self.stream
            .as_mut()
            .expect("connected above")
            .write_all(request)
            .await?;
        let (head_end, head) = loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n\r\n") {
                let start = self.pos;
                let head = parse_head(&self.buf[start..start + i])?;
                break (start + i + 4, head);
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(bad("response head too large"));
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before an answer",
                ));
            }
        };
        self.pos = head_end;
        let body = match head.length {
            BodyLength::Fixed(n) => self.take(n).await?,
            BodyLength::Chunked => self.take_chunked().await?,
            BodyLength::UntilClose => {
                while self.fill().await? > 0 {}
                let body = self.buf[self.pos..].to_vec();
                self.pos = self.buf.len();
                self.stream = None;
                body
            }
        };
        if head.close {
            self.stream = None;
        }
        // Nothing is pipelined, so an empty remainder is the normal case: start over at 0.
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        Ok(Response {
            status: head.status,
            body,
        })
    }

    /// Reads more bytes into the buffer; 0 at the end of the connection.
    async fn fill(&mut self) -> io::Result<usize> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "not connected"))?;
        if self.buf.capacity() - self.buf.len() < 8 * 1024 {
            self.buf.reserve(self.buf.len().max(16 * 1024));
        }
        stream.read_buf(&mut self.buf).await
    }

    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() - self.pos < n {
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a body",
                ));
            }
        }
        let body = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(body)
    }

    async fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]).into_owned();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a chunked body",
                ));
            }
        }
    }

    async fn take_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            body.extend_from_slice(&self.take(size).await?);
            if !self.line().await?.is_empty() {
                return Err(bad("chunk not followed by CRLF"));
            }
        }
    }
}

fn is_stale_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// `GET {path_and_query}` with no body.
pub fn get(host: &str, path_and_query: &str, extra_headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in extra_headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A request with a body (`Content-Length` is added).
pub fn with_body(
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn head_with_content_length_keeps_the_connection() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\ncontent-type: x").unwrap();
        assert_eq!(
            h,
            Head {
                status: 200,
                length: BodyLength::Fixed(12),
                close: false
            }
        );
    }

    #[test]
    fn head_with_connection_close_and_chunking() {
        let h = parse_head(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close",
        )
        .unwrap();
        assert_eq!(h.status, 404);
        assert_eq!(h.length, BodyLength::Chunked);
        assert!(h.close);
    }

    #[test]
    fn http_1_0_closes_by_default_and_garbage_is_refused() {
        assert!(parse_head(b"HTTP/1.0 200 OK").unwrap().close);
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
        assert!(parse_head(b"HTTP/1.1 abc OK").is_err());
    }

    /// Serves canned answers, one per request, on a real socket.
    async fn canned(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            for answer in answers {
                let mut seen = Vec::new();
                let mut chunk = [0u8; 1024];
                while find(&seen, b"\r\n\r\n").is_none() {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&chunk[..n]);
                }
                s.write_all(answer).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn reads_fixed_and_chunked_bodies_on_one_connection() {
        let addr = canned(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        ])
        .await;
        let mut c = Conn::new(addr);
        let r = c.send(&get("h", "/", &[])).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let r = c.send(&get("h", "/", &[])).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        assert_eq!(c.reconnects, 0);
    }

    #[tokio::test]
    async fn a_closed_connection_is_reopened_for_the_next_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut chunk = [0u8; 1024];
                let _ = s.read(&mut chunk).await.unwrap();
                s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbye")
                    .await
                    .unwrap();
            }
        });
        let mut c = Conn::new(addr);
        for _ in 0..2 {
            let r = c
                .send(&with_body("POST", "h", "/", &[], b"a=b"))
                .await
                .unwrap();
            assert_eq!(r.body, b"bye");
        }
        assert_eq!(c.reconnects, 1);
    }
}

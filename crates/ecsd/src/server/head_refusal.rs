//! ECS error envelopes for requests that hyper refuses before ecsd sees them.
//!
//! hyper parses each request head itself and, when it cannot (a garbage request line, a NUL
//! byte in a header, a URL over 64 KiB, more than 100 headers or a head larger than its read
//! buffer), it writes an automatic answer with an empty body (`400`, `414` or `431`) and
//! closes the connection. The SDKs then see an error without a `Code`.
//!
//! Two other ways were weighed and not taken:
//! - Raising hyper's limits (`max_headers`, `max_buf_size`) only moves the line: past the new
//!   limit the answer is empty again, every connection may then hold a bigger head in memory,
//!   and a malformed head or a URL over 64 KiB (a hard limit of hyper and `http::Uri`) can
//!   never reach a handler at all.
//! - Parsing heads before hyper would mean tracking where each request of a keep-alive
//!   connection ends (lengths, chunked bodies): a second HTTP implementation to keep right.
//!
//! Instead the connection's writes pass through [`EnvelopeRefusals`], which recognises hyper's
//! automatic answer and sends an envelope in its place. hyper writes that answer only when no
//! response is under way (`on_parse_error` checks that its writer is idle), so it arrives as
//! one whole write at a response boundary, and its shape is exact: a `400`/`414`/`431` status
//! line, then only `connection: close`, `content-length: 0` and `date`. A response of ecsd's
//! always carries a `content-type`, so it can never match. The limits themselves stay hyper's
//! defaults, which keep a connection's memory bounded.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ecs_domain::ErrorCode;
use ecs_wire::{new_request_id, render_error, Format};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::access_log;
use super::rpc::DEFAULT_HOST_ID;

const MALFORMED: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter",
    "The request is not well-formed HTTP/1.1: its request line or a header could not be read.",
);
const URI_TOO_LONG: ErrorCode = ErrorCode::new(
    414,
    "InvalidParameter",
    "The request URL is longer than the 65534 bytes this endpoint accepts.",
);
const HEADERS_TOO_LARGE: ErrorCode = ErrorCode::new(
    431,
    "InvalidParameter",
    "The request headers are too large: at most 100 header fields and about 400 KB in all.",
);

/// hyper's automatic answers are a line and three headers; anything longer is not one.
const MAX_AUTOMATIC_ANSWER: usize = 512;

/// A connection's byte stream, with hyper's empty automatic error answers replaced by ECS
/// error envelopes. Reads pass through untouched.
pub struct EnvelopeRefusals<S> {
    inner: S,
    /// The envelope that replaced an automatic answer, and how much of it is written. hyper
    /// was told its own bytes were written, so this is finished on the next write, flush or
    /// shutdown.
    pending: Vec<u8>,
    written: usize,
}

impl<S> EnvelopeRefusals<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> EnvelopeRefusals<S> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` in place of the envelope if it is hyper's automatic answer. The envelope
    /// goes out as far as the socket takes it now; the rest follows on flush.
    fn replace(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Option<Poll<io::Result<usize>>> {
        let envelope = envelope_for(buf)?;
        self.pending = envelope;
        self.written = 0;
        Some(match self.poll_pending(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for EnvelopeRefusals<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EnvelopeRefusals<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if let Some(done) = this.replace(cx, buf) {
            return done;
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        // An automatic answer has no body, so it comes as the only non-empty slice.
        let mut non_empty = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (non_empty.next(), non_empty.next()) {
            if let Some(done) = this.replace(cx, only) {
                return done;
            }
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The envelope to send instead of `buf`, if `buf` is exactly one of hyper's automatic
/// answers. The request could not be read, so its Host and Format are unknown: the envelope
/// is JSON (which every SDK reads as an error) with the default HostId.
fn envelope_for(buf: &[u8]) -> Option<Vec<u8>> {
    if buf.len() > MAX_AUTOMATIC_ANSWER {
        return None;
    }
    let head = std::str::from_utf8(buf).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code = match status_line.strip_prefix("HTTP/1.1 ")?.get(..4)? {
        "400 " => MALFORMED,
        "414 " => URI_TOO_LONG,
        "431 " => HEADERS_TOO_LARGE,
        _ => return None,
    };
    let mut empty = false;
    let mut date = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value == "0" => empty = true,
            "connection" if value.eq_ignore_ascii_case("close") => {}
            "date" => date = Some(value),
            // Any other header (content-type above all) means a response of ecsd's own.
            _ => return None,
        }
    }
    if !empty {
        return None;
    }

    let request_id = new_request_id();
    let err = code.err();
    let rendered = render_error(Format::Json, &request_id, DEFAULT_HOST_ID, &err);
    access_log::refused(&request_id, &err);
    let mut out = format!(
        "{status_line}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
        rendered.content_type,
        rendered.body.len()
    );
    if let Some(date) = date {
        out.push_str("date: ");
        out.push_str(date);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(&rendered.body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &str = "date: Tue, 01 Dec 2026 04:35:12 GMT";

    fn automatic(status: &str) -> Vec<u8> {
        format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\n{DATE}\r\n\r\n")
            .into_bytes()
    }

    fn parts(out: &[u8]) -> (String, serde_json::Value) {
        let text = std::str::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (head.to_string(), serde_json::from_str(body).unwrap())
    }

    #[test]
    fn each_automatic_answer_becomes_an_envelope() {
        for (status, line) in [
            ("400 Bad Request", "HTTP/1.1 400 Bad Request"),
            ("414 URI Too Long", "HTTP/1.1 414 URI Too Long"),
            (
                "431 Request Header Fields Too Large",
                "HTTP/1.1 431 Request Header Fields Too Large",
            ),
        ] {
            let out = envelope_for(&automatic(status)).expect("replaced");
            let (head, body) = parts(&out);
            assert!(head.starts_with(line), "{head}");
            assert!(head.contains("content-type: application/json;charset=utf-8"));
            assert!(head.contains("connection: close"));
            assert!(head.contains(DATE));
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, out.len() - head.len() - 4);
            assert_eq!(body["Code"], "InvalidParameter");
            assert_eq!(body["HostId"], DEFAULT_HOST_ID);
            for field in ["RequestId", "Message", "Recommend"] {
                assert!(body[field].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
    }

    #[test]
    fn responses_of_ecsd_pass_untouched() {
        // An envelope of ecsd's own has a content-type and a body.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json;charset=utf-8\r\ncontent-length: 2\r\n\r\n{}";
        assert!(envelope_for(own).is_none());
        // Other statuses, other headers, partial heads, body bytes.
        assert!(envelope_for(&automatic("404 Not Found")).is_none());
        assert!(envelope_for(&automatic("200 OK")).is_none());
        let with_allow =
            b"HTTP/1.1 400 Bad Request\r\nallow: GET\r\ncontent-length: 0\r\n\r\n".as_slice();
        assert!(envelope_for(with_allow).is_none());
        let nonzero = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 5\r\n\r\n".as_slice();
        assert!(envelope_for(nonzero).is_none());
        let unfinished = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n".as_slice();
        assert!(envelope_for(unfinished).is_none());
        assert!(envelope_for(b"{\"RequestId\":\"x\"}").is_none());
    }

    #[tokio::test]
    async fn the_stream_writes_the_envelope_and_passes_other_bytes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (near, mut far) = tokio::io::duplex(64 * 1024);
        let mut wrapped = EnvelopeRefusals::new(near);
        wrapped
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        let answer = automatic("431 Request Header Fields Too Large");
        let n = wrapped.write(&answer).await.unwrap();
        assert_eq!(n, answer.len(), "hyper is told its answer went out whole");
        wrapped.shutdown().await.unwrap();
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        let text = String::from_utf8(got).unwrap();
        let (first, rest) = text.split_at("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".len());
        assert_eq!(first, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert!(rest.starts_with("HTTP/1.1 431 "));
        assert!(rest.contains("\"Code\":\"InvalidParameter\""));
    }
}

//! Clients that stop half way do not hold a connection forever: unfinished headers are cut off
//! after [`HEADER_TIMEOUT`] (30 s), and a body that stops half way is answered with an ECS
//! error (408 RequestTimeout) once the body time limit (30 s) runs out. Served by the real
//! connection loop over a real socket, on tokio's paused clock: the 30 s pass in no time, and
//! the test still sees that it was 30 s, not less.

mod common;

use std::time::Duration;

use common::TestServer;
use ecsd::server::listen::{serve, HEADER_TIMEOUT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

/// Far past both limits: a limit that does not act shows as this deadline running out.
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_mid_request_is_answered_or_cut_off_after_30_seconds() {
    assert_eq!(HEADER_TIMEOUT, Duration::from_secs(30));
    let server = TestServer::new("slow-clients");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(serve(
        listener,
        server.router.clone(),
        std::future::pending::<()>(),
    ));

    let mut no_end = TcpStream::connect(addr).await.unwrap();
    no_end
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\n") // headers never finished
        .await
        .unwrap();
    let mut short = TcpStream::connect(addr).await.unwrap();
    short
        .write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
              Content-Length: 1000\r\n\r\nAction=Desc", // 11 of 1000 bytes
        )
        .await
        .unwrap();
    let started = Instant::now();

    let mut answer = Vec::new();
    timeout(DEADLINE, async {
        let mut buf = [0u8; 65536];
        loop {
            let n = short.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if n == 0 || (text.contains("\r\n\r\n") && text.contains('}')) {
                break;
            }
        }
    })
    .await
    .expect("a body that stopped half way was never answered");
    let answered_after = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    for field in [
        "\"Code\":\"RequestTimeout\"",
        "\"RequestId\"",
        "\"HostId\"",
        "\"Message\"",
    ] {
        assert!(text.contains(field), "no {field} in {text}");
    }
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(31)).contains(&answered_after),
        "the body limit acted after {answered_after:?}, not 30 s"
    );

    // hyper closes it, possibly after a bare 408 status line; either way it reaches end of file.
    let mut rest = Vec::new();
    timeout(DEADLINE, no_end.read_to_end(&mut rest))
        .await
        .expect("a connection with unfinished headers was never closed")
        .unwrap();
    let closed_after = started.elapsed();
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(31)).contains(&closed_after),
        "the header limit acted after {closed_after:?}, not 30 s"
    );
    serving.abort();
}

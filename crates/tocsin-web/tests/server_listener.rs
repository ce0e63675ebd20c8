//! The listener's limits, over raw TCP: a client trickling its headers (slowloris) is
//! cut off after the header-read timeout, a request whose body never arrives is answered
//! 503 after the request timeout, and past the connection limit a new connection is
//! closed at once while the open ones keep being served.

use std::time::{Duration, Instant};
use tocsin_web::server::ListenerLimits;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::server_support::Srv;
use crate::support::Backend;

async fn server(limits: ListenerLimits) -> Srv {
    Srv::start_with(Backend::Sqlite, |o| o.server.listener = limits).await
}

/// What the server sends until it closes the connection (or `patience` passes), while
/// `trickle` bytes go out one every 200 ms; and how long that took.
async fn until_closed(
    stream: &mut TcpStream,
    trickle: bool,
    patience: Duration,
) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    while started.elapsed() < patience {
        if trickle && stream.write_all(b"X").await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

/// Sends a GET of `/healthz` on `stream` and reads the answer's first bytes.
async fn health(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .map_or(0, |r| r.unwrap_or(0));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_disconnected_after_the_header_timeout() {
    let s = server(ListenerLimits {
        header_read_timeout: Duration::from_secs(1),
        ..ListenerLimits::default()
    })
    .await;
    let mut slow = TcpStream::connect(s.harness.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    // One header byte every 200 ms, never the blank line that ends the headers.
    let (said, took) = until_closed(&mut slow, true, Duration::from_secs(10)).await;
    assert!(
        took < Duration::from_secs(5),
        "still connected after {took:?}"
    );
    assert!(took >= Duration::from_millis(800), "closed after {took:?}");
    assert!(!said.contains("200 OK"), "{said}");

    // A client that sends its headers at once is served.
    let mut quick = TcpStream::connect(s.harness.addr).await.unwrap();
    assert!(health(&mut quick).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn a_request_whose_body_never_arrives_is_answered_503_after_the_request_timeout() {
    let s = server(ListenerLimits {
        request_timeout: Duration::from_secs(1),
        ..ListenerLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(s.harness.addr).await.unwrap();
    let head = format!(
        "POST /api/session HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"name\": ",
        addr = s.harness.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (said, took) = until_closed(&mut stream, false, Duration::from_secs(3)).await;
    assert!(said.starts_with("HTTP/1.1 503"), "{said}");
    assert!(said.contains("\"timeout\""), "{said}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn past_the_connection_limit_a_new_connection_is_closed_and_the_open_ones_still_work() {
    let s = server(ListenerLimits {
        max_connections: 2,
        ..ListenerLimits::default()
    })
    .await;
    let addr = s.harness.addr;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert!(health(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(health(&mut second).await.starts_with("HTTP/1.1 200"));

    // The third is accepted by the kernel, then closed without an answer.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    let (said, took) = until_closed(&mut third, false, Duration::from_secs(5)).await;
    assert_eq!(said, "", "answered past the limit");
    assert!(took < Duration::from_secs(5), "still open after {took:?}");

    // The open ones are still served.
    assert!(health(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(health(&mut second).await.starts_with("HTTP/1.1 200"));

    // One closes: a new connection is taken again (once the server saw it close).
    drop(second);
    let started = Instant::now();
    loop {
        let mut next = TcpStream::connect(addr).await.unwrap();
        if health(&mut next).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no connection taken after one closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(health(&mut first).await.starts_with("HTTP/1.1 200"));
}

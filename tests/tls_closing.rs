//! How TLS connections end: a clean `close_notify` after a complete
//! response, even when the socket is full at that moment; none after a
//! response cut short; and a client's `close_notify` that comes with its
//! request is seen at once.

mod common;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::tls::Https;
use common::*;

#[test]
fn a_response_cut_short_ends_without_close_notify() {
    let https = Https::start(&[]);
    let path = https
        .root
        .file("big.bin", pseudo_random(8 * 1024 * 1024, 5));
    let mut client = https.client();
    client.send(get_request("/big.bin").as_bytes());
    let head = client.read_response_head().unwrap();
    assert_eq!(head.content_length(), Some(8 * 1024 * 1024));
    let mut first = vec![0u8; 1024 * 1024];
    client.read_exact(&mut first).unwrap();
    // The file shrinks under the download: the server can't keep its
    // promise, and the client must be able to tell.
    set_len(&path, 2 * 1024 * 1024);
    let mut rest = vec![0u8; 7 * 1024 * 1024];
    let err = client
        .read_exact(&mut rest)
        .expect_err("7 MiB more of a 2 MiB file");
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
    // Both a clean close before the promised length (read_exact's own
    // UnexpectedEof) and a close without close_notify are UnexpectedEof:
    // only rustls's says close_notify is missing.
    assert!(err.to_string().contains("close_notify"), "{err}");
}

#[test]
fn connection_close_after_a_large_body_ends_with_close_notify_even_when_the_socket_is_full() {
    let https = Https::start(&[]);
    let data = pseudo_random(4 * 1024 * 1024, 6);
    https.root.file("big.bin", &data);
    for round in 0..5 {
        let mut client = https.client();
        client.send(raw_request("GET", "/big.bin", &[("Connection", "close")]).as_bytes());
        let head = client.read_response_head().unwrap();
        assert_eq!(head.status, 200);
        let mut body = vec![0u8; data.len()];
        let split = data.len() - 256 * 1024;
        client.read_exact(&mut body[..split]).unwrap();
        // The server finishes into a full socket while we pause.
        std::thread::sleep(Duration::from_millis(100));
        client.read_exact(&mut body[split..]).unwrap();
        assert!(body == data, "round {round}: body differs");
        let mut buf = [0u8; 16];
        let n = client
            .read_some(&mut buf)
            .unwrap_or_else(|e| panic!("round {round}: no clean close: {e}"));
        assert_eq!(n, 0, "round {round}");
    }
}

#[test]
fn a_request_sent_with_close_notify_is_answered_and_closed_at_once() {
    let https = Https::start(&["--keepalive-timeout", "30"]);
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(https.ca.client(&["http/1.1"]), name).unwrap();
    let mut sock = TcpStream::connect(https.server.addr()).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut sock).unwrap();
    }
    // The request and our close_notify in one write.
    conn.writer()
        .write_all(get_request("/index.html").as_bytes())
        .unwrap();
    conn.send_close_notify();
    let mut wire = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut wire).unwrap();
    }
    sock.write_all(&wire).unwrap();
    let started = Instant::now();
    let mut stream = rustls::Stream::new(&mut conn, &mut sock);
    let mut response = Vec::new();
    let _ = std::io::Read::read_to_end(&mut stream, &mut response);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(took < Duration::from_secs(5), "closed only after {took:?}");
}

//! `--proxy-protocol`: every connection starts with a PROXY v1 or v2
//! header, whose client address the access log shows; anything else is
//! closed.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::tls::Https;
use common::*;

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "alpha\n");
    root
}

fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.push(0x20 | command);
    header.push(family);
    header.extend_from_slice(&(body.len() as u16).to_be_bytes());
    header.extend_from_slice(body);
    header
}

#[test]
fn v1_and_v2_headers_name_the_client_in_the_log() {
    let root = site();
    let server = Server::start(root.path(), &["--proxy-protocol"]);

    let mut c = server.client();
    c.send(b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n");
    c.send(get_request("/a.txt?v1").as_bytes());
    assert_eq!(c.read_response().body_text(), "alpha\n");
    // Later requests on the connection are the same client's.
    assert_eq!(c.get("/a.txt?again").status, 200);
    assert!(logged(&server, "/a.txt?v1").starts_with("192.0.2.1 - - ["));
    assert!(logged(&server, "/a.txt?again").starts_with("192.0.2.1 - - ["));

    // v2 over IPv6 with TLVs, header and request in one write.
    let mut tcp6 = vec![0x20, 0x01, 0x0d, 0xb8];
    tcp6.extend_from_slice(&[0; 11]);
    tcp6.push(9);
    tcp6.extend_from_slice(&[0; 16]);
    tcp6.extend_from_slice(&[0x1f, 0x90, 0x01, 0xbb]);
    tcp6.extend_from_slice(&[0x01, 0, 8, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1']);
    let mut c = server.client();
    c.send(&[v2(1, 0x21, &tcp6), get_request("/a.txt?v2").into_bytes()].concat());
    assert_eq!(c.read_response().status, 200);
    assert!(logged(&server, "/a.txt?v2").starts_with("2001:db8::9 - - ["));

    // LOCAL (a balancer's health check): the connection's own address.
    let mut c = server.client();
    c.send(&[v2(0, 0x00, &[]), get_request("/a.txt?local").into_bytes()].concat());
    assert_eq!(c.read_response().status, 200);
    assert!(logged(&server, "/a.txt?local").starts_with("127.0.0.1 - - ["));
}

#[test]
fn a_header_in_pieces_is_waited_for() {
    let root = site();
    let server = Server::start(root.path(), &["--proxy-protocol"]);
    let mut c = server.client();
    c.send(b"PROXY TCP4 198.51");
    // A partial header is not an error: the rest comes later.
    assert!(!c.wait_closed(Duration::from_millis(200)));
    c.send(b".100.7 192.0.2.2 1000 80\r\n");
    c.send(get_request("/a.txt?pieces").as_bytes());
    assert_eq!(c.read_response().status, 200);
    assert!(logged(&server, "/a.txt?pieces").starts_with("198.51.100.7 - - ["));
}

#[test]
fn no_bad_or_oversized_header_gets_a_close_and_no_answer() {
    let root = site();
    let server = Server::start(root.path(), &["--proxy-protocol"]);
    let mut oversized = v2(1, 0x11, &[0; 12]);
    oversized[14..16].copy_from_slice(&4000u16.to_be_bytes());
    let cases: [Vec<u8>; 5] = [
        get_request("/a.txt").into_bytes(),
        b"PROXY TCP4 192.0.2.1 192.0.2.2 56324\r\nGET / HTTP/1.1\r\n\r\n".to_vec(),
        b"PROXY TCP4 999.0.2.1 192.0.2.2 1 2\r\n".to_vec(),
        [b"PROXY UNKNOWN ".as_slice(), &[b'x'; 200]].concat(),
        [oversized, vec![0; 4000]].concat(),
    ];
    for raw in cases {
        let mut c = server.client();
        c.send(&raw);
        assert_eq!(
            c.read_to_close(),
            b"",
            "{:?}",
            String::from_utf8_lossy(&raw)
        );
    }
    // The server goes on.
    let mut c = server.client();
    c.send(b"PROXY UNKNOWN\r\n");
    c.send(get_request("/a.txt").as_bytes());
    assert_eq!(c.read_response().status, 200);
}

#[test]
fn a_header_that_never_completes_is_closed_at_the_header_deadline() {
    let root = site();
    let server = Server::start(root.path(), &["--proxy-protocol", "--header-timeout", "1"]);
    let started = Instant::now();
    let mut c = server.client();
    c.send(b"PROXY TCP4 ");
    assert!(
        c.wait_closed(Duration::from_secs(5)),
        "still open after 5 s"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn the_header_comes_before_the_tls_handshake() {
    let https = Https::start(&["--proxy-protocol"]);
    let mut sock = TcpStream::connect(https.server.addr()).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.write_all(b"PROXY TCP4 203.0.113.5 192.0.2.2 4444 443\r\n")
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(https.ca.client(&["http/1.1"]), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(get_request("/a.txt?tls").as_bytes()).unwrap();
    let mut got = vec![0u8; 12];
    std::io::Read::read_exact(&mut tls, &mut got).unwrap();
    assert_eq!(got, b"HTTP/1.1 200");
    assert!(logged(&https.server, "/a.txt?tls").starts_with("203.0.113.5 - - ["));
}

#[test]
fn a_unix_socket_takes_headers_too_and_logs_unix_without_an_address() {
    let root = site();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let bind = format!("unix:{}", path.display());
    let server = Server::start(root.path(), &["--proxy-protocol", "-b", &bind]);
    let ask = |header: &[u8], target: &str| {
        let request = raw_request("GET", target, &[("Connection", "close")]);
        unix_exchange(&path, &[header, request.as_bytes()].concat())
    };
    // HAProxy in front, on the same machine: the client it names.
    let answer = ask(b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 443\r\n", "/a.txt?v1");
    assert!(answer.starts_with(b"HTTP/1.1 200 "));
    assert!(logged(&server, "/a.txt?v1").starts_with("192.0.2.1 - - ["));
    // No address to name (UNKNOWN, a LOCAL health check): the socket's own
    // client, which has none.
    ask(b"PROXY UNKNOWN\r\n", "/a.txt?unknown");
    assert!(logged(&server, "/a.txt?unknown").starts_with("unix - - ["));
    ask(&v2(0, 0x00, &[]), "/a.txt?local");
    assert!(logged(&server, "/a.txt?local").starts_with("unix - - ["));
    // Without a header: closed (reset, as the request is left unread), no
    // answer.
    let mut stream = unix_connect(&path);
    stream.write_all(get_request("/a.txt").as_bytes()).unwrap();
    let mut answer = Vec::new();
    match std::io::Read::read_to_end(&mut stream, &mut answer) {
        Ok(_) => {}
        Err(err) => assert!(is_closed_error(&err), "{err}"),
    }
    assert_eq!(answer, b"");
}

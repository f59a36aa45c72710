//! HTTPS through the real binary: handshakes, what is refused, the same
//! HTTP behaviour over TLS, reloading the certificate, shutdown.

mod common;

use std::time::{Duration, Instant};

use common::tls::{Ca, Https, Leaf, Recorder, half_client_hello, tls11_client_hello, trusting};
use common::*;
use rustls::{HandshakeKind, ProtocolVersion};

/// Starts the binary with `args` and expects it to exit by itself.
fn run_to_exit(args: &[&str]) -> CliOutput {
    let root = DocRoot::new();
    let mut all: Vec<&str> = vec!["--port", "0", root.path().to_str().unwrap()];
    all.extend_from_slice(args);
    run_cli(&all, CLI_TIMEOUT)
}

#[test]
fn serves_over_tls_13_with_a_verified_chain_and_alpn() {
    let https = Https::start(&[]);
    assert!(
        https
            .server
            .serving_line()
            .contains(" at https://127.0.0.1:"),
        "{}",
        https.server.serving_line()
    );
    let mut client = https.client();
    let tls = client.tls().unwrap();
    assert_eq!(tls.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
    let resp = client.get("/");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body_text(), "<h1>hello over TLS</h1>\n");
    assert!(
        https
            .server
            .wait_stdout_line(IO_TIMEOUT, |l| l.contains("\"GET / HTTP/1.1\" 200 "))
            .is_some(),
        "no access-log line: {:?}",
        https.server.stdout_lines()
    );
}

#[test]
fn tls_12_works_and_a_client_without_alpn_too() {
    let https = Https::start(&[]);
    let mut client = Client::connect_tls(
        https.server.addr(),
        https.ca.client_tls12(&["http/1.1"]),
        "localhost",
    );
    let tls = client.tls().unwrap();
    assert_eq!(tls.protocol_version(), Some(ProtocolVersion::TLSv1_2));
    assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(client.get("/a.txt").body_text(), "alpha\n");

    let mut client = Client::connect_tls(https.server.addr(), https.ca.client(&[]), "localhost");
    assert_eq!(client.tls().unwrap().alpn_protocol(), None);
    assert_eq!(client.get("/a.txt").status, 200);
}

#[test]
fn a_client_that_trusts_another_ca_is_refused_by_its_own_check() {
    let https = Https::start(&[]);
    let stranger = Ca::new("another CA");
    let err = Client::try_connect_tls(https.server.addr(), stranger.client(&[]), "localhost")
        .err()
        .expect("a chain from an unknown CA must not verify");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // The server goes on.
    assert_eq!(https.client().get("/a.txt").status, 200);
}

#[test]
fn tls_11_and_h2_only_clients_are_refused() {
    let https = Https::start(&[]);

    // An alert and a close, or just a close; never a ServerHello.
    let mut raw = Client::connect(https.server.addr());
    raw.send(&tls11_client_hello());
    let answer = raw.read_to_close();
    assert!(
        !(answer.first() == Some(&0x16) && answer.get(5) == Some(&0x02)),
        "a ServerHello for TLS 1.1: {answer:02x?}"
    );
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "expected an alert record or nothing, got {answer:02x?}"
    );

    let err = Client::try_connect_tls(https.server.addr(), https.ca.client(&["h2"]), "localhost")
        .err()
        .expect("no common application protocol");
    assert!(err.to_string().contains("NoApplicationProtocol"), "{err}");
}

#[test]
fn resumes_sessions_over_tls_13_and_12() {
    let https = Https::start(&[]);
    let configs = [
        ("TLS 1.3", https.ca.client(&["http/1.1"])),
        ("TLS 1.2", https.ca.client_tls12(&["http/1.1"])),
    ];
    for (version, config) in configs {
        let mut first = Client::connect_tls(https.server.addr(), config.clone(), "localhost");
        assert_eq!(first.get("/a.txt").status, 200); // the tickets come after the handshake
        assert_eq!(
            first.tls().unwrap().handshake_kind(),
            Some(HandshakeKind::Full),
            "{version}"
        );
        let mut second = Client::connect_tls(https.server.addr(), config, "localhost");
        assert_eq!(
            second.tls().unwrap().handshake_kind(),
            Some(HandshakeKind::Resumed),
            "{version}"
        );
        assert_eq!(second.get("/a.txt").body_text(), "alpha\n", "{version}");
    }
}

#[test]
fn keep_alive_pipelining_ranges_and_304_as_over_plain_http() {
    let https = Https::start(&[]);
    let mut client = https.client();
    let first = client.get("/a.txt");
    assert_eq!(first.status, 200);
    let etag = first.header("etag").unwrap().to_owned();

    // Three requests in one write, answered in order on the same connection.
    let pipelined = format!(
        "{}{}{}",
        get_request("/a.txt"),
        raw_request("GET", "/a.txt", &[("Range", "bytes=1-3")]),
        raw_request("GET", "/a.txt", &[("If-None-Match", &etag)]),
    );
    client.send(pipelined.as_bytes());
    let whole = client.read_response();
    assert_eq!((whole.status, whole.body_text().as_str()), (200, "alpha\n"));
    let range = client.read_response();
    assert_eq!((range.status, range.body_text().as_str()), (206, "lph"));
    assert_eq!(range.header("content-range"), Some("bytes 1-3/6"));
    let not_modified = client.read_response();
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());

    let head = client.head("/a.txt");
    assert_eq!((head.status, head.content_length()), (200, Some(6)));
}

#[test]
fn a_64_mib_file_read_slowly_arrives_byte_for_byte() {
    let https = Https::start(&[]);
    let data = pseudo_random(64 * 1024 * 1024, 9);
    https.root.file("big.bin", &data);
    let mut client = https.client();
    client.send(get_request("/big.bin").as_bytes());
    let head = client.read_response_head().unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(data.len() as u64));
    let mut got = vec![0u8; data.len()];
    let mut at = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while at < got.len() {
        assert!(Instant::now() < deadline, "only {at} bytes in 60 s");
        let end = (at + 256 * 1024).min(got.len());
        client.read_exact(&mut got[at..end]).unwrap();
        at = end;
        // A slow reader: the server must wait for room again and again
        // (256 pauses), mid-record, without losing or repeating a byte.
        std::thread::sleep(Duration::from_millis(3));
    }
    assert!(got == data, "the body differs from the file");
    // The connection is still good for another request.
    assert_eq!(client.get("/a.txt").body_text(), "alpha\n");
}

#[test]
fn plain_http_to_the_https_port_gets_a_plain_400_and_a_close() {
    let https = Https::start(&[]);
    let mut tls = https.client();
    assert_eq!(tls.get("/a.txt").status, 200);

    let mut plain = Client::connect(https.server.addr());
    plain.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    // Meanwhile a TLS connection opened before it is served, and a new one.
    assert_eq!(tls.get("/a.txt").body_text(), "alpha\n");
    assert_eq!(https.client().get("/a.txt").status, 200);

    let resp = plain.read_response();
    assert_eq!(
        (resp.version.as_str(), resp.status, resp.reason.as_str()),
        ("HTTP/1.1", 400, "Bad Request"),
        "{resp:?}"
    );
    assert!(resp.connection_has("close"), "{resp:?}");
    assert!(
        resp.body_text().contains("https://"),
        "{}",
        resp.body_text()
    );
    assert!(plain.wait_closed(IO_TIMEOUT), "still open after the 400");
    assert_eq!(tls.get("/a.txt").status, 200);
}

#[test]
fn bytes_that_are_not_tls_get_a_close_and_nothing_else() {
    let https = Https::start(&[]);
    let mut tls = https.client();
    assert_eq!(tls.get("/a.txt").status, 200);
    // High bit set: neither a handshake record (0x16) nor an ASCII letter.
    let garbage: Vec<u8> = pseudo_random(300, 7).iter().map(|b| b | 0x80).collect();
    let mut raw = Client::connect(https.server.addr());
    raw.send(&garbage);
    assert_eq!(tls.get("/a.txt").body_text(), "alpha\n");
    assert_eq!(raw.read_to_close(), b"");
    assert_eq!(tls.get("/a.txt").status, 200);
    assert_eq!(https.client().get("/a.txt").status, 200);
}

#[test]
fn a_stalled_handshake_is_closed_at_the_header_deadline() {
    let https = Https::start(&["--header-timeout", "1"]);
    let started = Instant::now();
    let mut stalled = Client::connect(https.server.addr());
    stalled.send(&half_client_hello(https.ca.client(&["http/1.1"])));
    // Another client is served while that one stalls.
    assert_eq!(https.client().get("/a.txt").status, 200);
    assert!(
        stalled.wait_closed(Duration::from_secs(5)),
        "still open after 5 s"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "closed after only {took:?}"
    );
}

#[test]
fn sighup_reloads_the_pair_and_open_connections_keep_going() {
    let mut https = Https::start(&[]);
    let (recorder, watching) = Recorder::client();
    let mut before = https.client();
    assert_eq!(before.get("/a.txt").status, 200);
    Client::connect_tls(https.server.addr(), watching.clone(), "localhost");
    let old = recorder.last();

    let new: Leaf = https.ca.leaf();
    new.write(https.certs.path());
    https.server.send_signal(libc::SIGHUP);
    assert!(
        https
            .server
            .wait_stderr(IO_TIMEOUT, "reloaded the TLS certificate", 1),
        "no reload line: {:?}",
        https.server.stderr_lines()
    );
    let mut after = https.client();
    assert_eq!(after.get("/a.txt").status, 200);
    Client::connect_tls(https.server.addr(), watching, "localhost");
    assert_eq!(recorder.last(), new.der);
    assert_ne!(recorder.last(), old);
    // Opened before the reload, still served on keep-alive.
    assert_eq!(before.get("/a.txt").body_text(), "alpha\n");
    https.server.assert_exits_0_on_sigint("after a reload");
}

#[test]
fn a_broken_reload_keeps_the_current_pair() {
    let mut https = Https::start(&[]);
    let (recorder, watching) = Recorder::client();
    Client::connect_tls(https.server.addr(), watching.clone(), "localhost");
    let current = recorder.last();

    // A key that belongs to another certificate.
    let other = https.ca.leaf();
    std::fs::write(https.certs.path().join("key.pem"), &other.key_pem).unwrap();
    https.server.send_signal(libc::SIGHUP);
    let failed = "keeping the current one";
    assert!(
        https.server.wait_stderr(IO_TIMEOUT, failed, 1),
        "{:?}",
        https.server.stderr_lines()
    );
    // Garbage instead of the certificate.
    std::fs::write(https.certs.path().join("cert.pem"), "not a certificate\n").unwrap();
    https.server.send_signal(libc::SIGHUP);
    assert!(
        https.server.wait_stderr(IO_TIMEOUT, failed, 2),
        "{:?}",
        https.server.stderr_lines()
    );

    let mut client = Client::connect_tls(https.server.addr(), watching, "localhost");
    assert_eq!(recorder.last(), current);
    assert_eq!(client.get("/a.txt").status, 200);
    assert_eq!(https.client().get("/").status, 200);
}

#[test]
fn self_signed_logs_the_fingerprint_of_what_it_presents() {
    let root = DocRoot::new();
    root.file("a.txt", "alpha\n");
    // A bind address other than 127.0.0.1, so it must be named on its own.
    let server = Server::start(root.path(), &["--tls-self-signed", "--bind", "127.0.0.2"]);
    assert!(
        server.serving_line().contains(" at https://127.0.0.2:"),
        "{}",
        server.serving_line()
    );
    let lines = server.stderr_lines();
    let at = lines
        .iter()
        .position(|l| l.contains("SHA-256 fingerprint "))
        .unwrap_or_else(|| panic!("no fingerprint line before `Serving`: {lines:?}"));
    let serving = lines
        .iter()
        .position(|l| l.starts_with("Serving "))
        .unwrap();
    assert!(at < serving, "{lines:?}");
    let logged = lines[at].rsplit("SHA-256 fingerprint ").next().unwrap();
    let logged = logged.split_whitespace().next().unwrap_or_default();
    let pairs: Vec<&str> = logged.split(':').collect();
    assert!(
        pairs.len() == 32
            && pairs.iter().all(|p| p.len() == 2
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))),
        "not 32 uppercase hex bytes separated by `:`: {logged:?}"
    );

    let (recorder, config) = Recorder::client();
    let mut client = Client::connect_tls(server.addr(), config, "localhost");
    assert_eq!(client.get("/a.txt").body_text(), "alpha\n");
    let der = recorder.last();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    let expected: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(logged, expected.join(":"));

    // Trusted as its own anchor, it passes a real check for every name a
    // local browser would use, and for the bind address.
    let trusted = trusting(&der);
    for name in ["localhost", "127.0.0.1", "::1", "127.0.0.2"] {
        let mut client = Client::try_connect_tls(server.addr(), trusted.clone(), name)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(client.get("/a.txt").status, 200, "{name}");
    }
    let err = Client::try_connect_tls(server.addr(), trusted, "example.org")
        .err()
        .expect("a certificate for example.org too");
    assert!(err.to_string().contains("not valid for name"), "{err}");
}

#[test]
fn graceful_shutdown_sends_close_notify_and_finishes_a_download() {
    let mut https = Https::start(&[]);
    let data = pseudo_random(16 * 1024 * 1024, 3);
    https.root.file("big.bin", &data);

    let mut idle = https.client();
    assert_eq!(idle.get("/a.txt").status, 200);
    let mut downloading = https.client();
    downloading.send(get_request("/big.bin").as_bytes());
    let head = downloading.read_response_head().unwrap();
    assert_eq!(head.status, 200);
    let mut first = vec![0u8; 64 * 1024];
    downloading.read_exact(&mut first).unwrap();

    https.server.send_signal(libc::SIGINT);
    // The idle connection ends with close_notify: a clean end of stream,
    // not an UnexpectedEof.
    let mut buf = [0u8; 64];
    let n = idle.read_some(&mut buf).expect("a clean TLS close");
    assert_eq!(n, 0);

    let mut rest = vec![0u8; data.len() - first.len()];
    downloading.read_exact(&mut rest).unwrap();
    first.extend_from_slice(&rest);
    assert!(
        first == data,
        "the download was not completed byte for byte"
    );
    let status = https
        .server
        .wait_exit(IO_TIMEOUT)
        .expect("exit after the drain");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_tls_flags_are_one_line_and_the_right_exit_code() {
    let certs = tempfile::tempdir().unwrap();
    let ca = Ca::new("cli CA");
    let (cert, key) = ca.leaf().write(certs.path());
    let other = certs.path().join("other-key.pem");
    std::fs::write(&other, ca.leaf().key_pem).unwrap();
    let (cert, key, other) = (
        cert.to_str().unwrap(),
        key.to_str().unwrap(),
        other.to_str().unwrap(),
    );

    let usage: [&[&str]; 5] = [
        &["--tls-cert", cert],
        &["--tls-key", key],
        &["--tls-self-signed", "--tls-cert", cert, "--tls-key", key],
        &["--tls-self-signed", "--tls-cert", cert],
        &["--tls-self-signed", "--tls-key", key],
    ];
    for args in usage {
        let out = run_to_exit(args);
        assert_eq!(out.code(), Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stderr_lines().len(), 1, "{args:?}: {out:?}");
    }

    let garbage = certs.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let garbage = garbage.to_str().unwrap();
    let a_dir = certs.path().to_str().unwrap();
    let failures: [(&[&str], &str); 6] = [
        (
            &["--tls-cert", "/nonexistent.pem", "--tls-key", key],
            "/nonexistent.pem",
        ),
        (
            &["--tls-cert", cert, "--tls-key", "/nonexistent-key.pem"],
            "/nonexistent-key.pem",
        ),
        (&["--tls-cert", a_dir, "--tls-key", key], a_dir),
        (&["--tls-cert", garbage, "--tls-key", key], garbage),
        (&["--tls-cert", cert, "--tls-key", cert], "no private key"),
        (&["--tls-cert", cert, "--tls-key", other], "does not match"),
    ];
    for (args, says) in failures {
        let out = run_to_exit(args);
        assert_eq!(out.code(), Some(1), "{args:?}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(says),
            "{lines:?}"
        );
    }
}

#[test]
fn sec1_and_rsa_keys_are_accepted() {
    // Made once with the openssl CLI; see tests/fixtures/tls/README.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    for kind in ["ec-sec1", "rsa-pkcs1"] {
        let key_pem = std::fs::read_to_string(format!("{dir}/{kind}.key")).unwrap();
        let expected = if kind == "ec-sec1" {
            "BEGIN EC PRIVATE KEY"
        } else {
            "BEGIN RSA PRIVATE KEY"
        };
        assert!(
            key_pem.contains(expected),
            "{kind}: not the format under test"
        );
        let root = DocRoot::new();
        root.file("a.txt", "alpha\n");
        let cert = format!("{dir}/{kind}.crt");
        let key = format!("{dir}/{kind}.key");
        let server = Server::start(root.path(), &["--tls-cert", &cert, "--tls-key", &key]);
        let (recorder, config) = Recorder::client();
        let mut client = Client::connect_tls(server.addr(), config, "localhost");
        assert_eq!(client.get("/a.txt").body_text(), "alpha\n", "{kind}");
        let expected_der = {
            use rustls::pki_types::pem::PemObject;
            rustls::pki_types::CertificateDer::from_pem_file(&cert).unwrap()
        };
        assert_eq!(recorder.last(), expected_der, "{kind}");
    }
}

#[test]
fn sighup_without_tls_keeps_serving() {
    let root = DocRoot::new();
    root.file("a.txt", "alpha\n");
    let mut server = Server::start(root.path(), &[]);
    server.send_signal(libc::SIGHUP);
    assert!(
        server.wait_stderr(IO_TIMEOUT, "nothing to reload", 1),
        "{:?}",
        server.stderr_lines()
    );
    assert_eq!(server.get("/a.txt").status, 200);
    server.assert_exits_0_on_sigint("after SIGHUP");
}

#[test]
fn an_idle_tls_connection_is_closed_with_close_notify_at_the_keepalive_deadline() {
    let https = Https::start(&["--keepalive-timeout", "1"]);
    let mut client = https.client();
    assert_eq!(client.get("/a.txt").status, 200);
    let mut buf = [0u8; 16];
    // A clean end of stream (close_notify), not an UnexpectedEof, well
    // within the client's read timeout.
    let started = Instant::now();
    let n = client.read_some(&mut buf).expect("a clean TLS close");
    assert_eq!(n, 0);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn connection_close_gets_the_response_then_close_notify() {
    let https = Https::start(&[]);
    let mut client = https.client();
    client.send(raw_request("GET", "/a.txt", &[("Connection", "close")]).as_bytes());
    let resp = client.read_response();
    assert_eq!(resp.body_text(), "alpha\n");
    assert!(resp.connection_has("close"), "{resp:?}");
    let mut buf = [0u8; 16];
    let n = client.read_some(&mut buf).expect("a clean TLS close");
    assert_eq!(n, 0);
}

#[test]
fn https_over_a_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sws.sock");
    let bind = format!("unix:{}", path.display());
    let https = Https::start(&["-b", "127.0.0.1", "-b", &bind]);
    assert!(
        https
            .server
            .serving_line()
            .contains(&format!(" and unix:{} (https) with ", path.display())),
        "{}",
        https.server.serving_line()
    );
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(https.ca.client(&["http/1.1"]), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, unix_connect(&path));
    let request = raw_request("GET", "/a.txt", &[("Connection", "close")]);
    std::io::Write::write_all(&mut tls, request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    std::io::Read::read_to_end(&mut tls, &mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200 "), "{answer:?}");
    assert!(answer.ends_with(b"\r\n\r\nalpha\n"), "{answer:?}");
    assert_eq!(tls.conn.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    // Plain HTTP on it gets the same answer as on the TCP port.
    let plain = unix_exchange(&path, raw_request("GET", "/", &[]).as_bytes());
    assert!(plain.starts_with(b"HTTP/1.1 400 "), "{plain:?}");
}

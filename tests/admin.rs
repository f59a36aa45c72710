//! The admin listener (`--admin`): `/health` for load balancers, `/metrics`
//! for Prometheus, and how both behave through a shutdown and
//! `--health-delay`.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::tls::{Recorder, half_client_hello};
use common::*;

/// How long counters may take to show on `/metrics`: each worker publishes
/// once per poll round, so a scrape may come before the round that counted.
const METRICS_TIMEOUT: Duration = Duration::from_secs(10);

const A_TXT: &str = "alpha\n";

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", A_TXT);
    root
}

/// One request to the admin listener on a connection of its own.
fn admin_fetch(admin: SocketAddr, method: &str, path: &str) -> Response {
    exchange(&mut Client::connect(admin), method, path, &[])
}

/// One scrape of `/metrics`, on a connection that closes after it: a
/// keep-alive one would sit among the idle connections the gauges count.
fn scrape(admin: SocketAddr) -> Response {
    let resp = exchange(
        &mut Client::connect(admin),
        "GET",
        "/metrics",
        &[("Connection", "close")],
    );
    assert_eq!(resp.status, 200, "{resp:?}");
    resp
}

/// Scrapes until every line of `want` is a whole line of the output;
/// returns that output.
fn wait_metrics(admin: SocketAddr, want: &[&str]) -> String {
    let mut text = String::new();
    let all_there = poll_until(METRICS_TIMEOUT, || {
        text = scrape(admin).body_text();
        want.iter().all(|w| text.lines().any(|l| l == *w))
    });
    let missing: Vec<_> = want
        .iter()
        .filter(|w| !text.lines().any(|l| l == **w))
        .collect();
    assert!(all_there, "missing {missing:?} in\n{text}");
    text
}

/// The value of the sample `key` (name and labels, as written).
fn value(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.parse().ok())
}

/// The sum of every sample of family `name`, whatever its labels.
fn family_sum(text: &str, name: &str) -> f64 {
    let prefix = format!("{name}{{");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn health_answers_ok_and_the_admin_port_serves_no_files() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--admin", "127.0.0.1:0"]);
    let admin = server.admin_addr();
    let lines = server.stderr_lines();
    let serving = lines
        .iter()
        .position(|l| l.starts_with("Serving "))
        .unwrap();
    assert!(
        lines[serving + 1].starts_with("Health and metrics at "),
        "the admin line does not follow `Serving`: {lines:?}"
    );
    assert_ne!(admin.port(), server.addr().port());

    // Two requests on one connection: a balancer may keep it open.
    let mut client = Client::connect(admin);
    let ok = client.get("/health");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body, b"ok\n");
    assert_eq!(ok.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    let head = client.head("/health");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(3), "{head:?}");
    assert!(head.body.is_empty());

    assert_eq!(admin_fetch(admin, "GET", "/health?from=lb").status, 200);
    assert_eq!(admin_fetch(admin, "GET", "/nope").status, 404);
    assert_eq!(admin_fetch(admin, "POST", "/health").status, 405);
    // The admin port never maps a path to a file, and the public port
    // has no /health of its own (it would be a file there).
    assert_eq!(admin_fetch(admin, "GET", "/a.txt").status, 404);
    let file = server.get("/a.txt");
    assert_eq!((file.status, file.body_text().as_str()), (200, A_TXT));
    assert_eq!(server.get("/health").status, 404);
}

#[test]
fn sigterm_makes_health_503_on_a_kept_connection_while_a_download_drains() {
    const BIG: usize = 16 * 1024 * 1024;
    let root = site();
    let data = pseudo_random(BIG, 7);
    root.file("big.bin", &data);
    // One worker holds every connection, so `probe` below tells what the
    // worker of the admin connection does.
    let mut server = Server::start(
        root.path(),
        &["--quiet", "--workers", "1", "--admin", "127.0.0.1:0"],
    );
    let admin = server.admin_addr();

    let mut kept = Client::connect(admin);
    assert_eq!(kept.get("/health").status, 200);
    // Not read: the server stays blocked writing it, so the drain waits.
    let mut download = server.client();
    download.send(get_request("/big.bin").as_bytes());
    let head = download.read_response_head().expect("response head");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.content_length(), Some(BIG as u64), "{head:?}");

    server.send_signal(libc::SIGTERM);
    assert!(
        server.wait_stderr(IO_TIMEOUT, "shutting down: no new connections", 1),
        "{:?}",
        server.stderr_lines()
    );
    assert_eq!(server.stderr_count("health now reports 503"), 0);
    // The kept connection asks again and again (never idle long enough for
    // the drain to close it as idle): its answers turn to 503 once the
    // worker drains, which follows the line at once.
    let mut draining = None;
    assert!(
        poll_until(Duration::from_secs(5), || {
            let resp = kept.get("/health");
            if resp.status == 200 {
                return false;
            }
            draining = Some(resp);
            true
        }),
        "/health never turned 503"
    );
    let draining = draining.unwrap();
    assert_eq!(draining.status, 503, "{draining:?}");
    assert_eq!(draining.body, b"draining\n");
    assert!(draining.connection_has("close"), "{draining:?}");

    let mut body = vec![0; BIG];
    download
        .read_exact(&mut body)
        .expect("the rest of the download");
    assert!(body == data, "downloaded bytes differ from the file");
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("server did not exit after the download");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn health_delay_reports_503_while_files_are_still_served() {
    let root = site();
    let mut server = Server::start(
        root.path(),
        &["--quiet", "--admin", "127.0.0.1:0", "--health-delay", "2"],
    );
    let admin = server.admin_addr();
    assert_eq!(admin_fetch(admin, "GET", "/health").status, 200);

    let signalled = Instant::now();
    server.send_signal(libc::SIGTERM);
    assert!(
        server.wait_stderr(IO_TIMEOUT, "health now reports 503", 1),
        "{:?}",
        server.stderr_lines()
    );
    let health = admin_fetch(admin, "GET", "/health");
    assert_eq!(health.status, 503, "{health:?}");
    assert_eq!(health.body, b"draining\n");
    // Served as before, on a new connection, after the 503 was seen.
    let file = server.get("/a.txt");
    assert_eq!((file.status, file.body_text().as_str()), (200, A_TXT));
    assert!(!file.connection_has("close"), "{file:?}");

    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("server did not exit after --health-delay 2");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let took = signalled.elapsed();
    assert!(took >= Duration::from_secs(2), "exited after {took:?}");
    assert_eq!(
        server.stderr_count("shutting down: no new connections"),
        1,
        "{:?}",
        server.stderr_lines()
    );
}

#[test]
fn metrics_count_public_requests_by_method_and_class() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--admin", "127.0.0.1:0"]);
    let admin = server.admin_addr();

    // Two keep-alive connections: six requests, two accepts.
    let mut found = server.client();
    for _ in 0..3 {
        assert_eq!(found.get("/a.txt").status, 200);
    }
    assert_eq!(found.head("/a.txt").status, 200);
    let mut missing = server.client();
    let not_found: Vec<Response> = (0..2).map(|_| missing.get("/nope")).collect();
    assert!(not_found.iter().all(|r| r.status == 404), "{not_found:?}");

    let version = env!("CARGO_PKG_VERSION");
    let build_info = format!("sws_build_info{{version=\"{version}\"}} 1");
    let text = wait_metrics(
        admin,
        &[
            "sws_requests_total{method=\"GET\",code=\"2xx\"} 3",
            "sws_requests_total{method=\"GET\",code=\"4xx\"} 2",
            "sws_requests_total{method=\"HEAD\",code=\"2xx\"} 1",
            "sws_request_duration_seconds_count 6",
            "sws_request_duration_seconds_bucket{le=\"+Inf\"} 6",
            "sws_connections_accepted_total 2",
            &build_info,
        ],
    );
    let bodies = 3 * A_TXT.len() + not_found.iter().map(|r| r.body.len()).sum::<usize>();
    let sent = value(&text, "sws_response_bytes_total").expect("sws_response_bytes_total");
    assert!(
        sent > bodies as f64,
        "{sent} bytes sent, bodies alone {bodies}"
    );
    for worker in 0..2 {
        let key = format!("sws_worker_connections{{worker=\"{worker}\"}}");
        assert!(value(&text, &key).is_some(), "no {key} in\n{text}");
    }

    // Scrapes are counted apart, never as the site's requests.
    let mut text = String::new();
    assert!(
        poll_until(METRICS_TIMEOUT, || {
            text = scrape(admin).body_text();
            value(&text, "sws_admin_requests_total").is_some_and(|n| n > 0.0)
        }),
        "sws_admin_requests_total stays 0:\n{text}"
    );
    assert_eq!(family_sum(&text, "sws_requests_total"), 6.0, "{text}");
    assert_eq!(
        scrape(admin).header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );

    // The counters move.
    let mut third = server.client();
    assert_eq!(third.get("/a.txt").status, 200);
    assert_eq!(third.get("/a.txt").status, 200);
    let text = wait_metrics(
        admin,
        &[
            "sws_requests_total{method=\"GET\",code=\"2xx\"} 5",
            "sws_request_duration_seconds_count 8",
            "sws_connections_accepted_total 3",
        ],
    );
    assert_eq!(family_sum(&text, "sws_requests_total"), 8.0, "{text}");
}

#[test]
fn idle_gauge_follows_keep_alive_connections() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--admin", "127.0.0.1:0"]);
    let admin = server.admin_addr();
    let deadline = Instant::now() + IO_TIMEOUT;
    let idle = open_idle(&server, "/a.txt", 3, 3, deadline, |i, resp| {
        assert_eq!(resp.status, 200, "connection {i}: {resp:?}");
    });
    wait_metrics(admin, &["sws_connections{state=\"idle\"} 3"]);
    drop(idle);
    wait_metrics(admin, &["sws_connections{state=\"idle\"} 0"]);
}

#[test]
fn an_expired_header_deadline_is_counted() {
    let root = site();
    let server = Server::start(
        root.path(),
        &["--quiet", "--admin", "127.0.0.1:0", "--header-timeout", "1"],
    );
    let admin = server.admin_addr();
    let mut slow = server.client();
    slow.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    wait_metrics(admin, &["sws_deadline_closes_total{deadline=\"header\"} 1"]);
    assert!(
        slow.wait_closed(IO_TIMEOUT),
        "a connection past its header deadline is still open"
    );
}

#[test]
fn tls_handshakes_and_failures_are_counted_and_admin_stays_plain() {
    let root = site();
    let server = Server::start(
        root.path(),
        &["--quiet", "--tls-self-signed", "--admin", "127.0.0.1:0"],
    );
    let admin = server.admin_addr();
    let (recorder, config) = Recorder::client();
    let mut client = Client::connect_tls(server.addr(), config.clone(), "localhost");
    assert_eq!(client.get("/a.txt").body_text(), A_TXT);
    assert_eq!(recorder.seen.lock().unwrap().len(), 1);

    // Plain HTTP on the admin port, though the public one speaks TLS.
    let health = admin_fetch(admin, "GET", "/health");
    assert_eq!((health.status, health.body.as_slice()), (200, &b"ok\n"[..]));

    let mut halfway = server.client();
    halfway.send(&half_client_hello(config));
    drop(halfway);
    wait_metrics(
        admin,
        &[
            "sws_tls_handshakes_total 1",
            "sws_tls_handshake_failures_total 1",
            "sws_connections_accepted_total 2",
        ],
    );
}

#[test]
fn every_completed_tls_handshake_is_counted() {
    const CLIENTS: usize = 4;
    const EACH: usize = 10;
    let root = site();
    let server = Server::start(
        root.path(),
        &["--quiet", "--tls-self-signed", "--admin", "127.0.0.1:0"],
    );
    let admin = server.admin_addr();
    // Clients at once, busy with their own handshakes: a worker that
    // waits for the CPU between sending its flight and reading again
    // often finds the client's Finished there already, in the same read.
    let (_recorder, config) = Recorder::client();
    let addr = server.addr();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let config = config.clone();
            thread::spawn(move || {
                for _ in 0..EACH {
                    let mut client = Client::connect_tls(addr, config.clone(), "localhost");
                    assert_eq!(client.get("/a.txt").status, 200);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a TLS client failed");
    }
    let total = CLIENTS * EACH;
    wait_metrics(
        admin,
        &[
            &format!("sws_requests_total{{method=\"GET\",code=\"2xx\"}} {total}"),
            &format!("sws_tls_handshakes_total {total}"),
        ],
    );
}

#[test]
fn promtool_accepts_the_metrics() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--admin", "127.0.0.1:0"]);
    let admin = server.admin_addr();
    let mut client = server.client();
    assert_eq!(client.get("/a.txt").status, 200);
    assert_eq!(client.head("/a.txt").status, 200);
    assert_eq!(client.get("/nope").status, 404);
    let text = wait_metrics(admin, &["sws_request_duration_seconds_count 3"]);

    let mut promtool = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("promtool is not on PATH: run scripts/test.sh, which installs it")
        }
        Err(e) => panic!("cannot run promtool: {e}"),
    };
    // A few KiB: it fits in the pipe, and promtool reads it all anyway.
    let mut stdin = promtool.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).expect("write to promtool");
    drop(stdin);
    let mut status = None;
    poll_until(CLI_TIMEOUT, || {
        status = promtool.try_wait().expect("wait for promtool");
        status.is_some()
    });
    let Some(status) = status else {
        let _ = promtool.kill();
        let _ = promtool.wait();
        panic!("promtool still running after {CLI_TIMEOUT:?}");
    };
    let (mut out, mut err) = (String::new(), String::new());
    promtool
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    promtool
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success() && out.is_empty() && err.is_empty(),
        "promtool check metrics: {status:?}\nstdout: {out}\nstderr: {err}\ninput:\n{text}"
    );
}

#[test]
fn a_bad_admin_address_is_a_one_line_usage_error() {
    let root = DocRoot::new();
    let root = root.path().to_str().unwrap();
    let out = run_cli(&["--port", "0", "--admin", "nonsense", root], CLI_TIMEOUT);
    assert_eq!(out.code(), Some(2), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(
        lines[0].contains("--admin") && lines[0].contains("nonsense"),
        "{out:?}"
    );
}

/// At `--max-connections`, with a public connection held waiting for room,
/// a health check still gets through: the admin listener is accepted apart
/// and its connections don't count against the limit.
#[test]
fn health_answers_at_the_connection_limit() {
    let root = site();
    let args = ["--max-connections", "2", "--admin", "127.0.0.1:0"];
    let server = Server::start(root.path(), &args);
    let admin = server.admin_addr();
    // Two connections mid-request (never idle, so never evicted) fill the
    // limit; a third waits, held by the acceptor.
    let mut busy: Vec<Client> = (0..2).map(|_| server.client()).collect();
    for client in &mut busy {
        client.send(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n");
    }
    let mut waiting = server.client();
    waiting.send(get_request("/a.txt").as_bytes());
    let started = std::time::Instant::now();
    let health = admin_fetch(admin, "GET", "/health");
    assert_eq!(health.status, 200, "{health:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "/health took {:?} at the limit (the header timeout is 10 s)",
        started.elapsed()
    );
    // The held one is answered once a slot frees.
    drop(busy);
    assert_eq!(waiting.read_response().body_text(), A_TXT);
}

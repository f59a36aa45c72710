//! How new connections are taken. The kernel hands a connection to the
//! acceptor once its first bytes are there (`TCP_DEFER_ACCEPT`, about a
//! second), and the acceptor runs `--acceptor-nice` (default 10) steps
//! below the workers. When `accept` fails (made to, by an `LD_PRELOAD` shim
//! built from `tests/shims/failing_accept.c`), the acceptor pauses between
//! attempts instead of spinning, logs `EMFILE` once per burst, and what it
//! took before is served.

mod common;

use common::*;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "file a\n");
    root
}

#[test]
fn a_request_sent_well_after_connecting_is_served() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    // One client sends within the deferral, one well after it, when the
    // kernel has handed the silent connection over anyway.
    let delays = [Duration::from_millis(300), Duration::from_millis(2500)];
    let clients: Vec<_> = delays
        .iter()
        .map(|&delay| {
            let mut client = server.client();
            thread::spawn(move || {
                // The client's own pace, not a wait for the server.
                thread::sleep(delay);
                client.send(get_request("/a.txt").as_bytes());
                (delay, client.read_response())
            })
        })
        .collect();
    for client in clients {
        let (delay, resp) = client.join().expect("client thread");
        assert_eq!(
            resp.status, 200,
            "request sent {delay:?} after connecting: {resp:?}"
        );
        assert_eq!(resp.body, b"file a\n");
    }
}

#[test]
fn silent_connections_do_not_delay_shutdown() {
    let root = site();
    let mut server = Server::start(root.path(), &["--quiet"]);
    let _silent: Vec<Client> = (0..5).map(|_| server.client()).collect();
    // Others are served beside them.
    let resp = server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    server.assert_exits_0_on_sigint("with silent connections open");
}

/// One thread of a process, from `/proc/PID/task/TID/stat`.
#[derive(Debug)]
struct ThreadStat {
    tid: u32,
    name: String,
    /// Field 3: `R` running, `S` asleep (a worker in its poll), …
    state: char,
    /// Field 19.
    nice: i32,
}

/// Every thread of process `pid`.
fn threads(pid: u32) -> Vec<ThreadStat> {
    let mut threads = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let (Ok(stat), Ok(comm)) = (
            fs::read_to_string(task.path().join("stat")),
            fs::read_to_string(task.path().join("comm")),
        ) else {
            continue;
        };
        // The name may hold spaces and parentheses: count from the last ')',
        // which ends field 2; field 19 is then the 17th after it.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(state), Some(Ok(nice))) = (
            fields.first().and_then(|f| f.chars().next()),
            fields.get(16).map(|f| f.parse()),
        ) else {
            continue;
        };
        threads.push(ThreadStat {
            tid: task.file_name().to_string_lossy().parse().unwrap_or(0),
            name: comm.trim().to_string(),
            state,
            nice,
        });
    }
    threads
}

fn workers(pid: u32) -> Vec<ThreadStat> {
    threads(pid)
        .into_iter()
        .filter(|t| t.name.starts_with("worker-"))
        .collect()
}

/// Starts the server with `--acceptor-nice steps` and checks that the
/// acceptor (the main thread) ends up that many nice steps below the
/// workers, which keep the priority the server started with.
fn assert_acceptor_nice(steps: i32) {
    let root = site();
    let steps_arg = steps.to_string();
    let server = Server::start(
        root.path(),
        &["--quiet", "--workers", "3", "--acceptor-nice", &steps_arg],
    );
    let pid = server.pid();
    // The pool starts just after the Serving line.
    assert!(
        poll_until(Duration::from_secs(10), || workers(pid).len() == 3),
        "{:?}",
        threads(pid)
    );
    let workers = workers(pid);
    let nice = workers[0].nice;
    assert!(
        workers.iter().all(|w| w.nice == nice),
        "workers run at one priority: {workers:?}"
    );
    // The main thread's id is the process id; it lowers its priority as
    // it enters the accept loop, just after the Serving line. (Under a test
    // runner already at nice 19 there is nothing lower to see.)
    let main_nice = || {
        threads(pid)
            .into_iter()
            .find(|t| t.tid == pid)
            .map(|t| t.nice)
    };
    let wanted = (nice + steps).min(19);
    assert!(
        poll_until(Duration::from_secs(10), || main_nice() == Some(wanted)),
        "the acceptor (main thread) is not at nice {wanted}: {:?}",
        threads(pid)
    );
    assert_eq!(server.get("/a.txt").status, 200);
}

#[test]
fn the_acceptor_runs_nicer_than_the_workers() {
    assert_acceptor_nice(10);
}

#[test]
fn acceptor_nice_0_leaves_the_acceptor_at_the_workers_priority() {
    assert_acceptor_nice(0);
}

// ---------------------------------------------------------------------------
// accept(2) failing, through an LD_PRELOAD shim (tests/shims/failing_accept.c)
// ---------------------------------------------------------------------------

/// A server whose `accept4` calls fail with one errno after the first
/// connection, until [`FailingAccepts::heal`].
struct FailingAccepts {
    server: Server,
    /// Where the shim keeps its count of failed calls.
    count: PathBuf,
    /// Once this file exists, `accept4` works again.
    healed: PathBuf,
}

impl FailingAccepts {
    fn start(root: &DocRoot, errno: libc::c_int) -> FailingAccepts {
        let dir = root.parent();
        let shim = build_shim(dir);
        let count = dir.join("failed-accepts");
        let healed = dir.join("accept-healed");
        let errno = errno.to_string();
        let server = Server::start_with_env(
            root.path(),
            &["--quiet", "--workers", "2"],
            &[
                ("LD_PRELOAD", shim.as_os_str()),
                ("SHIM_ACCEPT_ERRNO", OsStr::new(&errno)),
                ("SHIM_ACCEPT_PASS", OsStr::new("1")),
                ("SHIM_ACCEPT_UNTIL", healed.as_os_str()),
                ("SHIM_ACCEPT_COUNT", count.as_os_str()),
            ],
        );
        // The first connection must find its worker asleep in its poll, so
        // that only the acceptor's wake-up can get it served: wait until
        // the pool has started and gone idle.
        let pid = server.pid();
        assert!(
            poll_until(Duration::from_secs(10), || {
                let workers = workers(pid);
                workers.len() == 2 && workers.iter().all(|w| w.state == 'S')
            }),
            "the workers did not go to sleep: {:?}",
            threads(pid)
        );
        FailingAccepts {
            server,
            count,
            healed,
        }
    }

    fn failed(&self) -> u64 {
        fs::read_to_string(&self.count)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Failed calls during `window` are paced by a pause of `backoff`
    /// between attempts: a spinning acceptor fails hundreds of thousands
    /// of times a second.
    fn assert_paced(&self, window: Duration, backoff: Duration) {
        assert!(
            poll_until(Duration::from_secs(10), || self.failed() > 0),
            "no failed accept4 call seen: is the shim loaded?"
        );
        let before = self.failed();
        let started = Instant::now();
        // A measuring window, not a wait for readiness.
        thread::sleep(window);
        let during = self.failed().saturating_sub(before);
        let elapsed = started.elapsed();
        let most = 2 * (elapsed.as_millis() / backoff.as_millis()) as u64 + 5;
        assert!(
            during <= most,
            "{during} failed accept4 calls in {elapsed:?}; wanted at most {most} \
             (a pause of {backoff:?} between attempts)"
        );
    }

    fn heal(&self) {
        fs::write(&self.healed, "").expect("create the heal file");
    }

    /// Failures start again (with the next client: an acceptor with no
    /// one knocking sleeps in `poll`).
    fn break_again(&self) {
        fs::remove_file(&self.healed).expect("remove the heal file");
    }
}

/// Builds the shim into `dir` with `$CC`, or `cc`.
fn build_shim(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/shims/failing_accept.c");
    let lib = dir.join("libfailing_accept.so");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-o"])
        .arg(&lib)
        .arg(&source)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| panic!("run {cc:?} to build the accept shim: {e}"));
    assert!(
        out.status.success(),
        "building the accept shim failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

#[test]
fn persistent_accept_errors_pause_the_acceptor_and_serve_what_it_took() {
    let root = site();
    let mut failing = FailingAccepts::start(&root, libc::ENOBUFS);
    // Accepted, and then every accept4 after it fails: the acceptor must
    // still wake the worker it gave this connection to.
    let resp = failing.server.get("/a.txt");
    assert_eq!(resp.status, 200, "{resp:?}");
    failing.assert_paced(Duration::from_millis(500), Duration::from_millis(10));

    // A client that connects meanwhile waits in the kernel's backlog, and
    // is served once accept4 works again.
    let mut waiting = failing.server.client();
    waiting.send(get_request("/a.txt").as_bytes());
    failing.heal();
    let resp = waiting.read_response();
    assert_eq!(resp.status, 200, "{resp:?}");
    failing
        .server
        .assert_exits_0_on_sigint("after accept4 failed");
}

#[test]
fn emfile_is_logged_once_per_burst_while_open_connections_are_served() {
    let root = site();
    let mut failing = FailingAccepts::start(&root, libc::EMFILE);
    let warnings = |server: &Server| {
        server
            .stderr_lines()
            .iter()
            .filter(|line| line.contains("pausing accepts"))
            .count()
    };
    // Accepted before the descriptors "ran out": kept alive and served
    // throughout.
    let mut open = failing.server.client();
    assert_eq!(open.get("/a.txt").status, 200);
    failing.assert_paced(Duration::from_millis(1000), Duration::from_millis(100));
    for _ in 0..3 {
        let resp = open.get("/a.txt");
        assert_eq!(resp.status, 200, "{resp:?}");
    }
    assert_eq!(
        warnings(&failing.server),
        1,
        "one warning for the burst: {:?}",
        failing.server.stderr_lines()
    );

    // An accept that works ends the burst; the next burst is logged again.
    let mut waiting = failing.server.client();
    waiting.send(get_request("/a.txt").as_bytes());
    failing.heal();
    assert_eq!(waiting.read_response().status, 200);
    failing.break_again();
    let mut next = failing.server.client();
    next.send(get_request("/a.txt").as_bytes());
    assert!(
        poll_until(Duration::from_secs(10), || warnings(&failing.server) == 2),
        "no warning for the second burst: {:?}",
        failing.server.stderr_lines()
    );
    assert_eq!(open.get("/a.txt").status, 200);
    failing.heal();
    assert_eq!(next.read_response().status, 200);
    failing
        .server
        .assert_exits_0_on_sigint("after accept4 failed");
}

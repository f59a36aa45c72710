//! How new connections are taken. The kernel hands a connection to the
//! acceptor once its first bytes are there (`TCP_DEFER_ACCEPT`, about a
//! second), and the acceptor runs `--acceptor-nice` (default 10) steps
//! below the workers.

mod common;

use common::*;
use std::fs;
use std::thread;
use std::time::Duration;

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
    server.send_signal(libc::SIGINT);
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("server did not exit after SIGINT with silent connections open");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// The id, name and nice value (field 19 of `/proc/PID/task/TID/stat`) of
/// every thread of `pid`.
fn thread_nice(pid: u32) -> Vec<(u32, String, i32)> {
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
        let tid = task.file_name().to_string_lossy().parse().unwrap_or(0);
        if let Some(nice) = rest.split_whitespace().nth(16).and_then(|n| n.parse().ok()) {
            threads.push((tid, comm.trim().to_string(), nice));
        }
    }
    threads
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
    let workers = || -> Vec<_> {
        thread_nice(pid)
            .into_iter()
            .filter(|(_, name, _)| name.starts_with("worker-"))
            .collect()
    };
    // The pool starts just after the Serving line.
    assert!(
        poll_until(Duration::from_secs(10), || workers().len() == 3),
        "{:?}",
        thread_nice(pid)
    );
    let workers = workers();
    let nice = workers[0].2;
    assert!(
        workers.iter().all(|w| w.2 == nice),
        "workers run at one priority: {workers:?}"
    );
    // The main thread's id is the process id; it lowers its priority as
    // it enters the accept loop, just after the Serving line. (Under a test
    // runner already at nice 19 there is nothing lower to see.)
    let main_nice = || {
        thread_nice(pid)
            .into_iter()
            .find(|&(tid, _, _)| tid == pid)
            .map(|(_, _, nice)| nice)
    };
    let wanted = (nice + steps).min(19);
    assert!(
        poll_until(Duration::from_secs(10), || main_nice() == Some(wanted)),
        "the acceptor (main thread) is not at nice {wanted}: {:?}",
        thread_nice(pid)
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

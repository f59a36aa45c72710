//! How new connections are taken. The kernel hands a connection to the
//! acceptor once its first bytes are there (`TCP_DEFER_ACCEPT`, about a
//! second), and the acceptor runs under `SCHED_BATCH` while the workers keep
//! the normal policy.

mod common;

use common::*;
use std::fs;
use std::thread;
use std::time::Duration;

/// `SCHED_OTHER` and `SCHED_BATCH` from `<sched.h>`.
const SCHED_OTHER: u32 = 0;
const SCHED_BATCH: u32 = 3;

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

/// The id, name and scheduling policy (field 41 of
/// `/proc/PID/task/TID/stat`) of every thread of `pid`.
fn thread_policies(pid: u32) -> Vec<(u32, String, u32)> {
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
        // which ends field 2; field 41 is then the 39th after it.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let tid = task.file_name().to_string_lossy().parse().unwrap_or(0);
        if let Some(policy) = rest.split_whitespace().nth(38).and_then(|p| p.parse().ok()) {
            threads.push((tid, comm.trim().to_string(), policy));
        }
    }
    threads
}

#[test]
fn only_the_acceptor_gives_up_wake_up_preemption() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet", "--workers", "3"]);
    let pid = server.pid();
    // The main thread's id is the process id.
    let main_policy = || {
        thread_policies(pid)
            .into_iter()
            .find(|&(tid, _, _)| tid == pid)
            .map(|(_, _, policy)| policy)
    };
    // The acceptor enters its loop just after the Serving line.
    assert!(
        poll_until(Duration::from_secs(10), || main_policy()
            == Some(SCHED_BATCH)),
        "the acceptor (main thread) does not run under SCHED_BATCH: {:?}",
        thread_policies(pid)
    );
    let workers: Vec<_> = thread_policies(pid)
        .into_iter()
        .filter(|(_, name, _)| name.starts_with("worker-"))
        .collect();
    assert_eq!(workers.len(), 3, "{workers:?}");
    assert!(
        workers.iter().all(|&(_, _, policy)| policy == SCHED_OTHER),
        "workers must keep the normal policy: {workers:?}"
    );
    assert_eq!(server.get("/a.txt").status, 200);
}

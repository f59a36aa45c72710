//! Request paths: traversal attempts, symlinks and percent-decoding.

mod common;

use common::*;

fn site() -> DocRoot {
    let root = DocRoot::new();
    root.file("a.txt", "inside a");
    root.file("sub/b.txt", "inside b");
    root.file("with space.txt", "spaced");
    root
}

/// Sends `target` raw on a fresh connection and returns the response.
fn raw_get(server: &Server, target: &str) -> Response {
    let mut client = server.client();
    client.send(
        format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    client.read_response()
}

fn assert_refused(server: &Server, target: &str) {
    let resp = raw_get(server, target);
    assert!(
        resp.status == 400 || resp.status == 404,
        "{target}: expected 400 or 404, got {resp:?}"
    );
    let body = resp.body_text();
    assert!(!body.contains(SECRET), "{target}: leaked the secret file");
    assert!(!body.contains("root:x:0"), "{target}: leaked /etc/passwd");
}

#[test]
fn traversal_never_escapes_the_root() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let targets = [
        "/../secret.txt",
        "/../../secret.txt",
        "/sub/../../secret.txt",
        "/../etc/passwd",
        "/../../../../../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2e%2e%2fsecret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/sub/..%2F..%2Fsecret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/%2Fetc%2Fpasswd",
    ];
    for target in targets {
        assert_refused(&server, target);
    }
}

#[test]
fn encoded_slash_and_nul_are_refused() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    for target in [
        "/sub%2fb.txt",
        "/sub%2Fb.txt",
        "/a.txt%00",
        "/a.txt%00.html",
        "/%00",
    ] {
        assert_refused(&server, target);
    }
    // The server is still fine.
    let ok = server.get("/sub/b.txt");
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.body, b"inside b");
}

#[test]
fn symlinks_out_of_the_root_are_404() {
    let root = site();
    root.symlink(root.parent().join("secret.txt"), "to_secret.txt");
    root.symlink(root.parent().join("outside"), "to_outside");
    root.symlink("../secret.txt", "relative_secret.txt");
    root.symlink("../../outside", "sub/up_outside");
    let server = Server::start(root.path(), &["--quiet"]);
    for target in [
        "/to_secret.txt",
        "/to_outside/secret.txt",
        "/to_outside/",
        "/relative_secret.txt",
        "/sub/up_outside/secret.txt",
        "/sub/up_outside/",
    ] {
        let resp = raw_get(&server, target);
        assert_eq!(resp.status, 404, "{target}: {resp:?}");
        assert!(!resp.body_text().contains(SECRET), "{target}: leaked");
    }
}

#[test]
fn symlinks_within_the_root_are_served() {
    let root = site();
    root.symlink("a.txt", "link_to_a.txt");
    root.symlink("../a.txt", "sub/up_to_a.txt");
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for (target, body) in [
        ("/link_to_a.txt", "inside a"),
        ("/sub/up_to_a.txt", "inside a"),
    ] {
        let resp = client.get(target);
        assert_eq!(resp.status, 200, "{target}: {resp:?}");
        assert_eq!(resp.body_text(), body, "{target}");
    }
}

#[test]
fn percent_decoding_and_query_strings() {
    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for (target, body) in [
        ("/with%20space.txt", "spaced"),
        ("/a.txt?x=y", "inside a"),
        ("/a.txt?", "inside a"),
        ("/%61.txt", "inside a"),
        ("/sub/b.txt?q=/../secret.txt", "inside b"),
        ("/with%20space.txt?a=b%20c", "spaced"),
    ] {
        let resp = client.get(target);
        assert_eq!(resp.status, 200, "{target}: {resp:?}");
        assert_eq!(resp.body_text(), body, "{target}");
    }
}

#[test]
fn absolute_symlink_within_the_root_is_served() {
    let root = site();
    root.symlink(root.path().join("sub/b.txt"), "abs_link_to_b.txt");
    root.symlink(root.path().join("sub"), "abs_link_to_sub");
    let server = Server::start(root.path(), &["--quiet"]);
    let mut client = server.client();
    for target in ["/abs_link_to_b.txt", "/abs_link_to_sub/b.txt"] {
        let resp = client.get(target);
        assert_eq!(resp.status, 200, "{target}: {resp:?}");
        assert_eq!(resp.body_text(), "inside b", "{target}");
    }
}

#[test]
fn a_fifo_behind_an_absolute_symlink_does_not_block_the_worker() {
    let root = DocRoot::new();
    root.file("a.txt", "a");
    let fifo = root.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    root.symlink(&fifo, "abs_fifo");
    let server = Server::start(root.path(), &["--quiet", "--workers", "1"]);
    let mut client = server.client();
    assert_eq!(client.get("/abs_fifo").status, 404);
    assert_eq!(client.get("/a.txt").status, 200);
}

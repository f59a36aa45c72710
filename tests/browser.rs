//! The directory listing in a real browser: headless Chromium driven by
//! tests/browser/listing.mjs (playwright-core), against the real binary.
//!
//! Needs `node`, `/usr/bin/chromium` (or `$CHROMIUM`) and
//! `tests/browser/node_modules` (`npm ci` there): `scripts/test.sh`
//! installs all three. Without them this test fails and says so.

mod common;

use std::fs::{File, FileTimes};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::*;

/// The browser script's own limit is 90 s; this one is a backstop.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// A directory worth looking at: folders, files of distinct sizes and ages,
/// names that need escaping, and one long enough to wrap on a phone.
fn site() -> DocRoot {
    let root = DocRoot::new();
    root.dir("list/photos");
    root.dir("list/docs & notes");
    root.dir("list/zzz-archive");
    let files: [(&str, usize); 7] = [
        ("list/readme.txt", 120),
        ("list/report-2026.pdf", 48_000),
        ("list/a<b>&\"c'.txt", 7),
        ("list/with space.txt", 2_500),
        ("list/été-à-paris.jpg", 310_000),
        (
            "list/a-very-long-file-name-that-will-not-fit-on-a-phone-screen-at-all.tar.gz",
            1_200_000,
        ),
        ("list/index.htm.bak", 64),
    ];
    let now = SystemTime::now();
    for (i, (rel, len)) in files.iter().enumerate() {
        let path = root.file(rel, vec![b'x'; *len]);
        // Distinct times, in an order unlike the names' or the sizes'.
        let age = Duration::from_secs(3600 * ((i as u64 * 5) % 7 + 1));
        set_modified(&path, now - age);
    }
    root
}

fn set_modified(path: &Path, when: SystemTime) {
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_times(FileTimes::new().set_modified(when)))
        .unwrap_or_else(|e| panic!("set the time of {}: {e}", path.display()));
}

#[test]
fn listing_in_chromium_at_desktop_and_phone_sizes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/test.sh, which installs chromium"
    );
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "{}/node_modules is missing: run scripts/test.sh (npm ci there)",
        dir.display()
    );

    let root = site();
    let server = Server::start(root.path(), &["--quiet"]);
    let url = format!("http://{}/list/", server.addr());
    let mut node = match Command::new("node")
        .arg(dir.join("listing.mjs"))
        .arg(&url)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("node is not on PATH: run scripts/test.sh, which installs it")
        }
        Err(e) => panic!("cannot run node: {e}"),
    };
    let mut status = None;
    poll_until(BROWSER_TIMEOUT, || {
        status = node.try_wait().expect("wait for node");
        status.is_some()
    });
    if status.is_none() {
        let _ = node.kill();
    }
    let output = node.wait_with_output().expect("node's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        status.is_some_and(|s| s.success()),
        "the browser test failed ({status:?}):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("ok - no console errors"), "{stdout}");
}

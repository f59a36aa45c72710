//! The URL → path resolver on any request target.
//!
//! Input: one byte (bit 0: `show_hidden`), then the target (lossy UTF-8,
//! as a header value becomes one).
//!
//! Invariants: no panic; a resolved path is relative, made of plain
//! segments only (no root, `.`, `..`, NUL or `\`), none hidden unless
//! `show_hidden`; it is no longer than the target; it is a fixed point
//! (its own percent-encoded form resolves to it); the query does not
//! change it; and what resolves without `show_hidden` resolves the same
//! with it.

#![no_main]

use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;
use simple_web_server::fuzzing::resolve_path;

/// `/` and each segment of `rel` with every byte but `[A-Za-z0-9-_~]`
/// percent-encoded.
fn encode(rel: &Path) -> String {
    let mut target = String::from("/");
    for (i, segment) in rel.iter().enumerate() {
        if i > 0 {
            target.push('/');
        }
        for &b in segment.as_bytes() {
            if b.is_ascii_alphanumeric() || b"-_~".contains(&b) {
                target.push(char::from(b));
            } else {
                let _ = write!(target, "%{b:02X}");
            }
        }
    }
    target
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, target)) = data.split_first() else {
        return;
    };
    let show_hidden = flags & 1 == 1;
    let target = String::from_utf8_lossy(target);
    let resolved = resolve_path(&target, show_hidden);

    let path = target.split('?').next().unwrap_or_default();
    assert_eq!(
        resolve_path(path, show_hidden),
        resolved,
        "the query changed the path"
    );

    let Ok(rel) = resolved else {
        return;
    };
    assert!(!rel.has_root(), "{target:?} resolved to {rel:?}");
    assert!(
        rel.as_os_str().len() <= target.len(),
        "{target:?} grew to {rel:?}"
    );
    for component in rel.components() {
        let Component::Normal(name) = component else {
            panic!("{target:?} resolved to {rel:?}: a {component:?}");
        };
        let name = name.as_bytes();
        assert!(
            name != b"." && name != b"..",
            "{target:?} resolved to {rel:?}"
        );
        assert!(
            !name.contains(&0) && !name.contains(&b'\\') && !name.contains(&b'/'),
            "{target:?} resolved to {rel:?}"
        );
        if !show_hidden {
            assert!(
                !name.starts_with(b"."),
                "{target:?} resolved to hidden {rel:?}"
            );
        }
    }
    if !show_hidden {
        assert_eq!(
            resolve_path(&target, true).as_ref(),
            Ok(&rel),
            "{target:?}: show_hidden changed a path with no hidden segment"
        );
    }
    let again = encode(&rel);
    assert_eq!(
        resolve_path(&again, show_hidden).as_ref(),
        Ok(&rel),
        "{target:?} resolved to {rel:?}, and its encoded form {again:?} did not"
    );
});

//! URL path → file under the root, safely; content types; index files,
//! directory listings (made by `listing.rs`), and what a missing path gets
//! (`404.html`, `--spa`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, percent_encode};

use crate::compress::{self, Coding, Compressor, Key};
use crate::config::Config;
use crate::http::{Conditions, Reply, Request, Status};
use crate::listing::{self, Format, Listing, View};
use crate::representation::{self, Variant, Variants};
use crate::sys;

/// How long a cached file is trusted before it is looked up again. Like
/// lighttpd's stat cache: a change to a file shows within this time.
const CACHE_TTL: Duration = Duration::from_secs(1);
/// Files a worker's cache holds at most (each may hold a descriptor).
pub const CACHE_ENTRIES: usize = 256;
/// Bytes of small-file content a worker's cache holds at most.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// The page a missing path gets, when the root has one (as on GitHub
/// Pages and Netlify).
const NOT_FOUND_PAGE: &str = "/404.html";

/// Characters percent-encoded in a path segment of a URL we write (a
/// redirect, a listing's links).
pub(crate) const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\'')
    .add(b'/')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// The directory being served.
#[derive(Debug)]
pub struct Root {
    /// The canonical path of the root.
    path: PathBuf,
    /// The root opened as a directory: every file is opened relative to it.
    dir: File,
    show_hidden: bool,
    /// Look for `FILE.br` and `FILE.gz` beside `FILE` (`--precompressed`).
    precompressed: bool,
    /// A folder without an index file is a `404` (`--no-listing`).
    no_listing: bool,
    /// The file names served for a folder, the first that is a regular
    /// file (`--index`).
    index: Vec<String>,
    /// A missing page gets the root's index, for a single-page app (`--spa`).
    spa: bool,
    /// Compression on the fly, unless `--compress off`.
    compression: Option<Compression>,
}

/// Compression on the fly: the shared cache, and the smallest file worth it.
struct Compression {
    compressor: Arc<Compressor>,
    min_size: u64,
}

impl std::fmt::Debug for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compression")
            .field("min_size", &self.min_size)
            .finish_non_exhaustive()
    }
}

impl Root {
    /// Opens `config.root` as the root, served as `config` says; fails if
    /// it is missing or not a directory.
    pub fn open(config: &Config) -> io::Result<Root> {
        let canonical = fs::canonicalize(&config.root)?;
        let dir = File::open(&canonical)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            ));
        }
        Ok(Root {
            path: canonical,
            dir,
            show_hidden: config.show_hidden,
            precompressed: config.precompressed,
            no_listing: config.no_listing,
            index: config.index.clone(),
            spa: config.spa,
            compression: None,
        })
    }

    /// Compresses compressible files of at least `min_size` bytes on the
    /// fly, keeping the variants in `compressor`'s cache.
    pub fn with_compression(mut self, compressor: Arc<Compressor>, min_size: u64) -> Root {
        self.compression = Some(Compression {
            compressor,
            min_size,
        });
        self
    }

    /// Answers a GET or HEAD, from `cache` when it holds a fresh answer.
    pub fn serve(&self, request: &Request, cache: &mut FileCache, now: Instant) -> Reply {
        let target = request.target.as_str();
        let key = target.split_once('?').map_or(target, |(path, _)| path);
        let conditions = &request.conditions;
        let variants = match cache.get(key, now) {
            Some(variants) => variants,
            None => match self.find(target, conditions.accept.as_deref()) {
                Found::File { file, meta, rel } => match self.variants(file, &meta, &rel) {
                    Ok(variants) => cache.insert(key, variants, now),
                    Err(err) => {
                        log::warn!("cannot read {}: {err}", rel.display());
                        return Reply::error(Status::InternalServerError);
                    }
                },
                Found::Reply(reply) if reply.status == Status::NotFound => {
                    return self.not_found(key, conditions, cache, now);
                }
                Found::Reply(reply) => return reply,
                Found::Listing(listing) => {
                    let accept = conditions.accept_encoding.as_deref();
                    let mut reply = match self.compressed_page(&listing, accept) {
                        Some(encoded) => encoded.respond(conditions),
                        None => listing.respond(conditions),
                    };
                    // A listing changes whenever the directory does: caches
                    // may keep it, but must ask (its ETag makes that cheap).
                    reply.cache_control = Some("no-cache");
                    if reply.representation.is_some() {
                        // Not on an error page (412, 416): its style is not
                        // the listing's.
                        reply.content_security_policy =
                            Some(listing::CONTENT_SECURITY_POLICY.as_str());
                    }
                    return reply;
                }
            },
        };
        let accept = conditions.accept_encoding.as_deref();
        self.pick(&variants, accept).respond(conditions)
    }

    /// The answer for a path that is not there, or that we won't say is
    /// there (a dotfile, a folder under `--no-listing`): all get the same.
    /// With `--spa`, a path that looks like a page gets the root's index
    /// (`200`, revalidated on every use: the app decides what it shows);
    /// else the root's `404.html` with status 404 when it has one (a
    /// regular file inside the root); else the built-in page.
    fn not_found(
        &self,
        path: &str,
        conditions: &Conditions,
        cache: &mut FileCache,
        now: Instant,
    ) -> Reply {
        if self.spa
            && looks_like_page(path, conditions.accept.as_deref())
            && let Some(index) = self.cached_file("/", cache, now)
        {
            let accept = conditions.accept_encoding.as_deref();
            let mut reply = self.pick(&index, accept).respond(conditions);
            reply.cache_control = Some("no-cache");
            return reply;
        }
        match self.cached_file(NOT_FOUND_PAGE, cache, now) {
            // As it is: a 404 has no validators or ranges, and so no codings.
            Some(page) => page.identity.error_page(Status::NotFound),
            None => Reply::error(Status::NotFound),
        }
    }

    /// The regular file a path of our own (`/`, `/404.html`) leads to, from
    /// `cache` or looked up now (and cached under that path, as a request
    /// for it would be). `/` leads to the root's index file, if any; no
    /// listing is ever made here.
    fn cached_file(&self, path: &str, cache: &mut FileCache, now: Instant) -> Option<Rc<Variants>> {
        if let Some(variants) = cache.get(path, now) {
            return Some(variants);
        }
        let (file, meta, rel) = if path == "/" {
            self.index_file(Path::new(""))?
        } else {
            match self.find(path, None) {
                Found::File { file, meta, rel } => (file, meta, rel),
                _ => return None,
            }
        };
        match self.variants(file, &meta, &rel) {
            Ok(variants) => Some(cache.insert(path, variants, now)),
            Err(err) => {
                log::warn!("cannot read {}: {err}", rel.display());
                None
            }
        }
    }

    /// The variant to send: the coding the client prefers among those
    /// there are (precompressed sidecars, and every coding for a file
    /// compressed on the fly); its sidecar if it has one, else the variant
    /// compressed on the fly if it is ready (or small enough to compress
    /// now), else the file as it is.
    fn pick<'v>(&self, variants: &'v Variants, accept: Option<&str>) -> &'v Variant {
        let on_the_fly = self.compression.is_some() && variants.compressible.is_some();
        let sidecar = |coding| match coding {
            Coding::Brotli => variants.brotli.as_ref(),
            Coding::Gzip => variants.gzip.as_ref(),
            Coding::Zstd => None,
        };
        let available = |coding| on_the_fly || sidecar(coding).is_some();
        let Some(coding) = representation::negotiate(accept, available) else {
            return &variants.identity;
        };
        if let Some(sidecar) = sidecar(coding) {
            return sidecar;
        }
        let (Some(compression), Some(meta)) = (&self.compression, &variants.compressible) else {
            return &variants.identity;
        };
        let slot = &variants.encoded[coding.index()];
        if let Some(variant) = slot.get() {
            return variant;
        }
        let identity = &variants.identity;
        let len = identity.representation.len;
        match compression
            .compressor
            .get(Key::new(meta, coding), len, || identity.source())
        {
            Some(bytes) => slot.get_or_init(|| identity.encoded(coding, bytes)),
            None => identity,
        }
    }

    /// A listing compressed for this client, when it is worth it.
    fn compressed_page(&self, listing: &Variant, accept: Option<&str>) -> Option<Variant> {
        let compression = self.compression.as_ref()?;
        if !listing.representation.varies {
            return None;
        }
        let coding = representation::negotiate(accept, |_| true)?;
        let crate::representation::Body::Inline(page) = &listing.body else {
            return None;
        };
        let bytes = compression.compressor.compress_page(coding, page)?;
        Some(listing.encoded(coding, bytes.into()))
    }

    /// Whether a representation of this type and size is compressed on the fly.
    fn compresses(&self, content_type: &str, len: u64) -> bool {
        self.compression.as_ref().is_some_and(|c| {
            (c.min_size..=compress::MAX_SIZE).contains(&len) && compress::compressible(content_type)
        })
    }

    /// Looks a target up: a regular file to serve, or the answer for a
    /// directory (redirect, listing) or a failure. `accept` chooses the
    /// listing's format with the query.
    fn find(&self, target: &str, accept: Option<&str>) -> Found {
        let resolved = match resolve(target, self.show_hidden) {
            Ok(resolved) => resolved,
            Err(status) => return Found::Reply(Reply::error(status)),
        };
        let file = match self.open_file(&resolved.rel) {
            Ok(file) => file,
            Err(err) => return Found::Reply(Reply::error(status_for(&err))),
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(err) => return Found::Reply(Reply::error(status_for(&err))),
        };
        if meta.is_file() {
            return Found::File {
                file,
                meta,
                rel: resolved.rel,
            };
        }
        if !meta.is_dir() {
            // FIFOs, sockets, devices: never served.
            return Found::Reply(Reply::error(Status::NotFound));
        }
        if !resolved.dir_form {
            // Under --no-listing a folder without an index is answered as
            // if it were not there, with or without its slash: a redirect
            // would tell that it exists.
            if self.no_listing && self.index_file(&resolved.rel).is_none() {
                return Found::Reply(Reply::error(Status::NotFound));
            }
            let mut location = resolved.location();
            location.push('/');
            if let Some(query) = resolved.query {
                location.push('?');
                location.push_str(query);
            }
            return Found::Reply(Reply::moved_permanently(location));
        }
        if let Some((file, meta, rel)) = self.index_file(&resolved.rel) {
            return Found::File { file, meta, rel };
        }
        if self.no_listing {
            return Found::Reply(Reply::error(Status::NotFound));
        }
        let view = View::new(resolved.query, accept);
        match self.listing(&file, &resolved.rel, view) {
            Ok(listing) => Found::Listing(listing),
            Err(err) => Found::Reply(Reply::error(status_for(&err))),
        }
    }

    /// The folder `rel`'s index: the first of the `--index` names that is a
    /// regular file there.
    fn index_file(&self, rel: &Path) -> Option<(File, fs::Metadata, PathBuf)> {
        self.index.iter().find_map(|name| {
            let rel = rel.join(name);
            let file = self.open_file(&rel).ok()?;
            let meta = file.metadata().ok()?;
            meta.is_file().then_some((file, meta, rel))
        })
    }

    /// The listing of the folder `dir` (at `rel`), as `view` asks: made
    /// for this request, never cached.
    fn listing(&self, dir: &File, rel: &Path, view: View) -> io::Result<Variant> {
        // Read the directory we opened (and checked), not the path again.
        let entries = fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
            .or_else(|_| fs::read_dir(self.path.join(rel)))?;
        let mut listing = Listing::read(entries, self.show_hidden, |name| {
            self.open_file(&rel.join(name)).and_then(|f| f.metadata())
        })?;
        listing.sort(view.key, view.order);
        let (page, content_type) = match view.format {
            Format::Html => (listing.html(rel, view), "text/html; charset=utf-8"),
            Format::Json => (listing.json(), "application/json"),
        };
        let varies = self.compresses(content_type, page.len() as u64);
        Ok(Variant::generated(
            page.into_bytes(),
            Cow::Borrowed(content_type),
            varies,
            Some(&view.tag()),
        ))
    }

    /// The representations of a regular file: itself, and with
    /// `--precompressed` its `.br` and `.gz` sidecars (regular files only;
    /// dotfile rules don't apply to them, their name comes from ours).
    fn variants(&self, file: File, meta: &fs::Metadata, rel: &Path) -> io::Result<Variants> {
        let content_type = content_type(rel);
        let sidecar = |suffix: &str| -> Option<(File, fs::Metadata)> {
            let mut name = rel.as_os_str().to_owned();
            name.push(suffix);
            let file = self.open_file(Path::new(&name)).ok()?;
            let meta = file.metadata().ok()?;
            meta.is_file().then_some((file, meta))
        };
        let (brotli, gzip) = if self.precompressed {
            (sidecar(".br"), sidecar(".gz"))
        } else {
            (None, None)
        };
        let compressible = self.compresses(&content_type, meta.len());
        let varies = brotli.is_some() || gzip.is_some() || compressible;
        let load = |found: Option<(File, fs::Metadata)>, encoding| {
            found
                .map(|(file, meta)| {
                    Variant::load(file, &meta, content_type.clone(), Some(encoding), varies)
                })
                .transpose()
        };
        Ok(Variants {
            brotli: load(brotli, "br")?,
            gzip: load(gzip, "gzip")?,
            identity: Variant::load(file, meta, content_type.clone(), None, varies)?,
            compressible: compressible.then(|| meta.clone()),
            encoded: Default::default(),
        })
    }

    /// Opens `rel` (relative, normalised) without ever leaving the root, also
    /// through symlinks.
    fn open_file(&self, rel: &Path) -> io::Result<File> {
        let rel = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        static OPENAT2_MISSING: AtomicBool = AtomicBool::new(false);
        if !OPENAT2_MISSING.load(Ordering::Relaxed) {
            match sys::open_beneath(&self.dir, rel) {
                Err(err) if err.raw_os_error() == Some(libc::ENOSYS) => {
                    OPENAT2_MISSING.store(true, Ordering::Relaxed);
                }
                // RESOLVE_BENEATH refuses every absolute symlink, also one
                // that points inside the root: check those the slow way.
                Err(err) if err.raw_os_error() == Some(libc::EXDEV) => {}
                result => return result,
            }
        }
        self.open_resolved(rel)
    }

    /// Opens `rel` the portable way, for kernels before 5.6, systems other
    /// than Linux, and absolute symlinks: resolves every symlink and checks
    /// that the result is still under the root. A symlink swapped in
    /// between the check and the open is the one race left, and only the
    /// root's owner can do that.
    fn open_resolved(&self, rel: &Path) -> io::Result<File> {
        let canonical = fs::canonicalize(self.path.join(rel))?;
        if !canonical.starts_with(&self.path) {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        // Non-blocking like openat2 above: opening a FIFO must not block.
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(canonical)
    }
}

/// What a path leads to.
enum Found {
    File {
        file: File,
        meta: fs::Metadata,
        rel: PathBuf,
    },
    /// A directory listing, generated now (never cached).
    Listing(Variant),
    Reply(Reply),
}

/// A worker's short-lived cache of the files it served: descriptors,
/// formatted headers and small files' content, keyed by request path.
/// A hit costs no system call at all; entries live [`CACHE_TTL`].
pub struct FileCache {
    entries: HashMap<String, Cached>,
    /// Content bytes held by all entries.
    bytes: usize,
    next_sweep: Instant,
    /// Lookups answered from the cache, and those that were not (for `/metrics`).
    pub hits: u64,
    pub misses: u64,
}

struct Cached {
    variants: Rc<Variants>,
    expires: Instant,
}

impl FileCache {
    pub fn new() -> FileCache {
        FileCache {
            entries: HashMap::new(),
            bytes: 0,
            next_sweep: Instant::now() + CACHE_TTL,
            hits: 0,
            misses: 0,
        }
    }

    fn get(&mut self, key: &str, now: Instant) -> Option<Rc<Variants>> {
        match self.entries.get(key) {
            Some(entry) if entry.expires > now => {
                self.hits += 1;
                return Some(entry.variants.clone());
            }
            Some(_) => {
                if let Some(entry) = self.entries.remove(key) {
                    self.bytes -= entry.variants.inline_bytes();
                }
            }
            None => {}
        }
        self.misses += 1;
        None
    }

    /// Drops expired entries (and their descriptors), at most once per TTL,
    /// so a deleted file is not held open for long.
    pub fn sweep(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + CACHE_TTL;
        self.entries.retain(|_, entry| entry.expires > now);
        self.bytes = self
            .entries
            .values()
            .map(|e| e.variants.inline_bytes())
            .sum();
    }

    /// Caches `variants` under `key` (making room if needed) and returns them.
    fn insert(&mut self, key: &str, variants: Variants, now: Instant) -> Rc<Variants> {
        let variants = Rc::new(variants);
        let size = variants.inline_bytes();
        let full = |cache: &FileCache| {
            cache.entries.len() >= CACHE_ENTRIES || cache.bytes + size > CACHE_BYTES
        };
        if full(self) {
            self.next_sweep = now;
            self.sweep(now);
            if full(self) {
                self.entries.clear();
                self.bytes = 0;
            }
        }
        if size <= CACHE_BYTES {
            self.bytes += size;
            let entry = Cached {
                variants: variants.clone(),
                expires: now + CACHE_TTL,
            };
            self.entries.insert(key.to_owned(), entry);
        }
        variants
    }
}

/// A request path after decoding and normalising.
#[derive(Debug, PartialEq)]
pub(crate) struct Resolved<'a> {
    /// The path relative to the root, without `.`, `..` or empty segments.
    pub(crate) rel: PathBuf,
    /// Whether the request path ended in `/`.
    dir_form: bool,
    query: Option<&'a str>,
}

impl Resolved<'_> {
    /// The normalised path as a URL path, percent-encoded (no trailing slash).
    fn location(&self) -> String {
        let mut location = String::new();
        for segment in self.rel.iter() {
            location.push('/');
            location.extend(percent_encode(segment.as_bytes(), SEGMENT));
        }
        if location.is_empty() {
            location.push('/');
        }
        location
    }
}

/// Decodes and normalises a request target. Percent-decoding happens once;
/// an encoded `/` or a NUL is refused (400), `..` above the root is refused
/// (400), and a dotfile segment is 404 unless `show_hidden`.
pub(crate) fn resolve(target: &str, show_hidden: bool) -> Result<Resolved<'_>, Status> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    // absolute-form (`GET http://host/path HTTP/1.1`), RFC 9112 §3.2.2.
    let path = match path.split_once("://") {
        Some((scheme, rest)) if !scheme.contains('/') => {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => path,
    };
    if !path.starts_with('/') {
        return Err(Status::BadRequest);
    }
    let mut rel = PathBuf::new();
    let mut depth = 0usize;
    let raw_segments = path.split('/').filter(|s| !s.is_empty());
    for raw in raw_segments {
        let segment: Cow<[u8]> = percent_decode_str(raw).into();
        if segment.contains(&b'/') || segment.contains(&0) || segment.contains(&b'\\') {
            return Err(Status::BadRequest);
        }
        match &segment[..] {
            b"." => {}
            b".." => {
                if depth == 0 {
                    return Err(Status::BadRequest);
                }
                depth -= 1;
                rel.pop();
            }
            name => {
                if name.starts_with(b".") && !show_hidden {
                    return Err(Status::NotFound);
                }
                depth += 1;
                rel.push(OsStr::from_bytes(name));
            }
        }
    }
    Ok(Resolved {
        rel,
        dir_form: path.ends_with('/'),
        query,
    })
}

/// The `Content-Type` for a file name; text types say they are UTF-8.
pub fn content_type(path: &Path) -> Cow<'static, str> {
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    let textual = mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        );
    if textual {
        Cow::Owned(format!("{mime}; charset=utf-8"))
    } else {
        Cow::Borrowed(mime)
    }
}

/// The status for a failure to open or inspect a path.
fn status_for(err: &io::Error) -> Status {
    match err.kind() {
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        _ => match err.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR | libc::EXDEV | libc::ELOOP | libc::ENAMETOOLONG) => {
                Status::NotFound
            }
            _ => {
                log::warn!("file error: {err}");
                Status::InternalServerError
            }
        },
    }
}

/// Whether a missing `path` (without its query) was a page, for `--spa`:
/// its last segment has no extension (`/app/settings`, `/users/42/`), or
/// `accept` ranks HTML first (a browser navigating to `/v1.2`). A missing
/// `/app.js` or `/img/x.png` fetched by a page stays a 404.
fn looks_like_page(path: &str, accept: Option<&str>) -> bool {
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    let last = percent_decode_str(last).decode_utf8_lossy();
    // `.env` and `name.` have no extension.
    let has_extension = last
        .char_indices()
        .any(|(i, c)| c == '.' && i > 0 && i + 1 < last.len());
    !has_extension || representation::prefers_html(accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable way of opening (other systems, old kernels) lets the
    /// same paths through as `openat2` does, and keeps every escape out.
    #[test]
    fn portable_open_stays_under_the_root() {
        use std::os::unix::fs::symlink;
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        fs::write(outer.path().join("secret.txt"), "secret").unwrap();
        symlink("a.txt", root.join("rel_in")).unwrap();
        symlink(root.join("a.txt"), root.join("abs_in")).unwrap();
        symlink("../secret.txt", root.join("rel_out")).unwrap();
        symlink(outer.path().join("secret.txt"), root.join("abs_out")).unwrap();
        symlink("..", root.join("sub/up")).unwrap();
        symlink("../..", root.join("sub/up2")).unwrap();
        let served = Root::open(&Config::new(&root)).unwrap();
        let read = |rel: &str| {
            served
                .open_resolved(Path::new(rel))
                .map(|file| io::read_to_string(file).unwrap())
                .map_err(|err| err.raw_os_error())
        };
        assert_eq!(read("a.txt"), Ok("a".into()));
        assert_eq!(read("rel_in"), Ok("a".into()));
        assert_eq!(read("abs_in"), Ok("a".into()));
        assert_eq!(read("sub/up/a.txt"), Ok("a".into()));
        assert_eq!(read("rel_out"), Err(Some(libc::EXDEV)));
        assert_eq!(read("abs_out"), Err(Some(libc::EXDEV)));
        assert_eq!(read("sub/up2/secret.txt"), Err(Some(libc::EXDEV)));
        assert_eq!(read("missing"), Err(Some(libc::ENOENT)));
        // The way every request takes on Linux agrees, absolute symlinks
        // inside the root aside (it leaves those to the portable way).
        let rels = ["a.txt", "rel_in", "sub/up/a.txt", "rel_out", "abs_out"];
        for rel in rels.into_iter().filter(|_| cfg!(target_os = "linux")) {
            let beneath = sys::open_beneath(&served.dir, Path::new(rel));
            assert_eq!(beneath.is_ok(), read(rel).is_ok(), "{rel}");
        }
    }

    #[test]
    fn resolve_table() {
        // (target, show_hidden, Ok((rel, dir_form)) or Err(status))
        type Case = (&'static str, bool, Result<(&'static str, bool), Status>);
        let cases: &[Case] = &[
            ("/", false, Ok(("", true))),
            ("/a.txt", false, Ok(("a.txt", false))),
            ("/a.txt?x=1", false, Ok(("a.txt", false))),
            ("/sub/", false, Ok(("sub", true))),
            ("//sub//./a", false, Ok(("sub/a", false))),
            ("/sub/../a", false, Ok(("a", false))),
            ("/with%20space.txt", false, Ok(("with space.txt", false))),
            ("http://example.com/a.txt", false, Ok(("a.txt", false))),
            ("http://example.com", false, Ok(("", true))),
            ("/..", false, Err(Status::BadRequest)),
            ("/../etc/passwd", false, Err(Status::BadRequest)),
            ("/%2e%2e/etc/passwd", false, Err(Status::BadRequest)),
            ("/sub/..%2f..%2fsecret", false, Err(Status::BadRequest)),
            ("/a%2Fb", false, Err(Status::BadRequest)),
            ("/a%00b", false, Err(Status::BadRequest)),
            ("/a%5cb", false, Err(Status::BadRequest)),
            ("*", false, Err(Status::BadRequest)),
            ("/.env", false, Err(Status::NotFound)),
            ("/.git/config", false, Err(Status::NotFound)),
            ("/%2egit/config", false, Err(Status::NotFound)),
            ("/.env", true, Ok((".env", false))),
        ];
        for (target, show_hidden, expected) in cases {
            let got = resolve(target, *show_hidden)
                .map(|r| (r.rel.to_string_lossy().into_owned(), r.dir_form));
            let expected = expected.map(|(rel, dir)| (rel.to_owned(), dir));
            assert_eq!(got, expected, "{target}");
        }
    }

    #[test]
    fn location_is_encoded() {
        let resolved = resolve("/a%20b/c%3F", false).unwrap();
        assert_eq!(resolved.location(), "/a%20b/c%3F");
    }

    #[test]
    fn content_types() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("style.css", "text/css; charset=utf-8"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("logo.png", "image/png"),
            ("blob.unknownext", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn pages_for_spa_table() {
        let html = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        let cases = [
            ("/", None, true),
            ("/app", None, true),
            ("/app/settings/", None, true),
            ("/users/42", None, true),
            ("/.env", None, true),
            ("/name.", None, true),
            ("/app.js", None, false),
            ("/img/x.png", None, false),
            ("/img/x.png", Some("image/avif,image/*,*/*;q=0.8"), false),
            ("/a%2Eb", None, false),
            ("/v1.2", html, true),
            ("/a.b", html, true),
            ("/dir.d/page", None, true),
        ];
        for (path, accept, expected) in cases {
            assert_eq!(looks_like_page(path, accept), expected, "{path} {accept:?}");
        }
    }
}

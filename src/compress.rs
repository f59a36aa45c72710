//! Compression on the fly, done once: a file's brotli, zstd and gzip
//! variants are made off the workers' event loops and kept in one cache
//! that all workers share.
//!
//! A worker that misses asks for the variant and answers that request as
//! identity at once; a compression thread makes it, and the next request
//! finds it ready. Small files (at most [`INLINE_LIMIT`]) are compressed on
//! the spot instead, which takes well under a millisecond at the default
//! levels. The cache is keyed by the file's identity (device, inode, size,
//! modification time) and the coding, so a changed file gets new entries
//! and the old ones age out; it is bounded in bytes, least recently used
//! out first.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread;

use crossbeam_channel::{Receiver, Sender, TrySendError};

/// The largest file compressed: bigger ones are served as they are.
pub const MAX_SIZE: u64 = 16 * 1024 * 1024;
/// Files up to this size are compressed by the worker that needs them, at
/// once (well under a millisecond at the default levels; not at `best`).
pub const INLINE_LIMIT: u64 = 16 * 1024;
/// Compression requests waiting for a thread; beyond this a miss is
/// answered as identity without one (a later request asks again).
const QUEUE: usize = 1024;

/// A content coding we produce, in the order preferred among equal q-values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    Brotli,
    Zstd,
    Gzip,
}

impl Coding {
    pub const ALL: [Coding; 3] = [Coding::Brotli, Coding::Zstd, Coding::Gzip];

    /// The `Content-Encoding` (and `Accept-Encoding`) token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How hard to compress (`--compress`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CompressLevel {
    Off,
    /// gzip 1, brotli 1, zstd 1.
    Fast,
    /// gzip 6, brotli 5, zstd 3.
    #[default]
    Default,
    /// gzip 9, brotli 11, zstd 19.
    Best,
}

impl FromStr for CompressLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(CompressLevel::Off),
            "fast" => Ok(CompressLevel::Fast),
            "default" => Ok(CompressLevel::Default),
            "best" => Ok(CompressLevel::Best),
            _ => Err("expected off, fast, default or best".into()),
        }
    }
}

impl fmt::Display for CompressLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompressLevel::Off => "off",
            CompressLevel::Fast => "fast",
            CompressLevel::Default => "default",
            CompressLevel::Best => "best",
        })
    }
}

impl CompressLevel {
    /// The level of `coding` at this setting (`Off` compresses nothing).
    fn of(self, coding: Coding) -> i32 {
        match (self, coding) {
            (CompressLevel::Off | CompressLevel::Fast, _) => 1,
            (CompressLevel::Default, Coding::Gzip) => 6,
            (CompressLevel::Default, Coding::Brotli) => 5,
            (CompressLevel::Default, Coding::Zstd) => 3,
            (CompressLevel::Best, Coding::Gzip) => 9,
            (CompressLevel::Best, Coding::Brotli) => 11,
            (CompressLevel::Best, Coding::Zstd) => 19,
        }
    }
}

/// Whether a type is worth compressing: text and the structured formats
/// that are text underneath, wasm and uncompressed fonts; never images
/// (but SVG, which is XML), audio, video, archives or WOFF fonts
/// (compressed already).
pub fn compressible(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime.as_str(),
            "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/json"
                | "application/manifest+json"
                | "application/xml"
                | "application/wasm"
                | "application/x-sh"
                | "application/vnd.ms-fontobject"
                | "application/x-font-ttf"
                | "font/ttf"
                | "font/otf"
                | "font/collection"
                | "image/svg+xml"
        )
}

/// One version of one file, and a coding: what a variant is cached under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    coding: Coding,
}

impl Key {
    pub fn new(meta: &std::fs::Metadata, coding: Coding) -> Key {
        Key {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            coding,
        }
    }
}

/// Where a compression thread reads the file from.
pub enum Source {
    Bytes(Vec<u8>),
    /// A descriptor of its own (a `dup` of the worker's) and the length.
    File(File, u64),
}

/// The shared cache and the threads that fill it.
pub struct Compressor {
    level: CompressLevel,
    cache: Mutex<Cache>,
    jobs: Sender<Job>,
}

struct Job {
    key: Key,
    source: Source,
}

struct Cache {
    entries: HashMap<Key, Slot>,
    /// Ready entries by last use: the first is evicted first.
    by_use: BTreeMap<u64, Key>,
    clock: u64,
    bytes: usize,
    limit: usize,
}

enum Slot {
    /// A thread is making it.
    Pending,
    Ready {
        bytes: Arc<[u8]>,
        used: u64,
    },
    /// It did not fit in the cache (or failed): served as identity.
    Refused,
}

impl Compressor {
    /// The cache (at most `cache_bytes` of encoded content) and `threads`
    /// compression threads, which run nicer than the workers.
    pub fn start(
        level: CompressLevel,
        cache_bytes: usize,
        threads: usize,
    ) -> io::Result<Arc<Compressor>> {
        let (jobs, queue) = crossbeam_channel::bounded(QUEUE);
        let compressor = Arc::new(Compressor {
            level,
            cache: Mutex::new(Cache {
                entries: HashMap::new(),
                by_use: BTreeMap::new(),
                clock: 0,
                bytes: 0,
                limit: cache_bytes,
            }),
            jobs,
        });
        for i in 0..threads.max(1) {
            let (compressor, queue) = (Arc::downgrade(&compressor), queue.clone());
            thread::Builder::new()
                .name(format!("compress-{i}"))
                .spawn(move || compress_jobs(&queue, &compressor))?;
        }
        Ok(compressor)
    }

    /// The encoded variant under `key` if it is ready. Otherwise a small
    /// file (`len` at most [`INLINE_LIMIT`]) is compressed now, and a
    /// larger one is handed to a compression thread (once, however many
    /// ask) and `None` says to answer as identity meanwhile.
    pub fn get(
        &self,
        key: Key,
        len: u64,
        source: impl FnOnce() -> io::Result<Source>,
    ) -> Option<Arc<[u8]>> {
        {
            let mut cache = self.lock();
            match cache.entries.get(&key) {
                Some(Slot::Ready { .. }) => return cache.touch(&key),
                Some(Slot::Pending | Slot::Refused) => return None,
                None => {}
            }
            cache.entries.insert(key, Slot::Pending);
        }
        let inline = len <= INLINE_LIMIT && self.level != CompressLevel::Best;
        let source = match source() {
            Ok(source) => source,
            Err(err) => {
                log::debug!("cannot read a file to compress: {err}");
                self.lock().entries.remove(&key);
                return None;
            }
        };
        if inline {
            let bytes = self.compress(key.coding, source);
            return self.lock().finish(key, bytes);
        }
        match self.jobs.try_send(Job { key, source }) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                // Asked again by a later request.
                self.lock().entries.remove(&key);
            }
        }
        None
    }

    /// Compresses a generated page (a directory listing) now, at the fast
    /// level: it is made anew for every request, like nginx's `gzip on`.
    pub fn compress_page(&self, coding: Coding, page: &[u8]) -> Option<Vec<u8>> {
        encode(coding, CompressLevel::Fast.of(coding), page).ok()
    }

    fn compress(&self, coding: Coding, source: Source) -> Option<Vec<u8>> {
        let data = match source {
            Source::Bytes(bytes) => bytes,
            Source::File(file, len) => {
                let mut data = vec![0; len as usize];
                if let Err(err) = file.read_exact_at(&mut data, 0) {
                    log::debug!("cannot read a file to compress: {err}");
                    return None;
                }
                data
            }
        };
        encode(coding, self.level.of(coding), &data)
            .map_err(|err| log::warn!("{} compression failed: {err}", coding.token()))
            .ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds no invariant a panic mid-update could break
        // beyond a wrong byte count; keep serving.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Cache {
    /// Marks a ready entry used now and returns its bytes.
    fn touch(&mut self, key: &Key) -> Option<Arc<[u8]>> {
        self.clock += 1;
        let now = self.clock;
        let Some(Slot::Ready { bytes, used }) = self.entries.get_mut(key) else {
            return None;
        };
        self.by_use.remove(used);
        *used = now;
        self.by_use.insert(now, *key);
        Some(bytes.clone())
    }

    /// Stores what a compression made, evicting the least recently used
    /// entries to make room; one that can't fit is refused (and answered
    /// as identity from then on).
    fn finish(&mut self, key: Key, encoded: Option<Vec<u8>>) -> Option<Arc<[u8]>> {
        let Some(encoded) = encoded.filter(|e| e.len() <= self.limit) else {
            self.entries.insert(key, Slot::Refused);
            return None;
        };
        while self.bytes + encoded.len() > self.limit {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some(Slot::Ready { bytes, .. }) = self.entries.remove(&oldest) {
                self.bytes -= bytes.len();
            }
        }
        self.bytes += encoded.len();
        self.clock += 1;
        let bytes: Arc<[u8]> = encoded.into();
        self.by_use.insert(self.clock, key);
        self.entries.insert(
            key,
            Slot::Ready {
                bytes: bytes.clone(),
                used: self.clock,
            },
        );
        Some(bytes)
    }
}

/// A compression thread: takes jobs until the server (the last strong
/// reference to the compressor) is gone.
fn compress_jobs(queue: &Receiver<Job>, compressor: &std::sync::Weak<Compressor>) {
    crate::acceptor::lower_thread_priority(10);
    while let Ok(job) = queue.recv() {
        let Some(compressor) = compressor.upgrade() else {
            return;
        };
        let encoded = compressor.compress(job.key.coding, job.source);
        compressor.lock().finish(job.key, encoded);
    }
}

/// `data` encoded with `coding` at `level`.
pub fn encode(coding: Coding, level: i32, data: &[u8]) -> io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let level = flate2::Compression::new(level.clamp(0, 9) as u32);
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(data)?;
            encoder.finish()
        }
        Coding::Brotli => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: level,
                // The window covers the whole file (up to 16 MiB).
                lgwin: 24,
                ..Default::default()
            };
            let mut out = Vec::new();
            brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
            Ok(out)
        }
        Coding::Zstd => zstd::bulk::compress(data, level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        for yes in [
            "text/html; charset=utf-8",
            "application/javascript",
            "application/json",
            "image/svg+xml",
            "application/wasm",
            "application/ld+json",
            "font/ttf",
        ] {
            assert!(compressible(yes), "{yes}");
        }
        for no in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "audio/mpeg",
            "application/zip",
            "application/gzip",
            "font/woff2",
            "application/octet-stream",
        ] {
            assert!(!compressible(no), "{no}");
        }
    }

    #[test]
    fn evicts_least_recently_used() {
        let meta = std::fs::metadata("Cargo.toml").unwrap();
        let key = |coding| Key::new(&meta, coding);
        let mut cache = Cache {
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            limit: 10,
        };
        cache.finish(key(Coding::Gzip), Some(vec![0; 4]));
        cache.finish(key(Coding::Zstd), Some(vec![0; 4]));
        assert!(cache.touch(&key(Coding::Gzip)).is_some());
        cache.finish(key(Coding::Brotli), Some(vec![0; 4]));
        assert!(
            cache.touch(&key(Coding::Zstd)).is_none(),
            "zstd was least recently used"
        );
        assert!(cache.touch(&key(Coding::Gzip)).is_some());
        assert_eq!(cache.bytes, 8);
        // Larger than the whole cache: refused, nothing evicted.
        assert!(cache.finish(key(Coding::Zstd), Some(vec![0; 11])).is_none());
        assert_eq!(cache.bytes, 8);
    }
}

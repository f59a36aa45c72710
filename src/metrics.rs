//! What `/metrics` on the admin listener reports.
//!
//! Each worker counts in its own [`Metrics`], plain integers that only its
//! thread touches, and copies them into its slot of the shared [`Board`]
//! once per poll round (one uncontended lock per round, nothing shared
//! written per request). A scrape sums the slots and renders the
//! Prometheus text format 0.0.4.

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::deadlines::{KINDS, Wait};
use crate::http::{Method, Status};

/// Upper bounds of the request-duration histogram's buckets, in
/// microseconds (`+Inf` follows).
const BUCKETS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// How a response's method is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodLabel {
    Get,
    Head,
    /// Any other method, and requests that did not parse.
    Other,
}

impl MethodLabel {
    const ALL: [MethodLabel; 3] = [MethodLabel::Get, MethodLabel::Head, MethodLabel::Other];

    pub fn of(method: Method) -> MethodLabel {
        match method {
            Method::Get => MethodLabel::Get,
            Method::Head => MethodLabel::Head,
            _ => MethodLabel::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MethodLabel::Get => "GET",
            MethodLabel::Head => "HEAD",
            MethodLabel::Other => "other",
        }
    }
}

/// One worker's counters, and the gauges it sets before publishing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Metrics {
    /// Responses by method ([`MethodLabel`] order) and status class (1xx … 5xx).
    pub responses: [[u64; 5]; 3],
    /// Responses per duration bucket (not cumulative; the last is `+Inf`).
    pub duration_buckets: [u64; BUCKETS.len() + 1],
    pub duration_sum: Duration,
    /// Bytes written to clients, heads and bodies.
    pub bytes_sent: u64,
    /// Connections this worker took from the acceptor.
    pub accepted: u64,
    pub tls_handshakes: u64,
    /// Connections closed before their TLS handshake completed.
    pub tls_handshake_failures: u64,
    /// Deadlines that passed, by kind ([`Wait::ALL`] order).
    pub expired: [u64; KINDS],
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Requests to the admin listener (counted nowhere else).
    pub admin_requests: u64,
    /// Gauge: connections this worker holds.
    pub open: u64,
    /// Gauge: connections by what they wait for ([`Wait::ALL`] order).
    pub waiting: [u64; KINDS],
}

impl Metrics {
    /// Counts one response, sent whole or cut short.
    pub fn response(&mut self, method: MethodLabel, status: Status, duration: Duration) {
        let class = (status.code() / 100).clamp(1, 5) as usize - 1;
        self.responses[method as usize][class] += 1;
        let micros = duration.as_micros().min(u128::from(u64::MAX)) as u64;
        let bucket = BUCKETS.partition_point(|&bound| bound < micros);
        self.duration_buckets[bucket] += 1;
        self.duration_sum += duration;
    }

    /// Responses counted, all methods and statuses.
    pub fn requests(&self) -> u64 {
        self.responses.iter().flatten().sum()
    }

    fn add(&mut self, other: &Metrics) {
        let add = |a: &mut [u64], b: &[u64]| a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        for (mine, theirs) in self.responses.iter_mut().zip(&other.responses) {
            add(mine, theirs);
        }
        add(&mut self.duration_buckets, &other.duration_buckets);
        self.duration_sum += other.duration_sum;
        self.bytes_sent += other.bytes_sent;
        self.accepted += other.accepted;
        self.tls_handshakes += other.tls_handshakes;
        self.tls_handshake_failures += other.tls_handshake_failures;
        add(&mut self.expired, &other.expired);
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
        self.admin_requests += other.admin_requests;
        self.open += other.open;
        add(&mut self.waiting, &other.waiting);
    }
}

/// What the workers publish and the admin listener reads: one slot of
/// [`Metrics`] per worker, and whether this process is going away.
pub struct Board {
    started: Instant,
    /// A shutdown or an upgrade hand-over has started: `/health` says 503.
    draining: AtomicBool,
    workers: Vec<Mutex<Metrics>>,
}

impl Board {
    pub fn new(workers: usize) -> Board {
        Board {
            started: Instant::now(),
            draining: AtomicBool::new(false),
            workers: (0..workers).map(|_| Mutex::default()).collect(),
        }
    }

    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Worker `worker`'s counters as of now.
    pub fn publish(&self, worker: usize, metrics: &Metrics) {
        // A poisoned slot only means a scrape panicked mid-copy of plain
        // integers: the data is still whole.
        *self.workers[worker]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = *metrics;
    }

    /// Every worker's last published counters, in worker order.
    fn slots(&self) -> Vec<Metrics> {
        self.workers
            .iter()
            .map(|slot| *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
            .collect()
    }

    /// All workers together.
    pub fn total(&self) -> Metrics {
        sum(&self.slots())
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let slots = self.slots();
        let total = sum(&slots);
        let mut out = String::with_capacity(4096);
        let o = &mut out;

        family(
            o,
            "sws_requests_total",
            "counter",
            "Responses sent, by method and status class.",
        );
        for method in MethodLabel::ALL {
            for (class, count) in total.responses[method as usize].iter().enumerate() {
                let labels = format!("method=\"{}\",code=\"{}xx\"", method.name(), class + 1);
                sample(o, "sws_requests_total", &labels, *count);
            }
        }
        family(
            o,
            "sws_request_duration_seconds",
            "histogram",
            "Time from a request's head to the end of its response.",
        );
        let mut cumulative = 0;
        for (i, count) in total.duration_buckets.iter().enumerate() {
            cumulative += count;
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |&micros| {
                (micros as f64 / 1e6).to_string()
            });
            sample(
                o,
                "sws_request_duration_seconds_bucket",
                &format!("le=\"{le}\""),
                cumulative,
            );
        }
        let _ = writeln!(
            o,
            "sws_request_duration_seconds_sum {}",
            total.duration_sum.as_secs_f64()
        );
        let _ = writeln!(o, "sws_request_duration_seconds_count {cumulative}");
        counter(
            o,
            "sws_response_bytes_total",
            "Bytes written to clients, heads and bodies.",
            total.bytes_sent,
        );
        counter(
            o,
            "sws_connections_accepted_total",
            "Connections accepted.",
            total.accepted,
        );
        family(
            o,
            "sws_connections",
            "gauge",
            "Open connections (the admin listener's too), by what they wait for.",
        );
        for wait in Wait::ALL {
            let state = match wait {
                Wait::Header => "reading",
                Wait::Idle => "idle",
                Wait::Write => "writing",
                Wait::Linger => "closing",
            };
            sample(
                o,
                "sws_connections",
                &format!("state=\"{state}\""),
                total.waiting[wait.index()],
            );
        }
        family(
            o,
            "sws_worker_connections",
            "gauge",
            "Open connections (the admin listener's too), by worker.",
        );
        for (i, m) in slots.iter().enumerate() {
            sample(
                o,
                "sws_worker_connections",
                &format!("worker=\"{i}\""),
                m.open,
            );
        }
        family(
            o,
            "sws_deadline_closes_total",
            "counter",
            "Connections whose deadline passed, by deadline.",
        );
        for wait in Wait::ALL {
            let deadline = match wait {
                Wait::Header => "header",
                Wait::Idle => "keepalive",
                Wait::Write => "write",
                Wait::Linger => "linger",
            };
            sample(
                o,
                "sws_deadline_closes_total",
                &format!("deadline=\"{deadline}\""),
                total.expired[wait.index()],
            );
        }
        counter(
            o,
            "sws_tls_handshakes_total",
            "TLS handshakes completed.",
            total.tls_handshakes,
        );
        counter(
            o,
            "sws_tls_handshake_failures_total",
            "TLS connections closed before their handshake completed.",
            total.tls_handshake_failures,
        );
        counter(
            o,
            "sws_file_cache_hits_total",
            "File lookups answered from a worker's cache.",
            total.cache_hits,
        );
        counter(
            o,
            "sws_file_cache_misses_total",
            "File lookups that opened the file.",
            total.cache_misses,
        );
        counter(
            o,
            "sws_admin_requests_total",
            "Requests to the admin listener (/health, /metrics), counted nowhere else.",
            total.admin_requests,
        );
        family(
            o,
            "sws_draining",
            "gauge",
            "1 once a shutdown or an upgrade hand-over has started.",
        );
        let _ = writeln!(o, "sws_draining {}", u8::from(self.is_draining()));
        family(
            o,
            "sws_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
        );
        let _ = writeln!(
            o,
            "sws_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        );
        family(o, "sws_build_info", "gauge", "The server's version.");
        let _ = writeln!(
            o,
            "sws_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

/// Every worker's counters added up.
fn sum(slots: &[Metrics]) -> Metrics {
    slots.iter().fold(Metrics::default(), |mut sum, m| {
        sum.add(m);
        sum
    })
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_workers_and_renders_cumulative_buckets() {
        let board = Board::new(2);
        let mut a = Metrics::default();
        a.response(MethodLabel::Get, Status::Ok, Duration::from_micros(300));
        a.response(MethodLabel::Get, Status::NotFound, Duration::from_millis(3));
        a.open = 2;
        let mut b = Metrics::default();
        b.response(MethodLabel::Head, Status::Ok, Duration::from_secs(20));
        b.open = 1;
        board.publish(0, &a);
        board.publish(1, &b);
        assert_eq!(board.total().requests(), 3);
        let text = board.render();
        for line in [
            "sws_requests_total{method=\"GET\",code=\"2xx\"} 1",
            "sws_requests_total{method=\"GET\",code=\"4xx\"} 1",
            "sws_requests_total{method=\"HEAD\",code=\"2xx\"} 1",
            "sws_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "sws_request_duration_seconds_bucket{le=\"0.005\"} 2",
            "sws_request_duration_seconds_bucket{le=\"10\"} 2",
            "sws_request_duration_seconds_bucket{le=\"+Inf\"} 3",
            "sws_request_duration_seconds_count 3",
            "sws_worker_connections{worker=\"0\"} 2",
            "sws_worker_connections{worker=\"1\"} 1",
            "sws_draining 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}

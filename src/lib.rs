//! A static-file HTTP/1.1 server: a fixed pool of workers fed by one acceptor.
//!
//! The main thread accepts connections and hands each to the least-loaded
//! worker over a bounded channel; every worker serves its connections from
//! its own `mio::Poll`, never blocking on a client. It listens on every
//! [`Config::binds`] entry at once: IP addresses, every address of a host
//! name, and Unix sockets. With [`Config::tls`] set, every connection
//! speaks HTTPS (rustls), its handshake run by its worker like any other
//! read and write; [`ReloadHandle`] swaps the certificate while the server
//! runs. With [`Config::admin`], a second kind of listener answers
//! `/health` and `/metrics`. [`Config::headers`], [`Config::cors`] and
//! [`Config::auth`] add header fields, CORS and HTTP Basic authentication
//! to the public listeners. [`Server::upgrader`]
//! starts a next generation of the process on the same sockets and hands
//! over to it. See `README.md`, "How it works".
//!
//! ```no_run
//! use simple_web_server::{Config, Server};
//!
//! let mut config = Config::new("www");
//! config.port = 0;
//! let server = Server::bind(config)?;
//! println!("listening on {:?}", server.local_addrs());
//! let shutdown = server.shutdown_handle(); // call .shutdown() from anywhere
//! let summary = server.run()?;
//! println!("{} requests served", summary.requests);
//! # Ok::<(), simple_web_server::Error>(())
//! ```

mod acceptor;
mod access_log;
mod admin;
mod auth;
mod compress;
mod config;
mod conn;
mod cors;
mod deadlines;
mod files;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod http;
mod listener;
mod listing;
mod metrics;
mod outgoing;
mod policy;
mod pool;
mod proxy;
mod representation;
mod server;
mod stream;
mod sys;
mod tls;
mod transport;
mod upgrade;

pub use crate::access_log::LogFormat;
pub use crate::auth::Credential;
pub use crate::compress::CompressLevel;
pub use crate::config::{
    Bind, Config, ConfigError, DEFAULT_UNIX_SOCKET_MODE, MAX_ACCEPTOR_NICE, MAX_WORKERS,
};
pub use crate::listener::ListenAddr;
pub use crate::policy::HeaderField;
pub use crate::server::{Error, ReloadHandle, Server, ShutdownHandle, Summary};
pub use crate::tls::{TlsError, TlsSource};
pub use crate::upgrade::{ReadyNotice, UpgradeError, Upgrader};

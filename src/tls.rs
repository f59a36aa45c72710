//! TLS settings: the certificate and key (from PEM files, or self-signed
//! at start-up), the rustls `ServerConfig` that every worker's connections
//! share, and reloading the pair without a restart.
//!
//! The handshake itself happens in the workers (see `transport.rs`); this
//! module only decides what they present.

use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, version};

/// Sessions remembered for resumption by session ID (TLS 1.2 clients that
/// don't take tickets); each costs a few hundred bytes.
const SESSION_CACHE: usize = 16 * 1024;

/// Where the certificate and key come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate chain (leaf first) and its private key
    /// (PKCS#8, SEC1 or PKCS#1). Read at start-up and on every reload.
    Files { cert: PathBuf, key: PathBuf },
    /// An in-memory certificate for `localhost`, `127.0.0.1`, `::1` and the
    /// bind addresses, made at start-up and never written to disk.
    SelfSigned,
}

/// Why a certificate or key could not be used.
#[derive(Debug)]
pub struct TlsError {
    /// The file concerned, if any.
    path: Option<PathBuf>,
    what: String,
}

impl TlsError {
    fn file(path: &Path, what: impl fmt::Display) -> TlsError {
        TlsError {
            path: Some(path.to_owned()),
            what: what.to_string(),
        }
    }

    fn other(what: impl fmt::Display) -> TlsError {
        TlsError {
            path: None,
            what: what.to_string(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{}: {}", path.display(), self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for TlsError {}

/// The server's TLS state: one `ServerConfig` for every connection, whose
/// certificate can be swapped while connections keep going.
pub struct Tls {
    source: TlsSource,
    config: Arc<ServerConfig>,
    current: Arc<CurrentCert>,
    /// SHA-256 of the leaf certificate, as `AB:CD:…`.
    fingerprint: String,
    /// The names a self-signed certificate was made for.
    names: Vec<String>,
}

impl Tls {
    /// Loads (or makes) the certificate and key and builds the shared
    /// configuration: TLS 1.3 and 1.2 with rustls's default AEAD suites,
    /// ALPN `http/1.1`, resumption by tickets and by session ID.
    pub fn new(source: TlsSource, binds: &[IpAddr]) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (key, names) = match &source {
            TlsSource::Files { cert, key } => (load_pair(cert, key, &provider)?, Vec::new()),
            TlsSource::SelfSigned => self_signed(binds, &provider)?,
        };
        let fingerprint = fingerprint(&key.cert[0]);
        let current = Arc::new(CurrentCert(RwLock::new(Arc::new(key))));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(TlsError::other)?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // No `h2` until the server speaks it.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Our order (AES-GCM, then ChaCha20-Poly1305; all AEAD with forward
        // secrecy) rather than whatever the client lists first: a client
        // can't talk us down to its own preference.
        config.ignore_client_order = true;
        config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(TlsError::other)?;
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        Ok(Tls {
            source,
            config: Arc::new(config),
            current,
            fingerprint,
            names,
        })
    }

    /// The configuration every new connection starts from.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The leaf certificate's SHA-256 fingerprint (`AB:CD:…`), as a browser
    /// shows it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The names a self-signed certificate was made for (none for files).
    pub fn self_signed_names(&self) -> &[String] {
        &self.names
    }

    /// Reads the certificate and key again from their files. New handshakes
    /// use the new pair; connections already open keep theirs. On error the
    /// current pair stays. A self-signed certificate has nothing to reload.
    /// Returns the certificate's path and its new fingerprint.
    pub fn reload(&self) -> Result<Option<(&Path, String)>, TlsError> {
        let TlsSource::Files { cert, key } = &self.source else {
            return Ok(None);
        };
        let pair = load_pair(cert, key, self.config.crypto_provider())?;
        let fingerprint = fingerprint(&pair.cert[0]);
        *self.current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(pair);
        Ok(Some((cert, fingerprint)))
    }
}

/// Hands every handshake the current certificate; [`Tls::reload`] replaces it.
#[derive(Debug)]
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a whole `Arc`: a panic can't leave it
        // half-written.
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// Reads a PEM certificate chain and private key, and checks that the key
/// belongs to the first certificate.
fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_pem = fs::read(cert_path).map_err(|e| TlsError::file(cert_path, e))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(cert_path, pem_error(e)))?;
    if chain.is_empty() {
        return Err(TlsError::file(
            cert_path,
            "no certificate in it: expected a PEM \"BEGIN CERTIFICATE\" block",
        ));
    }
    let key_pem = fs::read(key_path).map_err(|e| TlsError::file(key_path, e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::file(
            key_path,
            "no private key in it: expected a PEM PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block",
        ),
        e => TlsError::file(key_path, pem_error(e)),
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => TlsError::file(
            key_path,
            format!("does not match the certificate in {}", cert_path.display()),
        ),
        e => TlsError::file(key_path, format!("cannot use this key: {e}")),
    })
}

fn pem_error(err: pem::Error) -> String {
    match err {
        pem::Error::Io(e) => e.to_string(),
        e => format!("not valid PEM ({e:?})"),
    }
}

/// An ECDSA P-256 certificate for local development, for the names a
/// browser on this machine would use, and the addresses bound (but the
/// wildcards, which no client connects to).
fn self_signed(
    binds: &[IpAddr],
    provider: &CryptoProvider,
) -> Result<(CertifiedKey, Vec<String>), TlsError> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for bind in binds.iter().filter(|ip| !ip.is_unspecified()) {
        let bind = bind.to_string();
        if !names.contains(&bind) {
            names.push(bind);
        }
    }
    let made = rcgen::generate_simple_self_signed(names.clone()).map_err(TlsError::other)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let key = CertifiedKey::from_der(vec![made.cert.der().clone()], key, provider)
        .map_err(TlsError::other)?;
    Ok((key, names))
}

/// `AB:CD:…`: the SHA-256 of a DER certificate.
fn fingerprint(cert: &CertificateDer) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// A fresh self-signed certificate and its key, as PEM.
    fn pair() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    /// Writes `cert` and `key` into a new directory; returns their paths.
    fn files(dir: &tempfile::TempDir, cert: &str, key: &str) -> TlsSource {
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        fs::write(&cert_path, cert).unwrap();
        fs::write(&key_path, key).unwrap();
        TlsSource::Files {
            cert: cert_path,
            key: key_path,
        }
    }

    fn current_cert(tls: &Tls) -> CertificateDer<'static> {
        tls.current.0.read().unwrap().cert[0].clone()
    }

    #[test]
    fn unusable_files_say_which_and_why() {
        let (cert, key) = pair();
        let (_, other_key) = pair();
        let cases = [
            ("", key.as_str(), "cert.pem: no certificate in it"),
            (
                "not pem at all",
                key.as_str(),
                "cert.pem: no certificate in it",
            ),
            (cert.as_str(), "", "key.pem: no private key in it"),
            (
                cert.as_str(),
                cert.as_str(),
                "key.pem: no private key in it",
            ),
            (
                cert.as_str(),
                other_key.as_str(),
                "key.pem: does not match the certificate in",
            ),
        ];
        for (cert, key, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let err = Tls::new(files(&dir, cert, key), &[LOCALHOST])
                .err()
                .unwrap();
            assert!(
                err.to_string().contains(expected),
                "{err} (expected {expected:?})"
            );
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let source = TlsSource::Files {
            cert: PathBuf::from("/nonexistent/cert.pem"),
            key: PathBuf::from("/nonexistent/key.pem"),
        };
        let err = Tls::new(source, &[LOCALHOST]).err().unwrap().to_string();
        assert!(err.starts_with("/nonexistent/cert.pem: "), "{err}");
    }

    #[test]
    fn reload_swaps_the_pair_or_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair();
        let tls = Tls::new(files(&dir, &cert, &key), &[LOCALHOST]).unwrap();
        let first = current_cert(&tls);
        assert_eq!(tls.fingerprint(), fingerprint(&first));

        let (cert2, key2) = pair();
        files(&dir, &cert2, &key2);
        let (_, fingerprint2) = tls.reload().unwrap().unwrap();
        let second = current_cert(&tls);
        assert_ne!(first, second);
        assert_eq!(fingerprint2, fingerprint(&second));

        // A key that doesn't match: an error, and the second pair stays.
        files(&dir, &cert, &key2);
        assert!(tls.reload().is_err());
        assert_eq!(current_cert(&tls), second);
    }

    #[test]
    fn self_signed_names_the_bind_addresses_and_has_nothing_to_reload() {
        let binds = ["192.0.2.7", "192.0.2.8", "0.0.0.0", "::"].map(|ip| ip.parse().unwrap());
        let tls = Tls::new(TlsSource::SelfSigned, &binds).unwrap();
        assert_eq!(
            tls.self_signed_names(),
            ["localhost", "127.0.0.1", "::1", "192.0.2.7", "192.0.2.8"]
        );
        let cert = current_cert(&tls);
        let der = cert.as_ref();
        // The IP SANs are stored as raw octets.
        for ip in [[127, 0, 0, 1], [192, 0, 2, 7], [192, 0, 2, 8]] {
            assert!(
                der.windows(4).any(|w| w == ip),
                "{ip:?} not in the certificate"
            );
        }
        assert!(der.windows(9).any(|w| w == b"localhost"));
        assert!(tls.reload().unwrap().is_none());
        // AB:CD:… — 32 bytes.
        assert_eq!(tls.fingerprint().len(), 32 * 3 - 1);
        assert!(tls.fingerprint().split(':').all(|b| {
            b.len() == 2
                && b.bytes()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        }));
    }
}

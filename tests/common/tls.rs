//! Certificates and TLS clients for the HTTPS tests: a CA of the test's
//! own, leaf certificates it signs, and rustls client configurations that
//! verify against it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::{Client, DocRoot, Server};

/// A certificate authority made for one test.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate (PEM) and its private key (PKCS#8 PEM).
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    /// A certificate for `localhost` and `127.0.0.1`, signed by this CA.
    pub fn leaf(&self) -> Leaf {
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client that trusts this CA only, offering `alpn`, TLS 1.3 and 1.2.
    pub fn client(&self, alpn: &[&str]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let mut config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }

    /// Like [`Ca::client`], but TLS 1.2 only.
    pub fn client_tls12(&self, alpn: &[&str]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        let mut config = ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Arc::new(config)
    }
}

/// A TLS 1.3/1.2 client that trusts `cert` alone, as its own anchor: a
/// real chain and name check for a self-signed certificate.
pub fn trusting(cert: &CertificateDer<'_>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone().into_owned()).unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

impl Leaf {
    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        fs::write(&cert, &self.cert_pem).unwrap();
        fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// A docroot, a CA and a server on 127.0.0.1 that presents a leaf signed
/// by that CA. Keeps the certificate files in `certs`.
pub struct Https {
    pub server: Server,
    pub ca: Ca,
    pub root: DocRoot,
    pub certs: tempfile::TempDir,
}

impl Https {
    pub fn start(extra_args: &[&str]) -> Https {
        let root = DocRoot::new();
        root.file("index.html", "<h1>hello over TLS</h1>\n");
        root.file("a.txt", "alpha\n");
        let ca = Ca::new("test CA");
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = ca.leaf().write(certs.path());
        let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
        let mut args = vec!["--tls-cert", cert, "--tls-key", key];
        args.extend_from_slice(extra_args);
        let server = Server::start(root.path(), &args);
        Https {
            server,
            ca,
            root,
            certs,
        }
    }

    pub fn client(&self) -> Client {
        Client::connect_tls(
            self.server.addr(),
            self.ca.client(&["http/1.1"]),
            "localhost",
        )
    }
}

/// A verifier that accepts any certificate whose handshake signature is
/// valid, and records the certificate it was shown: for a certificate the
/// test can't know in advance (`--tls-self-signed`), or to see which of two
/// the server presents.
#[derive(Debug)]
pub struct Recorder {
    pub seen: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl Recorder {
    /// The verifier and a TLS 1.3/1.2 client that uses it.
    pub fn client() -> (Arc<Recorder>, Arc<ClientConfig>) {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let recorder = Arc::new(Recorder {
            seen: Mutex::new(Vec::new()),
            provider: provider.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth();
        // A fresh handshake every time, so every connection shows a certificate.
        config.resumption = rustls::client::Resumption::disabled();
        (recorder, Arc::new(config))
    }

    pub fn last(&self) -> CertificateDer<'static> {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no certificate seen")
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.seen
            .lock()
            .unwrap()
            .push(end_entity.clone().into_owned());
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS 1.1 ClientHello, built by hand (rustls can't speak 1.1): legacy
/// version 3.2, no `supported_versions` extension, three CBC suites that
/// TLS 1.1 clients offered, null compression.
pub fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x06, 0x00, 0x2f, 0xc0, 0x13, 0xc0, 0x09]);
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    let mut handshake = vec![0x01, 0, 0, body.len() as u8]; // ClientHello
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

/// The first half of a real TLS 1.3 ClientHello, as rustls would send it.
pub fn half_client_hello(config: Arc<ClientConfig>) -> Vec<u8> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello).unwrap();
    }
    hello.truncate(hello.len() / 2);
    hello
}

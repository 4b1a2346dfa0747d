//! HTTPS trust roots, end to end: the real binary (`virtualsms-mcp call get_balance`) against a
//! local HTTPS fake whose certificate is signed by a test CA (tests/fixtures/tls/, made by
//! scripts/gen-tls-fixtures.sh). Store selection itself is unit-tested in src/tls.rs; the
//! empty-root-filesystem case (no CA bundle at all → built-in roots) is scripts/empty-root-check.sh.
//!
//! The rules pinned down here:
//! - a CA named by `SSL_CERT_FILE` (or `SSL_CERT_DIR`) is trusted: the call reaches the fake and
//!   returns its answer;
//! - without it, the same server is refused with a certificate error that says so (unknown
//!   issuer, not trusted, how to trust a private CA), after one attempt (a refused certificate
//!   is not a network fault, so it is not retried), never "builder error";
//! - an `SSL_CERT_FILE` that is empty or missing is a setup error that names the variable, the
//!   file and the fix; it is reported once, not as "could not connect … after N attempts", and
//!   no connection is even opened;
//! - which store is used is logged once, at debug.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const BIN: &str = env!("CARGO_BIN_EXE_virtualsms-mcp");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A local HTTPS server with the test CA's certificate for 127.0.0.1. Answers
/// `GET /api/v2/me/balance` with a balance, anything else with 404. Runs until the test ends.
struct HttpsFake {
    addr: SocketAddr,
    /// TCP connections accepted (a refused handshake counts too).
    connections: Arc<AtomicUsize>,
    /// Request heads (lower-cased) of completed requests.
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpsFake {
    fn start() -> Self {
        let cert = CertificateDer::from_pem_file(fixture("server.pem")).unwrap();
        let ca = CertificateDer::from_pem_file(fixture("ca.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert, ca], key)
            .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (count, seen) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let (config, seen) = (config.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = serve_one(config, stream, &seen);
                });
            }
        });
        Self {
            addr,
            connections,
            requests,
        }
    }

    fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}/api/v2", self.addr.port())
    }
}

fn serve_one(
    config: Arc<rustls::ServerConfig>,
    stream: std::net::TcpStream,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, stream));
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if tls.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let (status, body) = if head.starts_with("get /api/v2/me/balance ") {
        ("200 OK", r#"{"balance": 1.5, "currency": "USD"}"#)
    } else {
        (
            "404 Not Found",
            r#"{"type": "not-found", "title": "Not found"}"#,
        )
    };
    seen.lock().unwrap().push(head);
    let tls = tls.get_mut();
    write!(
        tls,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    )?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}

/// `virtualsms-mcp call get_balance '{}'` against `fake`, with only the given variables set
/// (plus the key, the base URL and a debug filter for the TLS log line).
fn get_balance(fake: &HttpsFake, vars: &[(&str, &Path)]) -> Output {
    get_balance_logged(fake, vars, Some("warn,virtualsms_mcp::tls=debug"))
}

/// The same; without a log filter, stderr holds only the command's error text.
fn get_balance_logged(fake: &HttpsFake, vars: &[(&str, &Path)], log: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("VIRTUALSMS_API_KEY", "anything")
        .env("VIRTUALSMS_BASE_URL", fake.base_url())
        .args(["call", "get_balance", "{}"]);
    if let Some(log) = log {
        cmd.env("VIRTUALSMS_LOG", log);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().expect("run virtualsms-mcp")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_ca_named_by_ssl_cert_file_is_trusted() {
    let fake = HttpsFake::start();
    let out = get_balance(&fake, &[("SSL_CERT_FILE", &fixture("ca.pem"))]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let result: serde_json::Value = serde_json::from_str(&stdout).expect(&stdout);
    assert_eq!(result["balance"], 1.5, "{stdout}");
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].contains("authorization: bearer anything"),
        "{requests:?}"
    );
    // Which store is used: logged once, naming the variable.
    let logged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("TLS trust roots"))
        .collect();
    assert_eq!(logged.len(), 1, "{stderr}");
    assert!(logged[0].contains("DEBUG"), "{stderr}");
    assert!(
        logged[0].contains(&format!("SSL_CERT_FILE={}", fixture("ca.pem").display())),
        "{stderr}"
    );
    assert!(logged[0].contains("roots=1"), "{stderr}");
}

#[test]
fn a_ca_directory_named_by_ssl_cert_dir_is_trusted() {
    let fake = HttpsFake::start();
    let out = get_balance(&fake, &[("SSL_CERT_DIR", &fixture(""))]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("1.5"));
}

#[test]
fn without_the_test_ca_the_server_is_refused_with_a_certificate_error() {
    let fake = HttpsFake::start();
    // The system's store (or, on a machine without one, the built-in roots): the test CA is in
    // neither.
    let out = get_balance(&fake, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(stderr.contains("invalid peer certificate"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    // Not a network fault: said so, not retried, and the fix named.
    assert!(
        stderr.contains("the server's TLS certificate is not trusted (trusted roots: "),
        "{stderr}"
    );
    assert!(stderr.contains("point SSL_CERT_FILE at its CA"), "{stderr}");
    assert!(stderr.contains("after 1 attempt(s)"), "{stderr}");
    assert!(!stderr.contains("builder error"), "{stderr}");
    assert!(
        fake.requests.lock().unwrap().is_empty(),
        "no request got through"
    );
    assert!(
        fake.connections.load(Ordering::SeqCst) >= 1,
        "it did connect"
    );
    let logged = stderr
        .lines()
        .filter(|l| l.contains("TLS trust roots"))
        .count();
    assert_eq!(logged, 1, "{stderr}");
}

#[test]
fn an_unusable_ssl_cert_file_is_one_precise_setup_error_and_nothing_is_sent() {
    let fake = HttpsFake::start();
    let dir = std::env::temp_dir().join(format!("vsms-tls-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, b"").unwrap();
    let missing = dir.join("missing.pem");
    for (file, says) in [
        (&empty, "no CA certificate found there"),
        (&missing, "cannot be read"),
    ] {
        let out = get_balance_logged(&fake, &[("SSL_CERT_FILE", file)], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(out.stdout.is_empty());
        assert!(
            stderr.contains(&format!("SSL_CERT_FILE={}", file.display())),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("This server is misconfigured"), "{stderr}");
        assert!(
            stderr.contains("Fix: point SSL_CERT_FILE at a") && stderr.contains("restart"),
            "{stderr}"
        );
        // Once, as a setup failure: not a retried connection error.
        for wrong in ["attempt", "could not connect", "builder error", "network"] {
            assert!(!stderr.contains(wrong), "{wrong:?} in: {stderr}");
        }
        assert_eq!(
            stderr
                .matches(&format!("SSL_CERT_FILE={}", file.display()))
                .count(),
            1,
            "{stderr}"
        );
    }
    assert_eq!(
        fake.connections.load(Ordering::SeqCst),
        0,
        "no connection may be opened without trust roots"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

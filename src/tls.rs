//! Which certificates this process trusts for HTTPS: one answer for every HTTP client it builds
//! (the REST client, x402, any later RPC client), chosen once per process (issue 12 in
//! `../shared`). In order:
//! 1. `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set — only those, as OpenSSL and
//!    rustls-native-certs read them (a PEM bundle; `:`-separated directories of PEM files). An
//!    explicit setting that yields no usable certificate (empty, unreadable, not PEM) is a setup
//!    error that names the variable and the fix: a setting the user made is never silently
//!    replaced by other roots.
//! 2. The system's store: on Linux and other Unix, the CA bundle and directory at the usual
//!    places (`/etc/ssl/certs/...`), so corporate roots installed there keep working; on macOS
//!    and Windows, the OS verifier (rustls-platform-verifier, through reqwest).
//! 3. Otherwise — a `FROM scratch` or distroless image, a slim image without `ca-certificates`,
//!    an empty chroot — Mozilla's roots compiled into the binary (`webpki-roots`).
//!
//! The choice is logged once at debug (`virtualsms_mcp::tls`). Selection is a pure function of
//! a variable lookup and a system-store loader ([`select_roots`]), so tests never touch the
//! process environment.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

/// A PEM bundle of CA certificates to trust instead of the system's store.
pub const CERT_FILE: &str = "SSL_CERT_FILE";
/// Directories (`:`-separated) of PEM files to trust instead of the system's store.
pub const CERT_DIR: &str = "SSL_CERT_DIR";

/// How the fix reads at the end of every setup error.
const FIX: &str = "or unset SSL_CERT_FILE and SSL_CERT_DIR to use the system's trust store \
                   (without one, the Mozilla roots built into this binary), then restart the server";

/// No trust root is usable, so no HTTPS client can be built. Nothing was sent; retrying cannot
/// help: the message names the setting and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsSetupError(String);

/// Where the trusted roots came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `SSL_CERT_FILE` and/or `SSL_CERT_DIR`; the text names them with their values.
    Env(String),
    /// The system's CA bundle / directory (Linux and other Unix).
    System,
    /// The operating system verifies (macOS, Windows): nothing to load here.
    Platform,
    /// Mozilla's roots compiled into the binary; the text says why the system had none.
    BuiltIn(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(vars) => write!(f, "{vars}"),
            Self::System => f.write_str("the system's trust store"),
            Self::Platform => f.write_str("the operating system's verifier"),
            Self::BuiltIn(why) => write!(f, "the Mozilla roots built into this binary ({why})"),
        }
    }
}

/// What the system offers (see [`load_system_store`]).
pub enum SystemStore {
    /// The OS verifies certificates itself (macOS, Windows).
    Platform,
    /// Certificates read from the usual CA bundle locations, and what went wrong reading them.
    Files {
        certs: Vec<CertificateDer<'static>>,
        errors: Vec<String>,
    },
}

/// The selected roots.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    pub source: Source,
    /// `None` for [`Source::Platform`]: the OS verifier needs no store.
    store: Option<Arc<RootCertStore>>,
}

impl TrustRoots {
    /// How many roots are trusted (0 when the OS verifies).
    pub fn len(&self) -> usize {
        self.store.as_ref().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rustls client configuration for these roots (ring, TLS 1.2 and 1.3, HTTP/1.1), or
    /// `None` when reqwest's own platform verifier should be used.
    pub fn client_config(&self) -> Result<Option<rustls::ClientConfig>, TlsSetupError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(format!("cannot configure TLS: {e}")))?
            .with_root_certificates(store.clone())
            .with_no_client_auth();
        // reqwest is built without HTTP/2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(config))
    }
}

/// The roots chosen for this process: their TLS configuration and where they came from.
type Shared = Result<(Option<rustls::ClientConfig>, Source), TlsSetupError>;
static SHARED: OnceLock<Shared> = OnceLock::new();

/// Applies the process's trust roots to `builder` (ring as the crypto provider). The roots are
/// chosen on the first call and reused by every later one; a setup error is returned every time.
pub fn with_trust_roots(
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::ClientBuilder, TlsSetupError> {
    let shared = SHARED.get_or_init(|| {
        let roots = select_roots(|name| std::env::var_os(name), load_system_store);
        match &roots {
            Ok(r) => tracing::debug!(source = %r.source, roots = r.len(), "TLS trust roots"),
            Err(e) => tracing::debug!(error = %e, "TLS trust roots: none usable"),
        }
        let roots = roots?;
        Ok((roots.client_config()?, roots.source))
    });
    match shared {
        Ok((config, _)) => Ok(apply(builder, config.as_ref())),
        Err(e) => Err(e.clone()),
    }
}

/// When `error` (or one of its causes) is a server certificate this process refused: what to
/// say about it, to append to the error's own text. A refused certificate is not a network
/// fault: retrying cannot help, and the fix is a trust setting (or the connection is being
/// intercepted).
pub fn untrusted_certificate_hint(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    let mut refused = false;
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            refused = matches!(tls, rustls::Error::InvalidCertificate(_));
            break;
        }
        // tokio-rustls wraps the rustls error in io::Errors, whose `source()` skips it.
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    if !refused {
        return None;
    }
    let trusted = match SHARED.get() {
        Some(Ok((_, source))) => format!(" (trusted roots: {source})"),
        _ => String::new(),
    };
    Some(format!(
        " — the server's TLS certificate is not trusted{trusted}. If a TLS-inspecting proxy or \
         a private CA is expected on this network, point {CERT_FILE} at its CA certificates \
         (PEM) and restart the server; otherwise something other than the expected server \
         answered: do not work around it"
    ))
}

/// `config` on `builder`; without one, reqwest's platform verifier (macOS, Windows).
fn apply(
    builder: reqwest::ClientBuilder,
    config: Option<&rustls::ClientConfig>,
) -> reqwest::ClientBuilder {
    // reqwest is built without a default crypto provider (no aws-lc C build): its platform
    // verifier path takes this one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    match config {
        Some(config) => builder.tls_backend_preconfigured(config.clone()),
        None => builder,
    }
}

/// The system's store as this platform has it.
pub fn load_system_store() -> SystemStore {
    if cfg!(any(target_vendor = "apple", windows)) {
        return SystemStore::Platform;
    }
    // Only called when neither variable is set, so this reads the usual locations
    // (openssl-probe's list), not the variables.
    let result = rustls_native_certs::load_native_certs();
    SystemStore::Files {
        certs: result.certs,
        errors: result.errors.iter().map(ToString::to_string).collect(),
    }
}

/// Chooses the trust roots (see the module docs) from the variables `lookup` returns and the
/// store `system` loads (called only when neither variable is set).
pub fn select_roots(
    lookup: impl Fn(&str) -> Option<OsString>,
    system: impl FnOnce() -> SystemStore,
) -> Result<TrustRoots, TlsSetupError> {
    let file = lookup(CERT_FILE);
    let dirs = lookup(CERT_DIR);
    if file.is_some() || dirs.is_some() {
        return explicit(file.as_deref(), dirs.as_deref());
    }
    match system() {
        SystemStore::Platform => Ok(TrustRoots {
            source: Source::Platform,
            store: None,
        }),
        SystemStore::Files { certs, errors } => {
            let found = certs.len();
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(certs);
            if added > 0 {
                if ignored > 0 || !errors.is_empty() {
                    tracing::debug!(
                        ignored,
                        errors = %errors.join("; "),
                        "some system CA certificates could not be used"
                    );
                }
                return Ok(TrustRoots {
                    source: Source::System,
                    store: Some(Arc::new(store)),
                });
            }
            let why = if found > 0 {
                format!("none of the system's {found} certificates is usable")
            } else if errors.is_empty() {
                "no system CA bundle found".to_owned()
            } else {
                format!("no system CA bundle readable: {}", errors.join("; "))
            };
            Ok(built_in(why))
        }
    }
}

/// Mozilla's roots, compiled in.
fn built_in(why: String) -> TrustRoots {
    let store: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
    TrustRoots {
        source: Source::BuiltIn(why),
        store: Some(Arc::new(store)),
    }
}

/// Only the roots the variables name; anything unusable is an error naming the variable.
fn explicit(
    file: Option<&std::ffi::OsStr>,
    dirs: Option<&std::ffi::OsStr>,
) -> Result<TrustRoots, TlsSetupError> {
    let mut certs = Vec::new();
    let mut named = Vec::new();
    if let Some(file) = file {
        let path = Path::new(file);
        named.push(format!("{CERT_FILE}={}", path.display()));
        let bundle = read_bundle(path)?;
        if bundle.is_empty() && dirs.is_some() {
            tracing::warn!(file = %path.display(), "SSL_CERT_FILE holds no certificate");
        }
        certs.extend(bundle);
    }
    if let Some(dirs) = dirs {
        named.push(format!("{CERT_DIR}={}", Path::new(dirs).display()));
        let dirs: Vec<PathBuf> = std::env::split_paths(dirs)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if dirs.is_empty() {
            return Err(TlsSetupError(format!(
                "{CERT_DIR} is set but empty. Fix: set it to directories of PEM CA certificates, \
                 {FIX}."
            )));
        }
        for dir in dirs {
            certs.extend(read_dir(&dir)?);
        }
    }
    let named = named.join(" and ");
    if certs.is_empty() {
        return Err(TlsSetupError(format!(
            "{named}: no CA certificate found there, so no HTTPS server can be trusted. Fix: \
             point {CERT_FILE} at a PEM bundle of CA certificates (`-----BEGIN CERTIFICATE-----` \
             blocks, e.g. /etc/ssl/certs/ca-certificates.crt), {FIX}."
        )));
    }
    let found = certs.len();
    let mut store = RootCertStore::empty();
    let (added, ignored) = store.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsSetupError(format!(
            "{named}: none of the {found} certificate(s) there is a usable CA certificate. Fix: \
             point {CERT_FILE} at a PEM bundle of CA certificates, {FIX}."
        )));
    }
    if ignored > 0 {
        tracing::warn!(ignored, source = %named, "some CA certificates could not be used");
    }
    Ok(TrustRoots {
        source: Source::Env(named),
        store: Some(Arc::new(store)),
    })
}

/// The certificates of the PEM bundle `SSL_CERT_FILE` names; empty when it holds none.
fn read_bundle(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err(TlsSetupError(format!(
            "{CERT_FILE} is set but empty. Fix: set it to a PEM bundle of CA certificates, {FIX}."
        )));
    }
    let pem = std::fs::read(path).map_err(|e| {
        TlsSetupError(format!(
            "{CERT_FILE}={shown} cannot be read ({e}). Fix: point {CERT_FILE} at a readable PEM \
             bundle of CA certificates, {FIX}."
        ))
    })?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TlsSetupError(format!(
                "{CERT_FILE}={shown} is not a valid PEM file ({e}). Fix: point {CERT_FILE} at a \
                 PEM bundle of CA certificates, {FIX}."
            ))
        })
}

/// The certificates of every PEM file in `dir` (symlinks followed, each file read once).
fn read_dir(dir: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    if let Err(e) = std::fs::read_dir(dir) {
        return Err(TlsSetupError(format!(
            "{CERT_DIR} names {}, which cannot be read ({e}). Fix: set {CERT_DIR} to readable \
             directories of PEM CA certificates, {FIX}.",
            dir.display()
        )));
    }
    let result = rustls_native_certs::load_certs_from_paths(None, Some(dir));
    for error in &result.errors {
        tracing::warn!(dir = %dir.display(), %error, "a file in SSL_CERT_DIR could not be read");
    }
    Ok(result.certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name)
    }

    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    /// A system store loader that must not be called.
    fn unused_system() -> SystemStore {
        panic!("the system store must not be read when SSL_CERT_FILE / SSL_CERT_DIR is set")
    }

    fn test_ca() -> CertificateDer<'static> {
        CertificateDer::from_pem_file(fixture("ca.pem")).expect("tests/fixtures/tls/ca.pem")
    }

    /// A directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "vsms-tls-{tag}-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
        fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, contents).unwrap();
            path
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn builds(roots: &TrustRoots) -> bool {
        let config = roots.client_config().unwrap();
        apply(reqwest::Client::builder(), config.as_ref())
            .build()
            .is_ok()
    }

    fn err(result: Result<TrustRoots, TlsSetupError>) -> String {
        match result {
            Ok(r) => panic!("expected a setup error, got roots from {}", r.source),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ssl_cert_file_is_used_alone_and_the_system_is_not_read() {
        let roots = select_roots(env(&[(CERT_FILE, &fixture("ca.pem"))]), unused_system).unwrap();
        assert_eq!(
            roots.source,
            Source::Env(format!("SSL_CERT_FILE={}", fixture("ca.pem").display()))
        );
        assert_eq!(roots.len(), 1, "only the test CA");
        assert!(builds(&roots));
    }

    #[test]
    fn ssl_cert_dir_is_used_alone() {
        let roots = select_roots(env(&[(CERT_DIR, &fixture(""))]), unused_system).unwrap();
        // ca.pem and server.pem are both certificates; server.key is skipped.
        assert_eq!(roots.len(), 2);
        assert!(matches!(roots.source, Source::Env(ref s) if s.starts_with("SSL_CERT_DIR=")));
        assert!(builds(&roots));
    }

    #[test]
    fn the_system_store_is_used_when_it_has_roots() {
        let roots = select_roots(no_env, || SystemStore::Files {
            certs: vec![test_ca()],
            errors: vec![],
        })
        .unwrap();
        assert_eq!(roots.source, Source::System);
        assert_eq!(roots.len(), 1, "the system's roots, not the built-in ones");
        assert!(builds(&roots));
    }

    #[test]
    fn without_a_system_store_the_built_in_roots_are_used_and_the_client_builds() {
        let roots = select_roots(no_env, || SystemStore::Files {
            certs: vec![],
            errors: vec![],
        })
        .unwrap();
        assert_eq!(
            roots.source,
            Source::BuiltIn("no system CA bundle found".into())
        );
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(roots.len() > 100, "Mozilla's store has ~150 roots");
        assert!(builds(&roots));

        let unreadable = select_roots(no_env, || SystemStore::Files {
            certs: vec![],
            errors: vec!["permission denied at '/etc/ssl/certs'".into()],
        })
        .unwrap();
        assert!(
            matches!(unreadable.source, Source::BuiltIn(ref why) if why.contains("permission denied")),
            "{:?}",
            unreadable.source
        );
        let garbage = select_roots(no_env, || SystemStore::Files {
            certs: vec![CertificateDer::from(b"not a certificate".to_vec())],
            errors: vec![],
        })
        .unwrap();
        assert!(matches!(garbage.source, Source::BuiltIn(_)));
    }

    #[test]
    fn macos_and_windows_keep_the_os_verifier() {
        let roots = select_roots(no_env, || SystemStore::Platform).unwrap();
        assert_eq!(roots.source, Source::Platform);
        assert!(roots.client_config().unwrap().is_none());
        assert!(builds(&roots));
    }

    #[test]
    fn a_refused_certificate_is_recognised_through_nested_io_errors() {
        // What reqwest → hyper-util → tokio-rustls produce for an unknown issuer.
        let refused = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        let hint = untrusted_certificate_hint(&refused).expect("a refused certificate");
        assert!(hint.contains("certificate is not trusted"), "{hint}");
        assert!(hint.contains("point SSL_CERT_FILE at its CA"), "{hint}");
        // Other TLS failures and plain network errors are not certificate refusals.
        let alert = std::io::Error::other(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure,
        ));
        assert_eq!(untrusted_certificate_hint(&alert), None);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(untrusted_certificate_hint(&reset), None);
    }

    #[test]
    fn an_empty_ssl_cert_file_is_a_precise_error() {
        let dir = TempDir::new("empty");
        let empty = dir.file("empty.pem", b"");
        let text = err(select_roots(env(&[(CERT_FILE, &empty)]), unused_system));
        assert!(
            text.contains(&format!("SSL_CERT_FILE={}", empty.display())),
            "{text}"
        );
        assert!(text.contains("no CA certificate found"), "{text}");
        assert!(
            text.contains("Fix: point SSL_CERT_FILE at a PEM bundle"),
            "{text}"
        );
        assert!(text.contains("restart the server"), "{text}");
    }

    #[test]
    fn a_set_but_empty_variable_is_a_precise_error() {
        let text = err(select_roots(
            env(&[(CERT_FILE, Path::new(""))]),
            unused_system,
        ));
        assert!(
            text.starts_with("SSL_CERT_FILE is set but empty."),
            "{text}"
        );
        let text = err(select_roots(
            env(&[(CERT_DIR, Path::new(""))]),
            unused_system,
        ));
        assert!(text.starts_with("SSL_CERT_DIR is set but empty."), "{text}");
    }

    #[test]
    fn an_unreadable_ssl_cert_file_is_a_precise_error() {
        let missing = fixture("missing.pem");
        let text = err(select_roots(env(&[(CERT_FILE, &missing)]), unused_system));
        assert!(
            text.contains(&format!(
                "SSL_CERT_FILE={} cannot be read (No such file",
                missing.display()
            )),
            "{text}"
        );
        // A directory is not a file either.
        let text = err(select_roots(
            env(&[(CERT_FILE, &fixture(""))]),
            unused_system,
        ));
        assert!(text.contains("cannot be read"), "{text}");
    }

    #[test]
    fn a_file_without_certificates_is_a_precise_error() {
        let dir = TempDir::new("garbage");
        let text_file = dir.file("notes.txt", b"this is not PEM\n");
        let text = err(select_roots(env(&[(CERT_FILE, &text_file)]), unused_system));
        assert!(text.contains("no CA certificate found"), "{text}");
        // A key alone is PEM, but no certificate.
        let text = err(select_roots(
            env(&[(CERT_FILE, &fixture("server.key"))]),
            unused_system,
        ));
        assert!(text.contains("no CA certificate found"), "{text}");
        // A certificate block whose body is not a certificate.
        let bogus = dir.file(
            "bogus.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let text = err(select_roots(env(&[(CERT_FILE, &bogus)]), unused_system));
        assert!(text.contains("none of the 1 certificate(s)"), "{text}");
    }

    #[test]
    fn an_empty_or_missing_ssl_cert_dir_is_a_precise_error() {
        let dir = TempDir::new("emptydir");
        let text = err(select_roots(env(&[(CERT_DIR, &dir.0)]), unused_system));
        assert!(
            text.contains(&format!("SSL_CERT_DIR={}", dir.0.display())),
            "{text}"
        );
        assert!(text.contains("no CA certificate found"), "{text}");
        let missing = dir.0.join("nope");
        let text = err(select_roots(env(&[(CERT_DIR, &missing)]), unused_system));
        assert!(
            text.contains(&format!("SSL_CERT_DIR names {}", missing.display())),
            "{text}"
        );
    }

    #[test]
    fn a_broken_file_is_an_error_even_when_the_dir_has_certificates() {
        let dir = TempDir::new("both");
        let empty = dir.file("empty.pem", b"");
        let both = select_roots(
            env(&[(CERT_FILE, &fixture("ca.pem")), (CERT_DIR, &fixture(""))]),
            unused_system,
        )
        .unwrap();
        assert_eq!(both.len(), 3, "file and directory together");
        let missing = fixture("missing.pem");
        let text = err(select_roots(
            env(&[(CERT_FILE, &missing), (CERT_DIR, &fixture(""))]),
            unused_system,
        ));
        assert!(text.contains("cannot be read"), "{text}");
        // An empty file beside a good directory is fine: the set as a whole has roots.
        let ok = select_roots(
            env(&[(CERT_FILE, &empty), (CERT_DIR, &fixture(""))]),
            unused_system,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
    }
}

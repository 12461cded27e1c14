//! HTTPS serving (`--tls-cert`/`--tls-key`) against a real server with certificates made by
//! rcgen: clients that trust the certificate use the API, plain HTTP and other junk on the TLS
//! port are refused without harming the server, bad files stop the start with a clear error,
//! the `healthcheck` subcommand speaks TLS, and the library pairs over https with a
//! self-signed server through `server_ca_cert`.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use humansync_protocol::http::{HealthResponse, PairResponse};
use humansync_server::http::tls::TlsError;
use humansync_server::{Overrides, RunningServer, ServerError, healthcheck};
use reqwest::StatusCode;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A certificate and key on disk.
struct Pem {
    cert: PathBuf,
    key: PathBuf,
    cert_text: String,
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written under `dir` as `name`.
fn self_signed(dir: &Path, name: &str) -> Pem {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("rcgen");
    let (cert, key) = (dir.join(format!("{name}.crt")), dir.join(format!("{name}.key")));
    let cert_text = made.cert.pem();
    std::fs::write(&cert, &cert_text).expect("write cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
    Pem { cert, key, cert_text }
}

async fn start_tls(data: &Path, pem: &Pem) -> RunningServer {
    let mut config = server_config(data);
    config.tls = Some((pem.cert.clone(), pem.key.clone()));
    humansync_server::start(config, Overrides::default())
        .await
        .expect("TLS server starts")
}

/// A client trusting only `pem`'s certificate.
fn trusting(pem: &Pem) -> reqwest::Client {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let cert = reqwest::Certificate::from_pem(pem.cert_text.as_bytes()).expect("certificate");
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn health(http: &reqwest::Client, url: &str) -> HealthResponse {
    let r = http.get(url).send().await.expect("GET /health");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.expect("health body")
}

#[tokio::test]
async fn https_serves_trusting_clients_and_survives_junk() {
    let (dir, certs) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let pem = self_signed(certs.path(), "server");
    let server = start_tls(dir.path(), &pem).await;
    let port = server.http_addr().port();
    let http = trusting(&pem);
    for host in ["localhost", "127.0.0.1"] {
        let h = health(&http, &format!("https://{host}:{port}/health")).await;
        assert_eq!((h.status.as_str(), h.node_id), ("ok", server.id()));
    }
    let laptop = key(1);
    let paired: PairResponse = pair(
        &http,
        &format!("https://localhost:{port}"),
        &laptop,
        "laptop",
        PASSWORD,
    )
    .await
    .expect("paired over https");
    assert_eq!(paired.server_node_id, server.id());
    assert!(paired.devices.iter().any(|d| d.node_id == id(&laptop)));

    // A client that does not trust the certificate gets no answer.
    let err = client()
        .get(format!("https://localhost:{port}/health"))
        .send()
        .await
        .expect_err("untrusted certificate");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    // Plain HTTP to the TLS port fails on the client's side...
    let plain = client()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await;
    assert!(plain.is_err(), "plain http on the TLS port: {plain:?}");
    // ...and so does raw junk, a connection that sends nothing and closes, and one left open.
    let mut junk = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    junk.write_all(b"\x16\x03\x01\xff\xffnot really tls at all")
        .await
        .expect("write");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), junk.read_to_end(&mut rest)).await;
    drop(
        tokio::net::TcpStream::connect(server.http_addr())
            .await
            .expect("connect"),
    );
    let idle = tokio::net::TcpStream::connect(server.http_addr())
        .await
        .expect("connect");
    // The server still serves, meanwhile and after.
    let h = health(&http, &format!("https://localhost:{port}/health")).await;
    assert_eq!(h.node_id, server.id());
    drop(idle);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn healthcheck_speaks_tls_and_pins_the_served_certificate() {
    let (dir, plain_dir, certs) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let pem = self_signed(certs.path(), "server");
    let other = self_signed(certs.path(), "other");
    let server = start_tls(dir.path(), &pem).await;
    let plain = start_server(plain_dir.path(), Overrides::default()).await;
    // The server's own certificate, as the Docker HEALTHCHECK passes it (same environment).
    healthcheck::check(server.http_addr(), Some(&pem.cert))
        .await
        .expect("healthy over TLS");
    // An unspecified address means this host (the image listens on 0.0.0.0).
    let mut any = server.http_addr();
    any.set_ip("0.0.0.0".parse().expect("ip"));
    healthcheck::check(any, Some(&pem.cert))
        .await
        .expect("healthy over TLS via 0.0.0.0");
    healthcheck::check(plain.http_addr(), None)
        .await
        .expect("healthy over plain http");
    let wrong_cert = healthcheck::check(server.http_addr(), Some(&other.cert))
        .await
        .expect_err("another certificate is not our server");
    assert!(wrong_cert.contains("TLS handshake"), "{wrong_cert}");
    let no_tls = healthcheck::check(server.http_addr(), None)
        .await
        .expect_err("plain http to the TLS port");
    assert!(!no_tls.is_empty());
    assert!(
        healthcheck::check(plain.http_addr(), Some(&pem.cert))
            .await
            .is_err()
    );
    let missing = healthcheck::check(server.http_addr(), Some(&certs.path().join("missing.crt")))
        .await
        .expect_err("no certificate file");
    assert!(missing.contains("missing.crt"), "{missing}");
    server.shutdown().await.expect("shutdown");
    plain.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bad_certificate_or_key_files_stop_the_start_with_a_clear_error() {
    let certs = tempfile::tempdir().expect("dir");
    let a = self_signed(certs.path(), "a");
    let b = self_signed(certs.path(), "b");
    let missing = certs.path().join("missing.pem");
    let junk = certs.path().join("junk.pem");
    std::fs::write(&junk, "this is no PEM\n").expect("write");
    let cases: [(&Path, &Path, &str); 5] = [
        (&missing, &a.key, "cert"),
        (&junk, &a.key, "cert"),
        (&a.cert, &missing, "key"),
        (&a.cert, &a.cert, "key"),
        (&a.cert, &b.key, "config"),
    ];
    for (cert, key, kind) in cases {
        let data = tempfile::tempdir().expect("dir");
        let mut config = server_config(&data.path().join("data"));
        config.tls = Some((cert.to_owned(), key.to_owned()));
        let err = match humansync_server::start(config, Overrides::default()).await {
            Ok(_) => panic!("{cert:?} + {key:?} must not start"),
            Err(e) => e,
        };
        let text = err.to_string();
        match (&err, kind) {
            (ServerError::Tls(TlsError::Cert { path, .. }), "cert") => {
                assert_eq!(Path::new(path), cert);
                assert!(text.contains(&cert.display().to_string()), "{text}");
            }
            (ServerError::Tls(TlsError::Key { path, .. }), "key") => {
                assert_eq!(Path::new(path), key);
                assert!(text.contains(&key.display().to_string()), "{text}");
            }
            (ServerError::Tls(TlsError::Config(_)), "config") => {}
            _ => panic!("{kind}: unexpected error {err:?}"),
        }
        assert!(
            !data.path().join("data").exists(),
            "nothing starts before the TLS files are checked"
        );
    }
    // The binary says so and exits non-zero, before binding anything.
    let data = tempfile::tempdir().expect("dir");
    let out = server_binary(data.path())
        .args(["--password", "pw", "--tls-cert"])
        .arg(&a.cert)
        .arg("--tls-key")
        .arg(&b.key)
        .output()
        .expect("run the server");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("cannot start: TLS configuration"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_pairs_over_https_with_a_self_signed_server() {
    let (sdir, adir, bdir, cdir, certs) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let pem = self_signed(certs.path(), "server");
    let server = start_tls(sdir.path(), &pem).await;
    let https = format!("https://localhost:{}", server.http_addr().port());
    let device = |dir: &Path, ca: Option<&Path>| {
        let mut config = device_config(dir, &server);
        config.server_url = Some(https.clone());
        config.server_ca_cert = ca.map(Path::to_owned);
        humansync::init(config)
    };
    // Without the certificate the server is not trusted: pairing fails, and says why.
    let stranger = device(cdir.path(), None).await.expect("device starts");
    let err = stranger.pair(PASSWORD).await.expect_err("untrusted server");
    assert!(err.to_string().contains("certificate"), "{err}");
    stranger.shutdown().await.expect("stop");
    // With it, devices pair, and GET /devices over https introduces them to each other
    // (mDNS off, no addresses given).
    let a = device(adir.path(), Some(&pem.cert)).await.expect("a starts");
    let b = device(bdir.path(), Some(&pem.cert)).await.expect("b starts");
    a.pair(PASSWORD).await.expect("a pairs over https");
    b.pair(PASSWORD).await.expect("b pairs over https");
    eventually(30, "the devices connect to each other directly", || async {
        connected(&a, b.id()).await && connected(&b, a.id()).await
    })
    .await;
    // A certificate file that holds no certificate is refused at start.
    let bogus = certs.path().join("bogus.pem");
    std::fs::write(&bogus, "nothing\n").expect("write");
    let ddir = tempfile::tempdir().expect("dir");
    let err = match device(ddir.path(), Some(&bogus)).await {
        Ok(_) => panic!("a bogus CA file must be refused"),
        Err(e) => e,
    };
    assert!(matches!(err, humansync::Error::Config(_)), "{err:?}");
    a.shutdown().await.expect("a stops");
    b.shutdown().await.expect("b stops");
    server.shutdown().await.expect("server stops");
}

//! A deliberately small HTTPS/1.1 client: one TLS connection per target reused for the ladder, every step under
//! its own deadline, heads and bodies capped, gzip inflated only up to the cap. Written here rather than taken
//! from hyper so that each failure maps to one [`ScanStatus`] and nothing can grow without bound.

use crate::observe::KEPT_HEADERS;
use exhunt_model::{CertInfo, ScanStatus, TlsInfo};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Deadlines and caps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub connect: Duration,
    pub tls: Duration,
    /// From sending a request to the end of the response head.
    pub headers: Duration,
    /// For the whole body.
    pub body: Duration,
    pub max_head: usize,
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(5),
            tls: Duration::from_secs(5),
            headers: Duration::from_secs(8),
            body: Duration::from_secs(8),
            max_head: 64 * 1024,
            max_body: 256 * 1024,
        }
    }
}

/// A failed step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub status: ScanStatus,
    pub phase: &'static str,
    pub detail: String,
}

fn fail(status: ScanStatus, phase: &'static str, detail: impl Into<String>) -> Failure {
    Failure { status, phase, detail: detail.into() }
}

/// Accepts any certificate and any handshake signature. The scanner records certificates; it never trusts a
/// server, sends it nothing secret and believes nothing it says beyond what it records, so proving that the server
/// holds the certificate's key would buy nothing (zgrab2 and nmap's ssl-cert do not check it either), while the
/// check was the largest single cost of a handshake (the P-256/RSA verification, about a tenth of the scanner's CPU
/// per target on the lab).
#[derive(Debug)]
struct RecordAll(Vec<rustls::SignatureScheme>);

impl rustls::client::danger::ServerCertVerifier for RecordAll {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.clone()
    }
}

/// The TLS client configuration every connection shares: TLS 1.3 and 1.2, the provider's suites with
/// AES-128-GCM-SHA256 offered first (its SHA-256 runs on the CPU's SHA extensions where AES-256's SHA-384 does not),
/// X25519 first, no resumption (each host is met once).
pub fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut provider = rustls::crypto::ring::default_provider();
    let first = |s: &rustls::SupportedCipherSuite| {
        !matches!(
            s.suite(),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        )
    };
    provider.cipher_suites.sort_by_key(first);
    let schemes = provider.signature_verification_algorithms.supported_schemes();
    let mut c = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("invariant: ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordAll(schemes)))
        .with_no_client_auth();
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

/// An open connection: a TLS stream in the scanner, any byte stream in tests and fuzzing ([`crate::replay`]).
pub struct Conn<S = TlsStream<TcpStream>> {
    stream: S,
    buf: Vec<u8>,
    pub reusable: bool,
}

fn io_status(e: &std::io::Error) -> ScanStatus {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ScanStatus::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ScanStatus::Reset,
        K::TimedOut => ScanStatus::Timeout,
        _ => ScanStatus::Unreachable,
    }
}

/// Connects and completes TLS, recording the certificate. `early` (requests, or nothing) goes out as the first
/// application data, in the same write as the client's `Finished` (TLS 1.3; after the server's `Finished` in 1.2):
/// a round of segments and system calls fewer per target than writing it after the handshake.
pub async fn connect(
    addr: SocketAddr,
    name: Option<&str>,
    limits: &Limits,
    config: &Arc<rustls::ClientConfig>,
    early: &[u8],
) -> Result<(Conn, TlsInfo), Failure> {
    let tcp = match tokio::time::timeout(limits.connect, TcpStream::connect(addr)).await {
        Err(_) => return Err(fail(ScanStatus::Timeout, "connect", "no answer to SYN")),
        Ok(Err(e)) => return Err(fail(io_status(&e), "connect", e.to_string())),
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);
    let server_name = match name.and_then(|n| ServerName::try_from(n.to_string()).ok()) {
        Some(n) => n,
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let handshake = connector.connect_with(server_name, tcp, |c| {
        if !early.is_empty() {
            // Queued until the handshake allows application data (rustls keeps up to 64 KiB).
            let _ = std::io::Write::write_all(&mut c.writer(), early);
        }
    });
    let tls = match tokio::time::timeout(limits.tls, handshake).await {
        Err(_) => return Err(fail(ScanStatus::Timeout, "tls", "handshake did not finish")),
        Ok(Err(e)) => {
            let status = match e.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof => ScanStatus::Reset,
                _ => ScanStatus::TlsError,
            };
            // A reset after bytes were exchanged is a TLS failure, not a closed port.
            let status =
                if status == ScanStatus::Reset && e.get_ref().is_some() { ScanStatus::TlsError } else { status };
            return Err(fail(status, "tls", e.to_string()));
        }
        Ok(Ok(s)) => s,
    };
    let (_, session) = tls.get_ref();
    let info = TlsInfo {
        version: session.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
        cipher: session.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite())).unwrap_or_default(),
        cert: session.peer_certificates().and_then(|c| c.first()).map(|c| cert_info(c.as_ref())),
    };
    Ok((Conn::new(tls), info))
}

/// The parts of a certificate worth keeping; a certificate that does not parse keeps its hash only.
pub fn cert_info(der: &[u8]) -> CertInfo {
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(der));
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return CertInfo { sha256, ..CertInfo::default() };
    };
    let cn = cert.subject().iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_string);
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for n in &ext.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => sans.push((*d).to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => sans.push(format!("ip:{}", hex::encode(b))),
                _ => {}
            }
        }
    }
    let when =
        |t: x509_parser::time::ASN1Time| t.to_datetime().format(&time::format_description::well_known::Rfc3339).ok();
    CertInfo {
        subject: cert.subject().to_string(),
        subject_cn: cn,
        issuer: cert.issuer().to_string(),
        sans,
        not_before: when(cert.validity().not_before),
        not_after: when(cert.validity().not_after),
        self_signed: cert.subject() == cert.issuer(),
        sha256,
    }
}

impl Conn {
    /// Ends the connection with a reset (`SO_LINGER` 0) once the ladder is done: no FIN exchange, and no TIME_WAIT
    /// socket left per target (at 3,000 targets a second, 180,000 of them would sit in the kernel for a minute).
    /// With a zero linger the close never blocks.
    pub fn abort(self) {
        let (tcp, _) = self.stream.get_ref();
        let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
    }
}

/// A response, body decoded and capped.
#[derive(Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
    pub truncated: bool,
}

/// Appends one GET request: the scanner's only method, with no parameters and no credentials (an `Authorization`
/// header carries nothing but the NTLM Type-1 of the ladder).
pub fn request(out: &mut Vec<u8>, host: &str, path: &str, authorization: Option<&str>) {
    use std::io::Write as _;
    let _ = write!(
        out,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (compatible; exhunt-scan/{}; +safe-fingerprint)\r\nAccept: */*\r\nConnection: keep-alive\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(a) = authorization {
        let _ = write!(out, "Authorization: {a}\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// A connection over an established stream.
    pub fn new(stream: S) -> Conn<S> {
        Conn { stream, buf: Vec::with_capacity(8192), reusable: true }
    }

    /// Sends one GET and reads the response.
    pub async fn get(
        &mut self,
        host: &str,
        path: &str,
        authorization: Option<&str>,
        limits: &Limits,
    ) -> Result<Response, Failure> {
        let mut req = Vec::new();
        request(&mut req, host, path, authorization);
        self.send(&req, limits).await?;
        self.recv(limits).await
    }

    /// Writes request bytes (one request, or several pipelined), within the headers deadline.
    pub async fn send(&mut self, bytes: &[u8], limits: &Limits) -> Result<(), Failure> {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(limits.headers, write).await {
            Err(_) => {
                self.reusable = false;
                Err(fail(ScanStatus::Timeout, "headers", "could not send the request"))
            }
            Ok(Err(e)) => {
                self.reusable = false;
                Err(fail(io_status(&e), "headers", e.to_string()))
            }
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads the next response: its head within the headers deadline, its body within the body deadline.
    pub async fn recv(&mut self, limits: &Limits) -> Result<Response, Failure> {
        let head = tokio::time::timeout(limits.headers, self.read_head(limits.max_head)).await.map_err(|_| {
            self.reusable = false;
            fail(ScanStatus::Timeout, "headers", "no complete response head in time")
        })??;
        let (mut resp, framing) = head;
        let body = tokio::time::timeout(limits.body, self.read_body(framing, limits.max_body)).await;
        let (raw, truncated) = match body {
            Err(_) => {
                self.reusable = false;
                return Err(fail(ScanStatus::Timeout, "body", "body did not finish in time"));
            }
            Ok(r) => r?,
        };
        if truncated {
            self.reusable = false;
        }
        if resp.headers.get("connection").into_iter().flatten().any(|v| v.eq_ignore_ascii_case("close")) {
            self.reusable = false;
        }
        let gz =
            resp.headers.get("content-encoding").into_iter().flatten().any(|v| v.trim().eq_ignore_ascii_case("gzip"));
        if gz {
            let mut out = Vec::new();
            let mut dec = flate2::read::GzDecoder::new(&raw[..]).take(limits.max_body as u64 + 1);
            let _ = dec.read_to_end(&mut out);
            resp.truncated = truncated || out.len() > limits.max_body;
            out.truncate(limits.max_body);
            resp.body = out;
        } else {
            resp.body = raw;
            resp.truncated = truncated;
        }
        resp.headers.retain(|k, _| KEPT_HEADERS.contains(&k.as_str()));
        Ok(resp)
    }

    async fn fill(&mut self) -> Result<usize, Failure> {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk).await {
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) => {
                self.reusable = false;
                let status =
                    if e.kind() == std::io::ErrorKind::InvalidData { ScanStatus::ProtocolError } else { io_status(&e) };
                Err(fail(status, "headers", e.to_string()))
            }
        }
    }

    async fn read_head(&mut self, max: usize) -> Result<(Response, Framing), Failure> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) {
                if end > max {
                    self.reusable = false;
                    return Err(fail(ScanStatus::ProtocolError, "headers", format!("response head over {max} bytes")));
                }
                let mut hs = vec![httparse::EMPTY_HEADER; 256];
                let mut r = httparse::Response::new(&mut hs);
                match r.parse(&self.buf[..end]) {
                    Ok(httparse::Status::Complete(_)) => {}
                    Ok(httparse::Status::Partial) | Err(_) => {
                        self.reusable = false;
                        return Err(fail(ScanStatus::ProtocolError, "headers", "not an HTTP response"));
                    }
                }
                let mut resp = Response { status: r.code.unwrap_or(0), ..Response::default() };
                let mut framing = Framing::Close;
                for h in r.headers.iter() {
                    let name = h.name.to_ascii_lowercase();
                    let value: String = String::from_utf8_lossy(h.value).chars().take(2048).collect();
                    if name == "content-length"
                        && let Ok(n) = value.trim().parse::<u64>()
                        && framing == Framing::Close
                    {
                        framing = Framing::Length(n);
                    }
                    if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                        framing = Framing::Chunked;
                    }
                    if name == "connection" || KEPT_HEADERS.contains(&name.as_str()) {
                        let v = resp.headers.entry(name).or_default();
                        if v.len() < 16 {
                            v.push(value);
                        }
                    }
                }
                if resp.status == 204 || resp.status == 304 || (100..200).contains(&resp.status) {
                    framing = Framing::Length(0);
                }
                if framing == Framing::Close {
                    self.reusable = false;
                }
                self.buf.drain(..end);
                return Ok((resp, framing));
            }
            if self.buf.len() > max {
                self.reusable = false;
                return Err(fail(ScanStatus::ProtocolError, "headers", format!("response head over {max} bytes")));
            }
            if !self.buf.is_empty() && !self.buf.starts_with(b"HTTP/") && self.buf.len() >= 5 {
                self.reusable = false;
                return Err(fail(ScanStatus::ProtocolError, "headers", "not an HTTP response"));
            }
            if self.fill().await? == 0 {
                self.reusable = false;
                let status = if self.buf.is_empty() { ScanStatus::Reset } else { ScanStatus::ProtocolError };
                return Err(fail(status, "headers", "connection closed before a response head"));
            }
        }
    }

    async fn read_body(&mut self, framing: Framing, max: usize) -> Result<(Vec<u8>, bool), Failure> {
        let body_err = |mut f: Failure| {
            f.phase = "body";
            f
        };
        match framing {
            Framing::Length(n) => {
                let want = (n as usize).min(max);
                while self.buf.len() < want {
                    if self.fill().await.map_err(body_err)? == 0 {
                        self.reusable = false;
                        let got = std::mem::take(&mut self.buf);
                        return Ok((got, true));
                    }
                }
                let body: Vec<u8> = self.buf.drain(..want).collect();
                Ok((body, n as usize > max))
            }
            Framing::Close => {
                while self.buf.len() <= max {
                    if self.fill().await.map_err(body_err)? == 0 {
                        return Ok((std::mem::take(&mut self.buf), false));
                    }
                }
                let mut b = std::mem::take(&mut self.buf);
                b.truncate(max);
                Ok((b, true))
            }
            Framing::Chunked => {
                let mut body = Vec::new();
                loop {
                    let line_end = loop {
                        if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                            break i;
                        }
                        if self.buf.len() > 1024 {
                            return Err(fail(ScanStatus::ProtocolError, "body", "bad chunk size line"));
                        }
                        if self.fill().await.map_err(body_err)? == 0 {
                            self.reusable = false;
                            return Ok((body, true));
                        }
                    };
                    let line = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
                    let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| fail(ScanStatus::ProtocolError, "body", "bad chunk size"))?;
                    self.buf.drain(..line_end + 2);
                    if size == 0 {
                        // Trailers: skip to the empty line.
                        while !self.buf.windows(2).any(|w| w == b"\r\n") {
                            if self.fill().await.map_err(body_err)? == 0 {
                                break;
                            }
                        }
                        if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                            self.buf.drain(..i + 2);
                        }
                        return Ok((body, false));
                    }
                    // `size` comes from the peer: `size + 2` must not overflow (found by the fuzz target).
                    while self.buf.len() < size.saturating_add(2) {
                        if body.len() + self.buf.len() > max {
                            break;
                        }
                        if self.fill().await.map_err(body_err)? == 0 {
                            self.reusable = false;
                            body.extend_from_slice(&self.buf);
                            return Ok((body, true));
                        }
                    }
                    let take = size.min(self.buf.len());
                    body.extend(self.buf.drain(..take));
                    if body.len() > max {
                        body.truncate(max);
                        return Ok((body, true));
                    }
                    if self.buf.starts_with(b"\r\n") {
                        self.buf.drain(..2);
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    Close,
}

//! One accepted connection: TLS with a certificate naming the host, then HTTP/1.1 keep-alive requests answered
//! by the host's personality (or its misbehaviour).

use super::host::{Host, Hostile, Kind, Soft404};
use super::{Shared, ntlm, pages};
use crate::rng::Rng;
use base64::Engine as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long an idle keep-alive connection or a TLS handshake may take before the lab drops it.
const IDLE: Duration = Duration::from_secs(20);
/// The longest request head the lab reads.
const MAX_HEAD: usize = 16 * 1024;

pub(super) async fn handle(stream: TcpStream, host: Host, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    if host.hostile == Some(Hostile::BrokenTls) {
        broken_tls(stream).await;
        return;
    }
    let config = match shared.tls_config(&host) {
        Ok(c) => c,
        Err(_) => return,
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(tls)) = tokio::time::timeout(IDLE, acceptor.accept(stream)).await else { return };
    let _ = serve_http(tls, &host, &shared).await;
}

async fn broken_tls(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = tokio::time::timeout(IDLE, stream.read(&mut buf)).await;
    let _ = stream.write_all(b"\x00\xffThis is not TLS at all\r\n\x00\x00\x00\x00garbage").await;
    let _ = stream.shutdown().await;
}

struct Request {
    path: String,
    auth: Option<String>,
    close: bool,
}

/// Reads one request head; `None` at end of stream or on a malformed or oversized head.
async fn read_request<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> Option<Request> {
    loop {
        if let Some(end) = find_head_end(buf) {
            let mut headers = [httparse::EMPTY_HEADER; 48];
            let mut req = httparse::Request::new(&mut headers);
            let parsed = req.parse(&buf[..end]).ok()?;
            if parsed.is_partial() {
                return None;
            }
            let path = req.path.unwrap_or("/").to_string();
            let mut auth = None;
            let mut close = req.version == Some(0);
            for h in req.headers.iter() {
                if h.name.eq_ignore_ascii_case("authorization") {
                    auth = Some(String::from_utf8_lossy(h.value).into_owned());
                } else if h.name.eq_ignore_ascii_case("connection") {
                    close = h.value.eq_ignore_ascii_case(b"close");
                }
            }
            buf.drain(..end);
            return Some(Request { path, auth, close });
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(IDLE, s.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

struct Response {
    status: u16,
    reason: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, reason: &'static str) -> Response {
        Response { status, reason, headers: Vec::new(), body: Vec::new() }
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
    fn html(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self.header("Content-Type", "text/html; charset=utf-8")
    }
    fn bytes(&self, close: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out, close);
        out
    }
    fn write_to(&self, out: &mut Vec<u8>, close: bool) {
        use std::io::Write as _;
        let _ = write!(out, "HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (k, v) in &self.headers {
            let _ = write!(out, "{k}: {v}\r\n");
        }
        let _ = write!(out, "Content-Length: {}\r\n", self.body.len());
        if close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, host: &Host, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    // Answers to pipelined requests go out together: one TLS write for every request already read.
    let mut out = Vec::new();
    while let Some(req) = read_request(&mut s, &mut buf).await {
        if let Some(h) = host.hostile {
            return hostile(&mut s, h, &req, shared).await;
        }
        let resp = match host.kind {
            Kind::Exchange => exchange(host, &req),
            Kind::Honeypot => honeypot(&req),
            Kind::Nginx => nginx(&req),
            _ => iis(&req),
        };
        resp.write_to(&mut out, req.close);
        if req.close || find_head_end(&buf).is_none() {
            s.write_all(&out).await?;
            s.flush().await?;
            out.clear();
        }
        if req.close {
            let _ = s.shutdown().await;
            break;
        }
    }
    // At the end of the stream the client has gone: no close_notify into a closed socket.
    Ok(())
}

fn lower_path(path: &str) -> String {
    path.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase()
}

fn iis_server(product: Option<&str>) -> &'static str {
    match product {
        Some("2010") => "Microsoft-IIS/7.5",
        Some("2013") => "Microsoft-IIS/8.5",
        _ => "Microsoft-IIS/10.0",
    }
}

const AUTH_PATHS: &[&str] =
    &["/ews/", "/rpc/", "/microsoft-server-activesync", "/autodiscover/autodiscover.xml", "/owa/service.svc", "/mapi/"];

const EXPORTTOOL: &str = "/ecp/current/exporttool/microsoft.exchange.ediscovery.exporttool.application";

fn exchange(host: &Host, req: &Request) -> Response {
    let p = lower_path(&req.path);
    let product = host.product.as_deref();
    let build = host.build.unwrap_or(exhunt_model::Build::cu(15, 1, 0));
    let mut resp = if p == "/owa/auth/logon.aspx" {
        Response::new(200, "OK").html(pages::logon(&build))
    } else if p == "/" || p == "/owa" || p == "/owa/" {
        Response::new(302, "Found").header(
            "Location",
            format!(
                "https://{}/owa/auth/logon.aspx?url=https%3a%2f%2f{}%2fowa%2f&reason=0",
                host.hostname, host.hostname
            ),
        )
    } else if let Some(shell) = host.webshells.iter().find(|s| s.path.eq_ignore_ascii_case(&p)) {
        let body = if shell.style == "oab-export" { pages::OAB_EXPORT } else { "" };
        Response::new(200, "OK").html(body)
    } else if AUTH_PATHS.iter().any(|a| p.starts_with(a) || p == a.trim_end_matches('/')) {
        let mut r = Response::new(401, "Unauthorized");
        match (&host.ntlm, req.auth.as_deref().and_then(type1_scheme)) {
            (Some(names), Some(scheme)) => {
                let msg = ntlm::type2(names, challenge(host));
                let b64 = base64::engine::general_purpose::STANDARD.encode(msg);
                r = r.header("WWW-Authenticate", format!("{scheme} {b64}"));
            }
            (Some(_), None) => {
                r = r.header("WWW-Authenticate", "Negotiate").header("WWW-Authenticate", "NTLM");
            }
            _ => {}
        }
        if p.starts_with("/microsoft-server-activesync") || p.starts_with("/autodiscover") {
            r = r.header("WWW-Authenticate", format!("Basic realm=\"{}\"", host.hostname));
        }
        r
    } else if p == EXPORTTOOL && host.exporttool {
        let mut r = Response::new(200, "OK");
        r.body = pages::exporttool(&build).into_bytes();
        r.header("Content-Type", "application/x-ms-application")
    } else {
        match host.soft404.unwrap_or(Soft404::NotFound) {
            Soft404::NotFound => Response::new(404, "Not Found").html(pages::IIS_404),
            Soft404::Ok200 => Response::new(200, "OK").html(pages::SOFT_200),
            Soft404::RedirectLogon => Response::new(302, "Found").header(
                "Location",
                format!(
                    "https://{}/owa/auth/logon.aspx?url=https%3a%2f%2f{}%2fowa%2f&reason=0",
                    host.hostname, host.hostname
                ),
            ),
            Soft404::Custom404 => Response::new(404, "Not Found").html(pages::CUSTOM_404),
        }
    };
    resp = resp.header("Server", iis_server(product)).header("X-Powered-By", "ASP.NET");
    if resp.status == 401 && host.x_owa_version {
        resp = resp.header("X-OWA-Version", build.to_string());
    }
    if let Some(fe) = &host.feserver {
        resp = resp.header("X-FEServer", fe.clone());
    }
    resp
}

/// `NTLM` or `Negotiate` when the header carries an NTLM Type-1.
fn type1_scheme(auth: &str) -> Option<&'static str> {
    let (scheme, token) = auth.trim().split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("ntlm") {
        "NTLM"
    } else if scheme.eq_ignore_ascii_case("negotiate") {
        "Negotiate"
    } else {
        return None;
    };
    let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    (raw.len() >= 12 && raw.starts_with(b"NTLMSSP\0") && raw[8] == 1).then_some(scheme)
}

fn challenge(host: &Host) -> [u8; 8] {
    Rng::new(u64::from(u32::from(host.addr)), 7).next_u64().to_le_bytes()
}

fn honeypot(req: &Request) -> Response {
    let p = lower_path(&req.path);
    let r = if p == "/owa/auth/logon.aspx" {
        Response::new(200, "OK").html(pages::logon(&exhunt_model::Build::cu(15, 1, 1466)))
    } else if p == "/" || p == "/owa" || p == "/owa/" {
        Response::new(302, "Found").header("Location", "/owa/auth/logon.aspx?replaceCurrent=1&url=/owa/")
    } else if AUTH_PATHS.iter().any(|a| p.starts_with(a)) {
        Response::new(401, "Unauthorized").header("WWW-Authenticate", "Basic realm=\"owa\"").html(pages::IIS_404)
    } else {
        Response::new(404, "Not Found").html(pages::IIS_404)
    };
    r.header("Server", "Microsoft-IIS/8.5")
}

fn iis(req: &Request) -> Response {
    let r = if lower_path(&req.path) == "/" {
        Response::new(200, "OK").html(pages::IIS_DEFAULT)
    } else {
        Response::new(404, "Not Found").html(pages::IIS_404)
    };
    r.header("Server", "Microsoft-IIS/10.0")
}

fn nginx(req: &Request) -> Response {
    let r = if lower_path(&req.path) == "/" {
        Response::new(200, "OK").html(pages::NGINX_DEFAULT)
    } else {
        Response::new(404, "Not Found").html(pages::NGINX_404)
    };
    r.header("Server", "nginx/1.18.0")
}

async fn hostile<S: AsyncWrite + Unpin>(s: &mut S, h: Hostile, req: &Request, shared: &Shared) -> std::io::Result<()> {
    match h {
        Hostile::Slowloris => {
            for b in b"HTTP/1.1 200 OK\r\nX-Slow: ".iter().chain(std::iter::repeat(&b'z')) {
                s.write_all(&[*b]).await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        Hostile::EndlessBody => {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>").await?;
            // Endless, but paced (16 KiB a millisecond at most): a scanner meets its body cap within tens of
            // milliseconds, and the lab does not spend its CPU filling socket buffers with megabytes nobody reads.
            let chunk = vec![b'A'; 16 * 1024];
            loop {
                s.write_all(&chunk).await?;
                s.flush().await?;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        Hostile::GzipBomb => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                shared.bomb.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(shared.bomb).await?;
        }
        Hostile::RedirectLoop => {
            let next = if req.path.len() > 512 { "/a".to_string() } else { format!("{}a", req.path) };
            let r = Response::new(302, "Found").header("Location", next).bytes(true);
            s.write_all(&r).await?;
            s.flush().await?;
            return Ok(());
        }
        Hostile::HugeHeaders => {
            s.write_all(b"HTTP/1.1 200 OK\r\n").await?;
            let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
            for _ in 0..1024 {
                s.write_all(line.as_bytes()).await?;
            }
            s.write_all(b"Content-Length: 0\r\n\r\n").await?;
        }
        Hostile::Garbage => {
            let mut rng = Rng::new(req.path.len() as u64, 9);
            let junk: Vec<u8> = (0..4096).map(|_| rng.next_u64() as u8).collect();
            s.write_all(&junk).await?;
        }
        Hostile::BrokenTls => {}
    }
    s.flush().await?;
    let _ = s.shutdown().await;
    Ok(())
}

//! Responses from bytes instead of the network: the same [`crate::http::Conn`] reading a canned response, for unit
//! tests and the `http_observation` fuzz target. Nothing here opens a socket.

use crate::http::{Conn, Limits};
use crate::ladder::{failed_probe, probe_from_response};
use exhunt_detect::scan::{BodyAnchors, fingerprint, observation_of};
use exhunt_kb::Kb;
use exhunt_model::{Observation, Probe};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream that swallows what is written and reads `input`, at most `chunk` bytes at a time (so a response can
/// arrive in pieces as it does from a socket), then end of stream.
pub struct Canned<'a> {
    input: &'a [u8],
    chunk: usize,
}

impl<'a> Canned<'a> {
    pub fn new(input: &'a [u8], chunk: usize) -> Canned<'a> {
        Canned { input, chunk: chunk.max(1) }
    }
}

impl AsyncRead for Canned<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = self.input.len().min(self.chunk).min(buf.remaining());
        let (head, rest) = self.input.split_at(n);
        buf.put_slice(head);
        self.input = rest;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Canned<'_> {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The probe the ladder would record if `raw` were the server's answer to `GET path`. Needs a tokio runtime with
/// the time driver (the deadlines are the scanner's own).
pub async fn probe(name: &str, path: &str, raw: &[u8], chunk: usize, limits: &Limits, anchors: &BodyAnchors) -> Probe {
    let mut conn = Conn::new(Canned::new(raw, chunk));
    match conn.get("lab.invalid", path, None, limits).await {
        Ok(resp) => probe_from_response(name, path, resp, anchors),
        Err(f) => failed_probe(name, path, &f),
    }
}

/// An observation of one target whose every ladder step got `raw` as its answer, with its fingerprint: the whole
/// path from bytes to a verdict, as [`crate::ladder::scan`] takes it.
pub async fn observation(raw: &[u8], chunk: usize, limits: &Limits, kb: &Kb) -> Observation {
    let anchors = BodyAnchors::new(&kb.scan.markers);
    let mut probes = Vec::new();
    for (name, path) in [
        ("logon", "/owa/auth/logon.aspx"),
        ("ews", "/EWS/Exchange.asmx"),
        ("exporttool", crate::ladder::EXPORTTOOL),
        ("ntlm", "/rpc/"),
        ("baseline", "/aspnet_client/0000000000000000.aspx"),
        ("webshell", "/aspnet_client/shell.aspx"),
    ] {
        probes.push(probe(name, path, raw, chunk, limits, &anchors).await);
    }
    let mut obs = observation_of(probes);
    obs.fingerprint = fingerprint(&obs, kb);
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime")
    }

    #[test]
    fn a_chunk_size_near_usize_max_is_a_short_body_not_a_panic() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc";
        let anchors = BodyAnchors::new(&Kb::builtin().scan.markers);
        let p = rt().block_on(probe("logon", "/", raw, 7, &Limits::default(), &anchors));
        assert_eq!(p.status, Some(200));
        assert!(p.truncated);
    }

    /// A Type-2 as the lab (and Exchange) sends it: target name and AV pairs in UTF-16LE.
    fn type2(domain: &str, computer: &str, dns_computer: &str) -> Vec<u8> {
        let names = exhunt_lab::serve::host::AdNames {
            netbios_domain: domain.into(),
            netbios_computer: computer.into(),
            dns_domain: dns_computer.split_once('.').map(|(_, d)| d.to_string()).unwrap_or_default(),
            dns_computer: dns_computer.into(),
            dns_tree: dns_computer.split_once('.').map(|(_, d)| d.to_string()).unwrap_or_default(),
        };
        exhunt_lab::serve::ntlm::type2(&names, [0x11; 8])
    }

    #[test]
    fn an_exchange_401_gives_the_build_and_the_ntlm_names() {
        use base64::Engine as _;
        let t2 = base64::engine::general_purpose::STANDARD.encode(type2("CONTOSO", "EX01", "ex01.contoso.corp"));
        let raw = format!(
            "HTTP/1.1 401 Unauthorized\r\nX-OWA-Version: 15.1.2176.9\r\nX-FEServer: EX01\r\nWWW-Authenticate: NTLM {t2}\r\nContent-Length: 0\r\n\r\n"
        );
        let o = rt().block_on(observation(raw.as_bytes(), 5, &Limits::default(), &Kb::builtin()));
        let f = o.fingerprint.expect("fingerprint");
        assert_eq!(f.class, exhunt_model::Class::Exchange);
        assert_eq!(f.build.map(|b| b.to_string()).as_deref(), Some("15.1.2176.9"));
        assert_eq!(f.feserver.as_deref(), Some("EX01"));
        let n = f.ntlm.expect("ntlm");
        assert_eq!(n.netbios_domain.as_deref(), Some("CONTOSO"));
        assert_eq!(n.netbios_computer.as_deref(), Some("EX01"));
        assert_eq!(n.dns_computer.as_deref(), Some("ex01.contoso.corp"));
        assert_eq!(n.os_version.as_deref(), Some("10.0.17763"));
    }
}

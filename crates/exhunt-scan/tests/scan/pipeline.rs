//! The pipelined ladder (`--per-host-rate 0`) against a TLS server this test starts on 127.0.0.1, which answers at
//! most N requests per connection (the last with `Connection: close`) and drops whatever else was pipelined: every
//! request of the ladder must still be answered exactly once, in the ladder's order, whatever N is; with no limit
//! the whole ladder takes one connection and requests arrive several at a time. No other traffic.

use exhunt_kb::Kb;
use exhunt_model::ScanStatus;
use exhunt_scan::Target;
use exhunt_scan::http::Limits;
use exhunt_scan::ladder::{EXPORTTOOL, LadderConfig, scan};
use exhunt_scan::rate::HostLimiter;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use crate::common;

/// What the server saw: connections accepted, the paths it answered in order, and the most request heads that
/// were complete in its buffer at once.
#[derive(Default)]
struct Seen {
    connections: usize,
    answered: Vec<String>,
    most_at_once: usize,
}

/// Answers each request with a bare 401 (read by the ladder as a hint of Exchange, so it climbs to its NTLM
/// steps); after `per_conn` answers it says `Connection: close` and closes, unread requests dropped.
async fn serve(listener: TcpListener, per_conn: usize, seen: Arc<Mutex<Seen>>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(common::server_config());
    loop {
        let Ok((tcp, _)) = listener.accept().await else { return };
        seen.lock().expect("lock").connections += 1;
        let (acceptor, seen) = (acceptor.clone(), seen.clone());
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let (mut buf, mut chunk, mut answered) = (Vec::new(), [0u8; 4096], 0);
            loop {
                let Ok(n) = tls.read(&mut chunk).await else { return };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let heads = buf.windows(4).filter(|w| *w == b"\r\n\r\n").count();
                {
                    let mut s = seen.lock().expect("lock");
                    s.most_at_once = s.most_at_once.max(heads);
                }
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    answered += 1;
                    let last = answered == per_conn;
                    seen.lock().expect("lock").answered.push(head.split_whitespace().nth(1).unwrap_or("").into());
                    let close = if last { "Connection: close\r\n" } else { "" };
                    let resp = format!(
                        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\n{close}Content-Length: 0\r\n\r\n"
                    );
                    if tls.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                    if last {
                        let _ = tls.shutdown().await;
                        return;
                    }
                }
            }
        });
    }
}

async fn ladder_against(per_conn: usize) -> (exhunt_model::Observation, Seen) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind loopback");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = tokio::spawn(serve(listener, per_conn, seen.clone()));
    let cfg = {
        let mut c = LadderConfig::new(
            &Kb::builtin().scan,
            Limits { headers: Duration::from_secs(10), body: Duration::from_secs(10), ..Limits::default() },
            1,
        );
        c.per_host = Arc::new(HostLimiter::unlimited());
        c
    };
    let o = scan(Some(0), Target { ip: IpAddr::V4(Ipv4Addr::LOCALHOST), port, name: None }, &cfg).await;
    server.abort();
    let seen = std::mem::take(&mut *seen.lock().expect("lock"));
    (o, seen)
}

const LADDER: [&str; 6] =
    ["/owa/auth/logon.aspx", "/EWS/Exchange.asmx", "/Microsoft-Server-ActiveSync", EXPORTTOOL, "/rpc/", "/EWS/"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_each_answered_once_in_order() {
    for per_conn in [usize::MAX, 1, 2, 4] {
        let (o, seen) = ladder_against(per_conn).await;
        assert_eq!(o.status, ScanStatus::Success, "per_conn {per_conn}: {o:?}");
        let paths: Vec<&str> = o.probes.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, LADDER, "per_conn {per_conn}: the ladder's probes");
        for p in &o.probes {
            assert_eq!(p.status, Some(401), "per_conn {per_conn}: {p:?}");
        }
        assert_eq!(seen.answered, LADDER, "per_conn {per_conn}: what the server answered, in order");
        if per_conn == usize::MAX {
            assert_eq!(seen.connections, 1, "one connection for the whole ladder");
            assert!(seen.most_at_once >= 2, "requests arrived one at a time: not pipelined");
        } else {
            assert_eq!(seen.connections, LADDER.len().div_ceil(per_conn), "per_conn {per_conn}: connections");
        }
    }
}

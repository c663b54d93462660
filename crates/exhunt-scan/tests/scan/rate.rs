//! `--per-host-rate` holds per address, across ports: two targets of 127.0.0.1 (two ports of a TLS server this test
//! starts on loopback) scanned at once, and the arrival time of every request at the server recorded. No other
//! traffic.

use exhunt_kb::Kb;
use exhunt_model::ScanStatus;
use exhunt_scan::Target;
use exhunt_scan::http::Limits;
use exhunt_scan::ladder::{LadderConfig, scan};
use exhunt_scan::rate::HostLimiter;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// One request as the server saw it: when its head was complete, on which port, for which path.
type Arrivals = Arc<Mutex<Vec<(Instant, u16, String)>>>;

use crate::common;
use common::server_config;

/// Answers every request with a bare 401 (which the ladder reads as a hint of Exchange, so it climbs to its NTLM
/// steps: six requests per target), keeping the connection alive.
async fn serve(listener: TcpListener, config: Arc<rustls::ServerConfig>, arrivals: Arrivals) {
    let port = listener.local_addr().expect("addr").port();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else { return };
        let (acceptor, arrivals) = (acceptor.clone(), arrivals.clone());
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let Ok(n) = tls.read(&mut chunk).await else { return };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let at = Instant::now();
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    arrivals.lock().expect("lock").push((at, port, path));
                    let resp = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n";
                    if tls.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_rate_holds_across_the_ports_of_one_address() {
    let config = server_config();
    let arrivals: Arrivals = Arc::default();
    let mut ports = Vec::new();
    for _ in 0..2 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind loopback");
        ports.push(listener.local_addr().expect("addr").port());
        tokio::spawn(serve(listener, config.clone(), arrivals.clone()));
    }
    // 5 requests per second to one address: 200 ms apart.
    let per_host_rate = 5;
    let gap = Duration::from_millis(200);
    let cfg = {
        let mut c = LadderConfig::new(
            &Kb::builtin().scan,
            Limits { headers: Duration::from_secs(10), body: Duration::from_secs(10), ..Limits::default() },
            1,
        );
        c.per_host = Arc::new(HostLimiter::per_second(per_host_rate));
        c
    };
    let target = |port| Target { ip: IpAddr::V4(Ipv4Addr::LOCALHOST), port, name: None };
    // Both targets in flight at once, as `scan::run` puts them with `-p P1,P2` (it shares one `LadderConfig`).
    let (a, b) = tokio::join!(scan(Some(0), target(ports[0]), &cfg), scan(Some(1), target(ports[1]), &cfg));
    for o in [&a, &b] {
        assert_eq!(o.status, ScanStatus::Success, "{o:?}");
        assert_eq!(o.probes.len(), 6, "the ladder did not climb to its NTLM steps: {o:?}");
    }
    let mut seen = arrivals.lock().expect("lock").clone();
    seen.sort_by_key(|(at, _, _)| *at);
    assert_eq!(seen.len(), 12, "{seen:?}");
    for p in &ports {
        assert_eq!(seen.iter().filter(|(_, port, _)| port == p).count(), 6, "port {p}");
    }
    // Every two requests to the address, whichever port they went to, are a gap apart. The tolerance covers the
    // server's own scheduling (it stamps a request when its task gets to read it), not the scanner's speed.
    let tolerance = Duration::from_millis(30);
    for w in seen.windows(2) {
        let spacing = w[1].0 - w[0].0;
        assert!(
            spacing + tolerance >= gap,
            "{:?} between `{}` on port {} and `{}` on port {} (at most {per_host_rate} per second): {seen:?}",
            spacing,
            w[0].2,
            w[0].1,
            w[1].2,
            w[1].1
        );
    }
    // Nothing of the address is left in the limiter once its targets are done and the last gap has passed.
    tokio::time::sleep(gap).await;
    assert!(cfg.per_host.is_empty());
}

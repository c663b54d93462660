//! The cost floor under `bench/scan_vs_nmap.sh`: one process that is both a TLS server and the scanner's client on
//! 127.0.0.1, doing only what every fingerprint must do — TCP connect, a TLS 1.3 handshake with the scanner's own
//! client configuration (`exhunt_scan::http`), and then either nothing (`handshake`) or two pipelined round trips
//! of two requests each (`two-rounds`, what the ladder does for an Exchange host), then the reset close. It prints
//! the CPU per connection (client and server together, from /proc/self/stat) and the connections per second on
//! this machine's cores, to set beside the scanner-plus-lab figure. Loopback only: the server is its own.
//!
//!   cargo run --release -p exhunt-scan --example handshake_floor -- [CONNECTIONS] [CONCURRENCY]
//!
//! Exits 1 when a connection did not complete. `bench/scan_vs_nmap.sh` runs it for the floor ratio; `.ci/run` runs
//! it small (debug build) as a check that it still works.

use exhunt_scan::http::{Limits, connect, request, tls_config};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ')'; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

fn server_config() -> Arc<rustls::ServerConfig> {
    exhunt_lab::serve::self_signed_config("floor.lab").expect("certificate")
}

async fn serve(listener: TcpListener) {
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config());
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else { return };
            let (mut buf, mut chunk) = (Vec::new(), [0u8; 4096]);
            while let Ok(n) = tls.read(&mut chunk).await {
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let mut out = Vec::new();
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    buf.drain(..end + 4);
                    out.extend_from_slice(
                        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n",
                    );
                }
                if !out.is_empty() && tls.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn one(addr: SocketAddr, rounds: usize, limits: &Limits, tls: &Arc<rustls::ClientConfig>) -> bool {
    let mut req = Vec::new();
    for _ in 0..2 {
        request(&mut req, "127.0.0.1", "/owa/auth/logon.aspx", None);
    }
    let early: &[u8] = if rounds > 0 { &req } else { &[] };
    let Ok((mut conn, _)) = connect(addr, None, limits, tls, early).await else { return false };
    for round in 0..rounds {
        if round > 0 && conn.send(&req, limits).await.is_err() {
            return false;
        }
        for _ in 0..2 {
            if conn.recv(limits).await.is_err() {
                return false;
            }
        }
    }
    conn.abort();
    true
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let conc: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let failed = rt.block_on(async move {
        let mut failed = false;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener));
        let (limits, tls) = (Limits::default(), tls_config());
        for (name, rounds) in [("handshake", 0), ("two-rounds", 2)] {
            let sem = Arc::new(tokio::sync::Semaphore::new(conc));
            let ok = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (c0, t0) = (cpu_seconds(), Instant::now());
            for _ in 0..n {
                let permit = sem.clone().acquire_owned().await.expect("semaphore");
                let (ok, tls) = (ok.clone(), tls.clone());
                tokio::spawn(async move {
                    if one(addr, rounds, &limits, &tls).await {
                        ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    drop(permit);
                });
            }
            let _all = sem.acquire_many(conc as u32).await.expect("semaphore");
            let (cpu, wall) = (cpu_seconds() - c0, t0.elapsed().as_secs_f64());
            let done = ok.load(std::sync::atomic::Ordering::Relaxed);
            failed |= done < n;
            println!(
                "{name:10}: {done} of {n} connections in {wall:.1} s = {:.0}/s; CPU (client + server) {:.3} ms per connection; {} cores",
                done as f64 / wall,
                cpu * 1000.0 / n as f64,
                std::thread::available_parallelism().map_or(1, |c| c.get())
            );
        }
        failed
    });
    // A connection that did not complete is a failure of the run (CI runs this small, as a check).
    if failed {
        std::process::exit(1);
    }
}

//! Simulated Exchange (and not-Exchange, and hostile) servers on loopback, for the scanner's tests and benchmarks.
//!
//! [`start`] answers HTTPS on every address of the given loopback ranges, each address a different host whose
//! personality is a pure function of `(seed, address)` ([`Host::new`]): Exchange 2010/2013/2016/2019 at catalog
//! builds, with or without `X-OWA-Version`, the exporttool manifest and NTLM (AD names in the Type-2), a soft-404
//! behaviour and sometimes web shells; IIS and nginx default pages; an OWA look-alike honeypot; closed ports; and
//! hostile servers. [`LabServer::truth`] gives each host's ground truth, with what a correct scan reports.
//!
//! # Listening on many addresses
//!
//! Linux routes all of `127.0.0.0/8` to `lo`, so each address can be bound on its own. That costs one descriptor
//! per host, and the descriptor limit here (20,000) is below a /16's 65,536 hosts, so there are two modes:
//!
//! * [`Bind::PerAddress`]: one listener per host address. A closed host is an address nobody binds, so the
//!   scanner sees a real refusal. The default up to [`PER_ADDRESS_MAX`] hosts.
//! * [`Bind::Loopback`]: one socket bound to `0.0.0.0:PORT` **and tied to the `lo` interface**
//!   (`SO_BINDTODEVICE`), so that only packets that arrive on loopback reach it; nothing from another interface
//!   can connect. Each accepted connection's local address names the host; an address outside the lab's ranges
//!   is dropped at once. A closed host is reset right after the handshake (its truth says `reset`). Needs
//!   `CAP_NET_RAW`; the default above [`PER_ADDRESS_MAX`] hosts.
//!
//! Nothing here binds anything but loopback: ranges are [`IpNet`]s, and [`parse_range`] and
//! [`ServeOptions::validate`] refuse any outside `127.0.0.0/8`.
//!
//! Certificates: one ECDSA P-256 key for the whole lab (generating keys is the slow part), and per connection a
//! self-signed certificate naming the host, made with rcgen.

mod conn;
pub mod host;
pub mod ntlm;
mod pages;

pub use host::{AdNames, Expect, HOSTILES, Host, Hostile, Kind, Shell, Soft404, Truth};

use exhunt_kb::Kb;
use exhunt_model::net::IpNet;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Above this many hosts, [`Bind::Auto`] listens on the loopback interface with one socket.
pub const PER_ADDRESS_MAX: usize = 4096;

/// Why the lab could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("`{0}` is not an IPv4 address or CIDR range (e.g. 127.1.0.0/16)")]
    BadRange(String),
    #[error("`{0}` is not loopback: the lab only listens on 127.0.0.0/8")]
    NotLoopback(String),
    #[error("the ranges hold {0} hosts; the lab takes at most 16,777,216")]
    TooMany(u64),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make the lab's certificate: {0}")]
    Cert(String),
    #[error("cannot write the truth file: {0}")]
    Truth(#[source] std::io::Error),
}

/// How the lab listens; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bind {
    Auto,
    PerAddress,
    Loopback,
}

/// The only addresses the lab listens on.
const LOOPBACK: &str = "127.0.0.0/8";

fn loopback() -> IpNet {
    IpNet::parse(LOOPBACK).expect("invariant: a valid constant")
}

/// Parses a range of `--hosts`: `127.1.0.0/16`, `127.0.0.5` (host bits under the prefix are ignored). It must be
/// IPv4 and inside `127.0.0.0/8`.
pub fn parse_range(s: &str) -> Result<IpNet, ServeError> {
    let net = IpNet::parse_truncating(s.trim()).map_err(|_| ServeError::BadRange(s.to_string()))?;
    if !net.is_ipv4() {
        return Err(ServeError::BadRange(s.to_string()));
    }
    if !loopback().contains_net(&net) {
        return Err(ServeError::NotLoopback(s.to_string()));
    }
    Ok(net)
}

/// The addresses of a range that [`ServeOptions::validate`] accepted (IPv4 only).
fn addrs_v4(net: &IpNet) -> impl Iterator<Item = Ipv4Addr> + use<> {
    net.addrs().filter_map(|a| match a {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    })
}

/// What to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// IPv4 ranges inside `127.0.0.0/8` ([`parse_range`]; checked again by [`ServeOptions::validate`]).
    pub ranges: Vec<IpNet>,
    /// 0 picks a free port (the same one on every address).
    pub port: u16,
    pub seed: u64,
    /// The world's epoch: 0 at first, each later one with a share of the vulnerable hosts patched ([`Host::at`]).
    pub epoch: u32,
    pub bind: Bind,
}

impl ServeOptions {
    /// True when the lab listens on the loopback interface with one socket (closed hosts then reset instead of
    /// refusing): [`Bind::Loopback`], or [`Bind::Auto`] above [`PER_ADDRESS_MAX`] hosts.
    pub fn loopback_socket(&self) -> bool {
        match self.bind {
            Bind::Loopback => true,
            Bind::PerAddress => false,
            Bind::Auto => self.ranges.iter().map(|r| r.size() as u64).sum::<u64>() > PER_ADDRESS_MAX as u64,
        }
    }

    /// Every address of the lab, in the order of its ranges.
    pub fn addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.ranges.iter().flat_map(addrs_v4)
    }

    /// The ground truth of one address of this lab, without starting it: what [`LabServer::truth_of`] says once it
    /// runs, when `port` is the port it got (a fixed one, not 0).
    pub fn truth_of(&self, addr: Ipv4Addr, kb: &Kb) -> Truth {
        Host::at(self.seed, self.epoch, addr, kb).truth(self.port, &kb.catalog, self.loopback_socket())
    }

    /// The number of hosts, once every range is IPv4 loopback and they hold at most 2^24 hosts.
    pub fn validate(&self) -> Result<u64, ServeError> {
        for r in &self.ranges {
            if !r.is_ipv4() {
                return Err(ServeError::BadRange(r.to_string()));
            }
            if !loopback().contains_net(r) {
                return Err(ServeError::NotLoopback(r.to_string()));
            }
        }
        let n: u64 = self.ranges.iter().map(|r| r.size() as u64).sum();
        if n > 1 << 24 {
            return Err(ServeError::TooMany(n));
        }
        Ok(n)
    }
}

pub(crate) struct Shared {
    seed: u64,
    epoch: u32,
    kb: Kb,
    key: rcgen::KeyPair,
    signing: Arc<dyn rustls::sign::SigningKey>,
    /// The server configuration every connection starts from (built once: building one per connection allocated
    /// a session cache only to drop it); a connection swaps in its host's certificate.
    template: rustls::ServerConfig,
    /// Each TLS host's certificate by address ([`Shared::precompute`]).
    certs: std::collections::HashMap<u32, Arc<CertifiedKey>>,
    /// 16 MiB of zeros, gzipped (64 times the scanner's body cap).
    bomb: &'static [u8],
}

impl Shared {
    /// The server configuration of one host: its certificate (made at start, or now for labs too large to hold
    /// them all) on the shared template.
    fn tls_config(&self, host: &Host) -> Result<Arc<rustls::ServerConfig>, ServeError> {
        let ck = match self.certs.get(&u32::from(host.addr)) {
            Some(ck) => ck.clone(),
            None => Arc::new(self.certified(&host.hostname)?),
        };
        let mut config = self.template.clone();
        config.cert_resolver = Arc::new(OneCert(ck));
        Ok(Arc::new(config))
    }

    /// A self-signed certificate naming `hostname`, on the lab's key.
    fn certified(&self, hostname: &str) -> Result<CertifiedKey, ServeError> {
        let cert_err = |e: &dyn std::fmt::Display| ServeError::Cert(e.to_string());
        let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()]).map_err(|e| cert_err(&e))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, hostname);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "exhunt lab");
        let cert = params.self_signed(&self.key).map_err(|e| cert_err(&e))?;
        Ok(CertifiedKey::new(vec![CertificateDer::from(cert.der().to_vec())], self.signing.clone()))
    }

    /// Every TLS host's certificate, made on all cores (a real server has its certificate before the first
    /// client; making one per connection was a second signature per handshake). Labs over
    /// [`PRECOMPUTE_MAX`] hosts make them per connection instead (about 700 bytes each).
    fn precompute(&mut self, ranges: &[IpNet]) -> Result<(), ServeError> {
        let n: u64 = ranges.iter().map(|r| r.size() as u64).sum();
        if n > PRECOMPUTE_MAX {
            return Ok(());
        }
        let addrs: Vec<Ipv4Addr> = ranges.iter().flat_map(addrs_v4).collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let per = addrs.len().div_ceil(threads).max(1);
        let this = &*self;
        let parts: Vec<CertPart> = std::thread::scope(|scope| {
            let handles: Vec<_> = addrs
                .chunks(per)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut out = Vec::with_capacity(chunk.len());
                        for &a in chunk {
                            let host = Host::at(this.seed, this.epoch, a, &this.kb);
                            if host.kind == Kind::Closed || host.hostile == Some(host::Hostile::BrokenTls) {
                                continue;
                            }
                            out.push((u32::from(a), Arc::new(this.certified(&host.hostname)?)));
                        }
                        Ok(out)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(ServeError::Cert("panicked".into())))).collect()
        });
        for part in parts {
            self.certs.extend(part?);
        }
        Ok(())
    }
}

/// A server configuration for one self-signed certificate naming `name`, made now (ring, no session storage, no
/// tickets, as the lab's own hosts): for loopback servers in tests and benchmarks that stand beside the lab.
pub fn self_signed_config(name: &str) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).map_err(|e| ServeError::Cert(e.to_string()))?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let certified = rustls::sign::CertifiedKey::from_der(vec![ck.cert.der().clone()], key, &provider)
        .map_err(|e| ServeError::Cert(e.to_string()))?;
    let mut config = server_template(provider)?;
    config.cert_resolver = Arc::new(rustls::sign::SingleCertAndKey::from(certified));
    Ok(Arc::new(config))
}

/// The certificates one thread of [`Shared::precompute`] made, by address.
type CertPart = Result<Vec<(u32, Arc<CertifiedKey>)>, ServeError>;

/// Labs up to this many hosts make every certificate when they start.
const PRECOMPUTE_MAX: u64 = 1 << 17;

/// The lab's server configuration, without its certificate: no session storage and no tickets (the scanner meets
/// each host once and must see each host's own certificate).
fn server_template(provider: Arc<rustls::crypto::CryptoProvider>) -> Result<rustls::ServerConfig, ServeError> {
    #[derive(Debug)]
    struct NoCert;
    impl rustls::server::ResolvesServerCert for NoCert {
        fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
            None
        }
    }
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Cert(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(NoCert));
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// Resolves every handshake to the one certificate of the connection's host.
#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for OneCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A running lab. Dropping it stops every listener and connection.
pub struct LabServer {
    pub port: u16,
    /// True when listening on the loopback interface with one socket (closed hosts reset instead of refusing).
    pub loopback_socket: bool,
    ranges: Vec<IpNet>,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl LabServer {
    /// The host at `addr` (whether or not it is in the lab's ranges).
    pub fn host(&self, addr: Ipv4Addr) -> Host {
        Host::at(self.shared.seed, self.shared.epoch, addr, &self.shared.kb)
    }

    /// Every address the lab answers for (closed ones included), in address order.
    pub fn addrs(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.ranges.iter().flat_map(addrs_v4)
    }

    /// The ground truth of one address.
    pub fn truth_of(&self, addr: Ipv4Addr) -> Truth {
        self.host(addr).truth(self.port, &self.shared.kb.catalog, self.loopback_socket)
    }

    /// Writes one JSON line per host.
    pub fn write_truth(&self, out: &mut dyn std::io::Write) -> Result<(), ServeError> {
        let mut w = std::io::BufWriter::new(out);
        for a in self.addrs() {
            let line = serde_json::to_string(&self.truth_of(a)).map_err(|e| ServeError::Truth(e.into()))?;
            writeln!(w, "{line}").map_err(ServeError::Truth)?;
        }
        w.flush().map_err(ServeError::Truth)
    }

    /// Stops accepting and drops every connection.
    pub async fn shutdown(mut self) {
        self.tasks.shutdown().await;
    }
}

/// How a scan's observations compare with a lab's truth.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Addresses compared: every address of the lab.
    pub hosts: usize,
    /// The addresses whose observation differs (or is missing), in the lab's order, with what differs.
    pub differ: Vec<(Ipv4Addr, Vec<String>)>,
}

/// Compares observations (by address) with the truth of every address of a lab, through the one comparison
/// [`Truth::differences`]; `webshells` when the scan probed for web shells. The check of the tests, the demo and the
/// scan benchmark.
pub fn compare(
    truths: impl IntoIterator<Item = (Ipv4Addr, Truth)>,
    seen: &std::collections::HashMap<std::net::IpAddr, exhunt_model::Observation>,
    webshells: bool,
) -> Comparison {
    let mut c = Comparison::default();
    for (addr, truth) in truths {
        c.hosts += 1;
        let d = truth.differences(seen.get(&std::net::IpAddr::V4(addr)), webshells);
        if !d.is_empty() {
            c.differ.push((addr, d));
        }
    }
    c
}

/// Starts the lab on the current tokio runtime.
pub async fn start(opts: ServeOptions, kb: Kb) -> Result<LabServer, ServeError> {
    opts.validate()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rcgen::KeyPair::generate().map_err(|e| ServeError::Cert(e.to_string()))?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = provider.key_provider.load_private_key(der).map_err(|e| ServeError::Cert(e.to_string()))?;
    let bomb = gzip_bomb();
    let template = server_template(provider)?;
    let mut shared = Shared {
        seed: opts.seed,
        epoch: opts.epoch,
        kb,
        key,
        signing,
        template,
        certs: std::collections::HashMap::new(),
        bomb,
    };
    shared.precompute(&opts.ranges)?;
    let shared = Arc::new(shared);
    let loopback = opts.loopback_socket();
    let mut tasks = JoinSet::new();
    let port = if loopback {
        let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, opts.port));
        let listener = loopback_listener(addr).map_err(|source| ServeError::Bind { addr, source })?;
        let port = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?.port();
        let (shared, ranges) = (shared.clone(), opts.ranges.clone());
        tasks.spawn(accept_loop(listener, shared, Some(ranges)));
        port
    } else {
        let mut port = opts.port;
        for range in &opts.ranges {
            for a in addrs_v4(range) {
                if Host::at(opts.seed, opts.epoch, a, &shared.kb).kind == Kind::Closed {
                    continue;
                }
                let addr = SocketAddr::from((a, port));
                let listener = plain_listener(addr).map_err(|source| ServeError::Bind { addr, source })?;
                if port == 0 {
                    port = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?.port();
                }
                tasks.spawn(accept_loop(listener, shared.clone(), None));
            }
        }
        port
    };
    Ok(LabServer { port, loopback_socket: loopback, ranges: opts.ranges, shared, tasks })
}

fn plain_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

fn loopback_listener(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    // Only packets that arrive on the loopback interface reach this socket.
    s.bind_device(Some(b"lo"))?;
    s.bind(&addr.into())?;
    s.listen(65_535)?;
    TcpListener::from_std(s.into())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, ranges: Option<Vec<IpNet>>) {
    let mut conns = JoinSet::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // Out of descriptors or similar: back off briefly rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let Ok(SocketAddr::V4(local)) = stream.local_addr() else { continue };
        if !peer.ip().is_loopback() {
            continue;
        }
        if let Some(ranges) = &ranges
            && !ranges.iter().any(|r| r.contains(IpAddr::V4(*local.ip())))
        {
            continue;
        }
        let host = Host::at(shared.seed, shared.epoch, *local.ip(), &shared.kb);
        if host.kind == Kind::Closed {
            reset(stream);
            continue;
        }
        conns.spawn(conn::handle(stream, host, shared.clone()));
    }
}

/// Closes with a RST (linger 0), the nearest a listening socket can come to a closed port.
fn reset(stream: TcpStream) {
    if let Ok(std) = stream.into_std() {
        let s = socket2::Socket::from(std);
        let _ = s.set_linger(Some(std::time::Duration::ZERO));
    }
}

fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..16 {
            let _ = enc.write_all(&zeros);
        }
        enc.finish().unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_ipv4_loopback_networks() {
        let r = parse_range(" 127.1.0.7/16 ").expect("host bits are ignored");
        assert_eq!(r.to_string(), "127.1.0.0/16");
        assert_eq!(addrs_v4(&r).next(), Some(Ipv4Addr::new(127, 1, 0, 0)));
        assert_eq!(parse_range("127.0.0.5").expect("one host").size(), 1);
        let msg = |s: &str| parse_range(s).expect_err(s).to_string();
        assert_eq!(msg("10.0.0.0/24"), "`10.0.0.0/24` is not loopback: the lab only listens on 127.0.0.0/8");
        assert_eq!(msg("127.0.0.0/7"), "`127.0.0.0/7` is not loopback: the lab only listens on 127.0.0.0/8");
        assert_eq!(msg("::1"), "`::1` is not an IPv4 address or CIDR range (e.g. 127.1.0.0/16)");
        assert_eq!(msg("127.0.0.0/33"), "`127.0.0.0/33` is not an IPv4 address or CIDR range (e.g. 127.1.0.0/16)");
        assert_eq!(msg("lab"), "`lab` is not an IPv4 address or CIDR range (e.g. 127.1.0.0/16)");
    }

    #[test]
    fn validate_checks_ranges_built_by_hand() {
        let opts = |r: &str| ServeOptions {
            ranges: vec![IpNet::parse(r).expect("net")],
            port: 0,
            seed: 1,
            epoch: 0,
            bind: Bind::PerAddress,
        };
        assert_eq!(opts("127.2.0.0/24").validate().expect("loopback"), 256);
        assert!(matches!(opts("192.0.2.0/24").validate(), Err(ServeError::NotLoopback(_))));
        assert!(matches!(opts("::1").validate(), Err(ServeError::BadRange(_))));
        assert!(matches!(opts("127.0.0.0/8").validate(), Ok(n) if n == 1 << 24));
    }
}

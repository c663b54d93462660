use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// exhunt: the response toolkit for a mass compromise of Exchange servers (ProxyLogon and after).
#[derive(Debug, Parser)]
#[command(name = "exhunt", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect, validate and test the knowledge base (build catalog, IOC packs, rules)
    #[command(subcommand)]
    Kb(KbCommand),
    /// Hunt one server's evidence for exploitation, web shells and their use; a verdict, evidence and next steps
    Hunt(HuntArgs),
    /// The simulated world for tests, benchmarks and demos
    #[command(subcommand)]
    Lab(LabTop),
    /// Fingerprint Exchange servers with safe requests only (docs/scanning.md); observations as JSON Lines
    Scan(ScanArgs),
    /// Recompute fingerprints and verdicts from saved scan observations with the current knowledge base
    Detect(DetectArgs),
    /// The campaign: every scan run, host and ticket in one store (a SQLite file, or PostgreSQL)
    #[cfg(feature = "campaign")]
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Run the main job on built-in defaults: write a lab server's evidence (a used web shell) and hunt it, then
    /// scan a lab of 256 simulated hosts on loopback (started and stopped by the demo)
    Demo {
        /// Where to write the evidence and the report (default: a new folder under the system's temp folder)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The lab scenario: clean, probed, exploited, backdoored or used
        #[arg(long, default_value = "used")]
        scenario: String,
        #[arg(long, default_value_t = 2021)]
        seed: u64,
        /// Target size of the lab's logs
        #[arg(long, default_value = "20MB")]
        size: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Validate a knowledge-base folder (default: the built-in one) and print coded diagnostics
    Check {
        /// The folder to check (it holds `builds/`, `ioc/`, `rules/`)
        dir: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run every rule against its positive and negative samples; fail on any miss
    Test {
        /// The folder to test (default: the built-in knowledge base)
        dir: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Say, per build and chain, whether an Exchange build is vulnerable, fixed or indeterminate
    Verdict {
        /// Builds: `15.1.2176.9`, `15.01.2176.009`, `15.1.2176` (CU level) or `Version 15.1 (Build 2176.9)`
        #[arg(required = true, value_name = "BUILD")]
        builds: Vec<String>,
        #[command(flatten)]
        kb: KbArgs,
        #[command(flatten)]
        out: OutputArgs,
    },
}

#[derive(Debug, Args)]
pub struct KbArgs {
    /// Use this knowledge-base folder instead of the built-in one
    #[arg(long, value_name = "DIR")]
    pub kb: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format: table (for people) or jsonl (the JSON Lines envelope, for programs)
    #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "jsonl", "json"])]
    pub format: String,
    /// Same as `--format jsonl`
    #[arg(long)]
    pub json: bool,
}

impl OutputArgs {
    pub fn is_json(&self) -> bool {
        self.json || self.format != "table"
    }
}

/// Arguments of `exhunt hunt`.
#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Evidence of one host each: a triage folder (`C/…`, KAPE, Velociraptor), a `.zip` of one, or a drive root; a
    /// folder whose sub-folders or zips are such collections is one host per entry
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write a sorted timeline of every finding to this CSV file
    #[arg(long, value_name = "FILE.csv")]
    pub timeline: Option<PathBuf>,
    /// Write a self-contained HTML report to this file (one file per host when several are hunted)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// The host's name (default: the name in the logs, else the evidence folder's name); only with one PATH
    #[arg(long)]
    pub host: Option<String>,
    /// Start of the window of interest (RFC 3339 or YYYY-MM-DD)
    #[arg(long, default_value = "2020-12-01")]
    pub since: String,
    /// End of the window of interest (RFC 3339 or YYYY-MM-DD; default: now)
    #[arg(long)]
    pub until: Option<String>,
    /// Microsoft's known-good hash list(s) per build (CSV `SHA256,build,path`), a file or a folder of them
    #[arg(long, value_name = "FILE|DIR")]
    pub baseline: Vec<PathBuf>,
    /// Read each PATH as the root of this drive letter (a live root or a mounted image)
    #[arg(long, value_name = "LETTER")]
    pub drive: Option<char>,
    /// Also run the Sigma rules in this folder (recursively; SigmaHQ rules load unchanged, docs/sigma.md); repeatable
    #[arg(long, value_name = "DIR")]
    pub sigma: Vec<PathBuf>,
    /// Do not draw a progress bar
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub kb: KbArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `exhunt lab …`
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Write a synthetic Exchange triage folder with planted traces and `truth.jsonl`
    Evidence {
        /// The folder to create (must be new or empty)
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Target size of the logs: bytes, or with a unit (`20MB`, `1GB`)
        #[arg(long, default_value = "20MB")]
        size: String,
        /// clean, probed, exploited, backdoored or used
        #[arg(long, default_value = "used")]
        scenario: String,
        /// The host name to write into the logs
        #[arg(long)]
        host: Option<String>,
    },
    /// Write a campaign: many servers' triage folders attacked by several actor groups, with `campaign.jsonl`
    Campaign {
        /// The folder to create (must be new or empty); one `host-NN/` per server
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Servers
        #[arg(long, default_value_t = 8)]
        hosts: u32,
        /// Actor groups
        #[arg(long, default_value_t = 2)]
        groups: u32,
        /// Target size of each server's logs
        #[arg(long, default_value = "2MB")]
        size: String,
    },
}

/// `exhunt lab …`: the evidence commands and `serve`.
#[derive(Debug, Subcommand)]
pub enum LabTop {
    #[command(flatten)]
    Evidence(LabCommand),
    /// Answer HTTPS on many loopback addresses, each a simulated host (Exchange, IIS, nginx, honeypot, hostile)
    Serve(LabServeArgs),
    /// Compare a scan's observations of a lab with the lab's truth (the same --hosts, --port, --seed, --bind as
    /// `lab serve`); exit 1 when an address differs
    Compare(LabCompareArgs),
}

/// The simulated world of `exhunt lab serve` (and of `lab compare`, which must be given the same).
#[derive(Debug, Args)]
pub struct LabWorldArgs {
    /// Loopback ranges or addresses (inside 127.0.0.0/8), e.g. 127.1.0.0/16
    #[arg(long, required = true, value_name = "CIDR")]
    pub hosts: Vec<String>,
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The world's epoch: 0 at first; at each later one about half the vulnerable Exchange hosts are patched, and
    /// some of those keep their web shells
    #[arg(long, default_value_t = 0)]
    pub epoch: u32,
    /// auto, per-address (one listener per host) or loopback (one socket tied to `lo`)
    #[arg(long, default_value = "auto", value_parser = ["auto", "per-address", "loopback"])]
    pub bind: String,
}

/// Arguments of `exhunt lab serve`.
#[derive(Debug, Args)]
pub struct LabServeArgs {
    #[command(flatten)]
    pub world: LabWorldArgs,
    /// Write one JSON line of ground truth per host to this file
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

/// Arguments of `exhunt lab compare`.
#[derive(Debug, Args)]
pub struct LabCompareArgs {
    #[command(flatten)]
    pub world: LabWorldArgs,
    /// The scan's observations (`exhunt scan --out FILE`)
    #[arg(value_name = "OBSERVATIONS")]
    pub observations: PathBuf,
    /// The scan probed for web shells (`exhunt scan --webshells`): compare them too
    #[arg(long)]
    pub webshells: bool,
}

/// Arguments of `exhunt scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Addresses, CIDR ranges (IPv4, IPv6) and host names
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Ports: 443, 443,8443, 8440-8450
    #[arg(short = 'p', long = "ports", default_value = "443")]
    pub ports: String,
    /// A file of targets, one per line (`#` comments)
    #[arg(long, value_name = "FILE")]
    pub targets_file: Vec<PathBuf>,
    /// A file of addresses and CIDRs never to contact (added to the default blocklist)
    #[arg(long, value_name = "FILE")]
    pub exclude: Vec<PathBuf>,
    /// Lift the default blocklist of reserved and special-purpose ranges (RFC 6890); needed for the loopback lab
    #[arg(long)]
    pub allow_reserved: bool,
    /// New targets per second, all shards of this process together (0: no limit)
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Requests per second to one IP address, all its ports and targets together (0: no limit)
    #[arg(long, default_value_t = 20)]
    pub per_host_rate: u64,
    /// Targets in flight at once
    #[arg(long, default_value_t = 1000)]
    pub concurrency: usize,
    /// This process's shard, I/N with 0 <= I < N (zmap's convention); every shard needs the same `--seed`
    #[arg(long, default_value = "0/1")]
    pub shard: String,
    /// Seed of the permuted order (the same on every shard)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Append observations to this file (JSON Lines); default stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Continue the scan whose observations are in `--out`: nothing lost, nothing repeated
    #[arg(long)]
    pub resume: bool,
    /// Write the scan's metadata to this file (default: `metadata.json` in the folder of `--out`); shards that
    /// write to one folder need one each, and `--resume` needs the same again
    #[arg(long, value_name = "FILE", requires = "out")]
    pub metadata: Option<PathBuf>,
    /// Also probe the public web-shell paths, against a per-host soft-404 baseline (bare GETs only)
    #[arg(long)]
    pub webshells: bool,
    /// jsonl (observations) or shadowserver (Shadowserver `scan_exchange` CSV rows on stdout; with `--out` the
    /// observations still go to the file, and the CSV covers the whole file at the end)
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "shadowserver"])]
    pub format: String,
    /// Do not draw a progress bar
    #[arg(long)]
    pub no_progress: bool,
    /// Seconds to connect
    #[arg(long, default_value_t = 5.0)]
    pub connect_timeout: f64,
    /// Seconds for the TLS handshake
    #[arg(long, default_value_t = 5.0)]
    pub tls_timeout: f64,
    /// Seconds for a response head, and again for its body
    #[arg(long, default_value_t = 8.0)]
    pub read_timeout: f64,
    #[command(flatten)]
    pub kb: KbArgs,
}

/// Arguments of `exhunt detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Observations written by `exhunt scan`
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// jsonl (the observations with new fingerprints) or shadowserver (Shadowserver `scan_exchange` CSV rows)
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "shadowserver"])]
    pub format: String,
    #[command(flatten)]
    pub kb: KbArgs,
}

/// Where the campaign is.
#[cfg(feature = "campaign")]
#[derive(Debug, Args)]
pub struct DbArgs {
    /// A SQLite file (created when missing) or a `postgres://` URL
    #[arg(long, value_name = "DB", default_value = "exhunt-campaign.sqlite")]
    pub db: String,
}

/// `exhunt campaign …`.
#[cfg(feature = "campaign")]
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Ingest scan output (observations JSON Lines) into the campaign: runs, hosts, sightings, tickets
    Ingest {
        #[command(flatten)]
        db: DbArgs,
        /// What the files are: scan, hunt or shadowserver (default: told from their content)
        #[arg(long, value_parser = ["scan", "hunt", "shadowserver"])]
        kind: Option<String>,
        /// Lines per transaction
        #[arg(long, default_value_t = 2000, hide = true)]
        batch: usize,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Per run: Exchange hosts seen, vulnerable per chain, fixed, back doors, tickets opened and closed; the patch curve
    Status {
        #[command(flatten)]
        db: DbArgs,
        /// table (for people) or json
        #[arg(long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },
    /// List tickets (one per host and check: a vulnerable chain, a back door)
    Tickets {
        #[command(flatten)]
        db: DbArgs,
        /// open, closed or false-positive
        #[arg(long, value_parser = ["open", "closed", "false-positive"])]
        state: Option<String>,
        /// proxylogon, proxyshell, proxynotshell, backdoor or compromised
        #[arg(long = "check", value_parser = ["proxylogon", "proxyshell", "proxynotshell", "backdoor", "compromised"])]
        check: Option<String>,
        /// Only the tickets of this owner
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Mark an open ticket a false positive until a date; after it the ticket counts again
    Fp {
        #[command(flatten)]
        db: DbArgs,
        /// The ticket, as `exhunt campaign tickets` shows it (`192.0.2.7:443/proxylogon#0`)
        ticket: String,
        /// `YYYY-MM-DD` (UTC midnight) or an RFC 3339 time
        #[arg(long, required = true)]
        until: String,
        /// Why, for the record
        #[arg(long, required = true)]
        reason: String,
    },
}

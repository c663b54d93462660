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
    Lab(LabCommand),
    /// Run the main job on built-in defaults: write a lab server's evidence (a used web shell) and hunt it
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
    /// Evidence of one host each: a triage folder (`C/…`, KAPE, Velociraptor), a `.zip` of one, or a drive root
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
}

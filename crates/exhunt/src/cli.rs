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

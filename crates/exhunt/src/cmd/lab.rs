use crate::cli::{LabCommand, LabCompareArgs, LabServeArgs, LabWorldArgs};
use crate::exit::{Code, UsageError};
use exhunt_lab::{EvidenceOptions, Scenario};

pub fn run(cmd: LabCommand) -> anyhow::Result<Code> {
    match cmd {
        LabCommand::Evidence { dir, seed, size, scenario, host } => {
            let size = parse_size(&size)
                .ok_or_else(|| UsageError(format!("`{size}` is not a size: use bytes or 20MB, 1GB")))?;
            let scenario: Scenario = scenario.parse().map_err(|_| {
                UsageError(format!("unknown scenario `{scenario}`: use clean, probed, exploited, backdoored or used"))
            })?;
            let opts = EvidenceOptions { seed, size, scenario, host, actor: None };
            let s = exhunt_lab::generate(&dir, &opts).map_err(|e| UsageError(e.to_string()))?;
            eprintln!(
                "lab evidence: {} ({} scenario, seed {}): {} files, {} bytes of logs, {} planted traces; a correct hunt says `{}`; truth in {}",
                s.dir.display(),
                s.scenario,
                s.seed,
                s.files,
                s.log_bytes,
                s.expects,
                s.verdict,
                s.truth.display()
            );
            Ok(Code::Clean)
        }
        LabCommand::Campaign { dir, seed, hosts, groups, size } => {
            let size = parse_size(&size)
                .ok_or_else(|| UsageError(format!("`{size}` is not a size: use bytes or 20MB, 1GB")))?;
            let opts = exhunt_lab::CampaignOptions { seed, hosts, groups, size };
            let list = exhunt_lab::campaign(&dir, &opts).map_err(|e| UsageError(e.to_string()))?;
            let attacked = list.iter().filter(|h| h.group.is_some()).count();
            eprintln!(
                "lab campaign: {} servers in {} ({attacked} attacked by {groups} group(s)); who attacked which in {}",
                list.len(),
                dir.display(),
                dir.join("campaign.jsonl").display()
            );
            Ok(Code::Clean)
        }
    }
}

/// `exhunt lab serve`: the simulated hosts on loopback until Ctrl-C.
pub fn lab_serve(args: LabServeArgs) -> anyhow::Result<Code> {
    use exhunt_lab::serve::start;
    let opts = lab_world(&args.world)?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let lab = start(opts, exhunt_kb::Kb::builtin()).await.map_err(|e| UsageError(e.to_string()))?;
        if let Some(path) = &args.truth {
            let mut f = std::fs::File::create(path)?;
            lab.write_truth(&mut f)?;
        }
        eprintln!(
            "exhunt lab serve: {} hosts on port {} ({}); Ctrl-C stops",
            lab.addrs().count(),
            lab.port,
            if lab.loopback_socket { "one socket on the loopback interface" } else { "one listener per address" }
        );
        tokio::signal::ctrl_c().await?;
        lab.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Code::Clean)
}

/// The lab that `--hosts`, `--port`, `--seed` and `--bind` describe.
pub fn lab_world(w: &LabWorldArgs) -> anyhow::Result<exhunt_lab::serve::ServeOptions> {
    use exhunt_lab::serve::{Bind, ServeOptions, parse_range};
    let ranges =
        w.hosts.iter().map(|h| parse_range(h)).collect::<Result<Vec<_>, _>>().map_err(|e| UsageError(e.to_string()))?;
    let bind = match w.bind.as_str() {
        "per-address" => Bind::PerAddress,
        "loopback" => Bind::Loopback,
        _ => Bind::Auto,
    };
    let opts = ServeOptions { ranges, port: w.port, seed: w.seed, epoch: w.epoch, bind };
    opts.validate().map_err(|e| UsageError(e.to_string()))?;
    Ok(opts)
}

/// `exhunt lab compare`: how many addresses of the lab a scan saw otherwise than the lab's truth says, and what
/// differs for the first ten. Exit 1 when any differ.
pub fn compare(args: LabCompareArgs) -> anyhow::Result<Code> {
    let opts = lab_world(&args.world)?;
    let kb = exhunt_kb::Kb::builtin();
    let seen = read_observations(&args.observations)?;
    let c = exhunt_lab::serve::compare(opts.addrs().map(|a| (a, opts.truth_of(a, &kb))), &seen, args.webshells);
    println!("{}", summary(&c));
    Ok(if c.differ.is_empty() { Code::Clean } else { Code::Findings })
}

/// One line with the count, then the first ten addresses that differ with what differs (the observed values in
/// it were chosen by the server: escaped for the terminal).
pub fn summary(c: &exhunt_lab::serve::Comparison) -> String {
    let mut s = format!("{} of {} addresses differ from the lab's truth", c.differ.len(), c.hosts);
    for (a, d) in c.differ.iter().take(10) {
        s.push_str(&format!("\n  {a}: {}", exhunt_report::escape_terminal(&d.join("; "))));
    }
    s
}

/// The observations of a scan file by address (other records skipped, a line that is not a record an error).
pub fn read_observations(
    path: &std::path::Path,
) -> anyhow::Result<std::collections::HashMap<std::net::IpAddr, exhunt_model::Observation>> {
    use anyhow::Context as _;
    use std::io::BufRead as _;
    let f = std::fs::File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut seen = std::collections::HashMap::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read `{}`", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match exhunt_report::from_line::<exhunt_model::Observation>(&line) {
            Ok(Some(o)) => {
                seen.insert(o.ip, o);
            }
            Ok(None) => {}
            Err(e) => anyhow::bail!("{}:{}: {e}", path.display(), i + 1),
        }
    }
    Ok(seen)
}

/// `123`, `20MB`, `1GB`, `512KiB` (decimal and binary units, case-insensitive).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let i = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(i);
    let n: u64 = n.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("20MB"), Some(20_000_000));
        assert_eq!(super::parse_size("1GiB"), Some(1 << 30));
        assert_eq!(super::parse_size("123"), Some(123));
        assert_eq!(super::parse_size("x"), None);
    }
}

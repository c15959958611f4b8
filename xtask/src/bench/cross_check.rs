//! `cargo xtask bench --cross-check`: our load generator and `wrk` against the same upstream,
//! at the same concurrency, one after the other, so that a bias of our generator shows as a
//! disagreement with a tool people already trust.
//!
//! `wrk` is a closed-loop generator, so the comparison is with our closed loop: throughput and
//! the latency percentiles of back-to-back requests on 16 connections.

use std::{process::Command, time::Duration};

use anyhow::{Context as _, bail};

use super::{
    CONNECTIONS, MAX_REQUESTS_PER_RUN,
    load::{self, LoadSpec, Mode, client::Protocol},
    upstream::Upstream,
};

/// What `wrk` measured: requests per second and its latency percentiles as it prints them.
#[derive(Clone, Debug, PartialEq)]
pub struct WrkFigures {
    /// `Requests/sec:`.
    pub rps: f64,
    /// The `Latency Distribution` lines (`50%`, `75%`, `90%`, `99%`), as printed.
    pub percentiles: Vec<(String, String)>,
}

/// Runs both generators for `seconds` each against an in-process upstream and prints the
/// figures side by side.
pub fn run(seconds: u64) -> anyhow::Result<()> {
    let upstream = Upstream::start(None)?;
    let duration = Duration::from_secs(seconds.max(1));
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{}s", duration.as_secs()),
            "--latency",
            &format!("http://{}/", upstream.http),
        ])
        .output()
        .context("running wrk (apt-get install wrk)")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let wrk = parse_wrk(&String::from_utf8_lossy(&output.stdout))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(load::run(&LoadSpec {
        target: upstream.http,
        protocol: Protocol::Http1,
        mode: Mode::Closed {
            connections: CONNECTIONS,
        },
        duration,
        max_requests: MAX_REQUESTS_PER_RUN,
    }))?;
    let ours = outcome.latencies.percentiles();
    let rps = outcome.requests as f64 / outcome.elapsed.as_secs_f64().max(f64::EPSILON);
    println!("HTTP/1.1, closed loop, {CONNECTIONS} connections, {seconds} s each, same upstream");
    println!("wrk:   {:.0} rps, latency {:?}", wrk.rps, wrk.percentiles);
    println!(
        "xtask: {rps:.0} rps, latency p50 {} µs, p90 {} µs, p99 {} µs, max {} µs, {} errors",
        ours.p50_us, ours.p90_us, ours.p99_us, ours.max_us, outcome.errors
    );
    Ok(())
}

/// The figures of `wrk --latency`'s output.
pub fn parse_wrk(output: &str) -> anyhow::Result<WrkFigures> {
    let rps = output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .context("no Requests/sec in wrk's output")?
        .trim()
        .parse()
        .context("wrk's Requests/sec is not a number")?;
    let percentiles = output
        .lines()
        .skip_while(|line| !line.contains("Latency Distribution"))
        .skip(1)
        .map_while(|line| {
            let mut words = line.split_whitespace();
            let percentile = words.next().filter(|word| word.ends_with('%'))?;
            Some((percentile.to_owned(), words.next()?.to_owned()))
        })
        .collect();
    Ok(WrkFigures { rps, percentiles })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_latency_output() {
        let output = "\
Running 2s test @ http://127.0.0.1:40000/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   712.35us  201.10us   5.01ms   80.12%
    Req/Sec    21.90k     1.02k   23.11k    70.00%
  Latency Distribution
     50%  690.00us
     75%  801.00us
     90%    0.93ms
     99%    1.52ms
  43612 requests in 2.00s, 4.33MB read
Requests/sec:  21805.52
Transfer/sec:      2.16MB
";
        let figures = parse_wrk(output).unwrap();
        assert_eq!(figures.rps, 21805.52);
        let expected: Vec<(String, String)> = [
            ("50%", "690.00us"),
            ("75%", "801.00us"),
            ("90%", "0.93ms"),
            ("99%", "1.52ms"),
        ]
        .iter()
        .map(|(p, v)| (p.to_string(), v.to_string()))
        .collect();
        assert_eq!(figures.percentiles, expected);
        assert_eq!(
            parse_wrk("nothing").unwrap_err().to_string(),
            "no Requests/sec in wrk's output"
        );
    }
}

//! W3 of `bench/run`: the whole seeds' flow as fast as it goes. Each of
//! CONCURRENCY loops (its own login session) repeats, for SECONDS: consent
//! page, create-code, token exchange. Prints one `key=value` line.
//!
//! ```text
//! bench_flow BASE DIR [CONCURRENCY=64] [SECONDS=10]
//! ```
//!
//! DIR holds bench_seed's `seed.env` and, when `bench_seed sessions` made
//! it, `sessions` (one session per loop; otherwise the loops log in first).

#[path = "bench_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::fail;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(base), Some(dir)) = (args.first(), args.get(1)) else {
        fail("usage: bench_flow BASE DIR [CONCURRENCY] [SECONDS]");
    };
    let concurrency: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(64);
    let seconds: f64 = args.get(3).and_then(|v| v.trim_end_matches('s').parse().ok()).unwrap_or(10.0);
    let env = Arc::new(support::read_env(dir.as_ref()));
    let http = support::http(concurrency);
    let made: Vec<String> = std::fs::read_to_string(std::path::Path::new(dir).join("sessions"))
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    let sessions = if made.len() >= concurrency {
        made[..concurrency].to_vec()
    } else {
        support::logins(&http, base, &env["USERNAME"], concurrency).await
    };

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|cookie| {
            let (http, base, env) = (http.clone(), base.clone(), env.clone());
            tokio::spawn(async move {
                let (mut lat_us, mut errors) = (Vec::with_capacity(4096), 0usize);
                // Bounded by time (and by a generous count, should the clock misbehave).
                for _ in 0..10_000_000u64 {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let t = Instant::now();
                    let outcome = match support::new_code(&http, &base, &cookie, &env["CLIENT_ID"]).await {
                        Ok(code) => support::exchange(&http, &base, &env, &code).await.map_err(|e| e.to_string()),
                        Err(e) => Err(e),
                    };
                    match outcome {
                        Ok(_) => lat_us.push(t.elapsed().as_micros() as u64),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("bench_flow: first error: {e}");
                            }
                            errors += 1;
                        }
                    }
                }
                (lat_us, errors)
            })
        })
        .collect();
    let (mut lat, errors) = support::gather(tasks).await;
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!(
        "flows={} rate={:.1} p50_ms={:.2} p99_ms={:.2} errors={errors} seconds={elapsed:.2}",
        lat.len(),
        lat.len() as f64 / elapsed,
        support::quantile_ms(&lat, 0.50),
        support::quantile_ms(&lat, 0.99),
    );
}

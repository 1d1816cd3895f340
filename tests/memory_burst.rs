//! The burst scenario of issue 11, alone in its process so that its RSS is its own: 24
//! asynchronous batches of 2 × 512K floats in flight at once, then 50 blocking batches that
//! each need one slab. On lavapipe GPU memory is host memory, so RSS shows what the
//! executor holds: with a cap on idle memory it falls back after the burst.
//!
//! `GPU_EXECUTOR_BURST_CAP=<bytes>` (`max` for no cap) runs it under another cap and only
//! prints the figures; `-- --nocapture` shows them.

mod common;

use common::c_api::{create, destroy, last_error, stats, submit, submit_async, tasks, wait};
use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::ffi::*;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    kib as f64 / 1024.0
}

fn ok(status: gpu_executor_status_t) {
    assert_eq!(
        status,
        gpu_executor_status_t::GPU_EXECUTOR_OK,
        "{}",
        last_error()
    );
}

#[test]
fn rss_falls_back_after_a_burst_of_async_batches() {
    const DEFAULT_CAP: u64 = 64 << 20;
    let custom = std::env::var("GPU_EXECUTOR_BURST_CAP").ok();
    let cap = match custom.as_deref() {
        None => DEFAULT_CAP,
        Some("max") => u64::MAX,
        Some(v) => v
            .parse()
            .expect("GPU_EXECUTOR_BURST_CAP: a byte count or max"),
    };
    let options = gpu_executor_options_t {
        max_idle_bytes: cap,
        ..gpu_executor_options_default()
    };
    let exec = create(&options);
    let mut rng = Rng::new(31);
    let n = 512 << 10;
    // The same inputs for every batch: the host data is not what is measured.
    let cases: Vec<Case> = (0..2).map(|_| Case::random(&mut rng, n)).collect();
    let mut outs: Vec<Vec<Vec<f32>>> = (0..24)
        .map(|_| cases.iter().map(|_| poisoned(n)).collect())
        .collect();
    // Warm: pipelines compiled, host buffers touched.
    let mut warm: Vec<Vec<f32>> = cases.iter().map(|_| poisoned(n)).collect();
    ok(submit(exec, &tasks(&cases, &mut warm)));
    for out in &mut outs {
        out.iter_mut().for_each(|o| o.fill(f32::NAN));
    }
    let start = rss_mib();

    let mut tickets = Vec::new();
    for out in outs.iter_mut() {
        let (status, ticket) = submit_async(exec, &tasks(&cases, out));
        ok(status);
        tickets.push(ticket);
    }
    let in_flight = stats(exec).in_flight_bytes;
    let peak = rss_mib();
    for ticket in tickets {
        ok(wait(exec, ticket, u64::MAX));
        assert!(stats(exec).idle_bytes <= cap);
    }
    for out in &outs {
        for (c, o) in cases.iter().zip(out) {
            assert_matches(o, &c.expected, "burst");
        }
    }
    let after_burst = stats(exec);
    // 50 later batches that each need one slab.
    let one = &cases[..1];
    for i in 0..50 {
        let mut out = vec![poisoned(n)];
        ok(submit(exec, &tasks(one, &mut out)));
        assert_matches(&out[0], &one[0].expected, &format!("later batch {i}"));
        assert!(stats(exec).idle_bytes <= cap);
    }
    let end = rss_mib();
    let s = stats(exec);
    println!(
        "burst, max_idle_bytes {cap}: RSS {start:.1} MiB before, {peak:.1} MiB with 24 batches in flight ({} bytes), {end:.1} MiB after 50 later batches; idle bytes {} after the burst, {} at the end; evicted {} bytes",
        in_flight, after_burst.idle_bytes, s.idle_bytes, s.evicted_bytes
    );
    if custom.is_none() {
        assert!(in_flight > 24 * 12 * n as u64, "{in_flight}");
        assert!(s.evicted_bytes >= in_flight - cap);
        // The burst's memory beyond the cap went back: RSS fell by at least half of what the
        // burst added.
        assert!(
            end < peak - (peak - start) / 2.0,
            "RSS {start:.1} -> {peak:.1} -> {end:.1} MiB"
        );
    }
    destroy(exec);
}

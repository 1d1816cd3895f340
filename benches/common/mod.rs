//! Shared code of the `gpu_multi_task_*` benches: workloads, the interleaved runner,
//! statistics, the JSON-lines writer and the printed tables.
//!
//! Every workload gets fresh executors (so its first batch is really cold), random inputs
//! drawn from a seeded pool, and per iteration: one timed CPU reference (`a + b` in a plain
//! loop), then one timed batch per GPU strategy, in alternating order so that drift and
//! order effects cancel. Outputs are poisoned with NaN before each batch and compared bit
//! for bit with the CPU reference after it, outside the timed region.
//!
//! Environment:
//! - `GPU_BENCH_QUICK=1`: tiny sizes, three iterations per workload (a smoke test).
//! - `GPU_BENCH_OUT=path`: where the JSON lines go (default `target/gpu-bench/<bench>.jsonl`).
//! - `GPU_BENCH_BUDGET_S`: seconds of wall time per workload once its minimum iterations ran
//!   (default 3; scales every workload's budget).
//! - `GPU_BENCH_MIN_ITERS`, `GPU_BENCH_MAX_ITERS`: override the per-workload iteration bounds.
//! - `GPU_BENCH_WORKLOADS`: comma-separated workload or group names to run (also taken from
//!   the command line); default all.
//! - `GPU_BENCH_INTERLEAVE=0|1`: run the other strategy interleaved (each bench has its default).
//! - `GPU_BENCH_SEED`: seed of the random inputs and batch shapes (default 42).
//! - `GPU_BENCH_LABEL`: free text stored in the results' meta line (e.g. the commit).
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use gpu_executor::{Config, Executor, Stats, Strategy, Task};

/// Bytes moved per element of `a + b`: two f32 in, one out.
pub const BYTES_PER_ELEMENT: f64 = 12.0;

// ---------------------------------------------------------------------------------------
// Random numbers

/// xorshift64*: deterministic, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [-100, 100), exactly representable, never denormal.
    pub fn f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 200.0 - 100.0
    }

    /// Uniform integer in [lo, hi].
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Log-uniform integer in [lo, hi]: every power of two is about equally likely.
    /// Uses the same log2/exp2 as `c_examples/gpu_bench.c`, so both draw the same batches.
    pub fn log_uniform(&mut self, lo: usize, hi: usize) -> usize {
        let (l, h) = (log2_approx(lo as f64), log2_approx(hi as f64));
        let n = (exp2_approx(l + (h - l) * self.unit()) + 0.5) as usize;
        n.clamp(lo, hi)
    }
}

/// log2 by range reduction and the atanh series (mirrors the C bench, which has no libm).
fn log2_approx(x: f64) -> f64 {
    let (mut e, mut m) = (0.0, x);
    while m >= 2.0 {
        m /= 2.0;
        e += 1.0;
    }
    while m < 1.0 {
        m *= 2.0;
        e -= 1.0;
    }
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let (mut sum, mut term) = (0.0, z);
    let mut k = 1;
    while k < 40 {
        sum += term / f64::from(k);
        term *= z2;
        k += 2;
    }
    e + 2.0 * sum / std::f64::consts::LN_2
}

/// 2^x by splitting off the integer part and a Taylor series (mirrors the C bench).
fn exp2_approx(x: f64) -> f64 {
    let mut i = (x as i64) as f64;
    if i > x {
        i -= 1.0;
    }
    let f = (x - i) * std::f64::consts::LN_2;
    let (mut y, mut term) = (1.0, 1.0);
    for k in 1..25 {
        term *= f / f64::from(k);
        y += term;
    }
    while i > 0.0 {
        y *= 2.0;
        i -= 1.0;
    }
    while i < 0.0 {
        y /= 2.0;
        i += 1.0;
    }
    y
}

// ---------------------------------------------------------------------------------------
// Workloads

/// How a workload's batches look.
#[derive(Clone, Debug)]
pub enum Shape {
    /// The same task sizes every iteration.
    Fixed(Vec<usize>),
    /// A fresh batch each iteration: task count uniform in `tasks`, sizes log-uniform in
    /// `sizes` (both inclusive).
    Random {
        tasks: (usize, usize),
        sizes: (usize, usize),
    },
}

impl Shape {
    fn draw(&self, rng: &mut Rng) -> Vec<usize> {
        match self {
            Shape::Fixed(sizes) => sizes.clone(),
            Shape::Random { tasks, sizes } => {
                let count = rng.range(tasks.0, tasks.1);
                (0..count)
                    .map(|_| rng.log_uniform(sizes.0, sizes.1))
                    .collect()
            }
        }
    }

    /// Largest single task.
    fn max_task(&self) -> usize {
        match self {
            Shape::Fixed(sizes) => sizes.iter().copied().max().unwrap_or(0),
            Shape::Random { sizes, .. } => sizes.1,
        }
    }

    /// Most elements one batch can hold.
    fn max_total(&self) -> usize {
        match self {
            Shape::Fixed(sizes) => sizes.iter().sum(),
            Shape::Random { tasks, sizes } => tasks.1 * sizes.1,
        }
    }

    /// Task size when every task has the same size.
    fn uniform_size(&self) -> Option<usize> {
        match self {
            Shape::Fixed(sizes) if !sizes.is_empty() && sizes.iter().all(|&n| n == sizes[0]) => {
                Some(sizes[0])
            }
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Shape::Fixed(sizes) => match self.uniform_size() {
                Some(n) => format!("{} x {}", sizes.len(), n),
                None => format!(
                    "{} tasks, sizes {}..{} (fixed)",
                    sizes.len(),
                    sizes.iter().min().unwrap_or(&0),
                    sizes.iter().max().unwrap_or(&0)
                ),
            },
            Shape::Random { tasks, sizes } => format!(
                "{}..{} tasks, sizes {}..{} (drawn per batch)",
                tasks.0, tasks.1, sizes.0, sizes.1
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: String,
    /// small, large, steady, tiny, big, ref, sweep.
    pub group: &'static str,
    pub shape: Shape,
    pub min_iters: usize,
    pub max_iters: usize,
    /// Seconds after which no further iteration starts (once `min_iters` ran).
    pub budget_s: f64,
}

/// The seed's expected improvement of BUCKETED over BASELINE (fraction of the batch time
/// saved), per workload group.
pub fn expected_improvement(group: &str) -> Option<(f64, f64)> {
    match group {
        "small" => Some((0.05, 0.15)),
        "large" => Some((0.10, 0.25)),
        "steady" => Some((0.20, 0.40)),
        _ => None,
    }
}

fn fixed(count: usize, n: usize) -> Shape {
    Shape::Fixed(vec![n; count])
}

fn size_label(n: usize) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{}Mi", n >> 20)
    } else if n >= 1_000_000 && n % 1_000_000 == 0 {
        format!("{}M", n / 1_000_000)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 && n % 1000 != 0 {
        format!("{}Ki", n >> 10)
    } else if n >= 1000 && n % 1000 == 0 {
        format!("{}K", n / 1000)
    } else {
        n.to_string()
    }
}

/// Every workload, in run order. `quick` shrinks sizes and counts for a smoke run.
pub fn workloads(quick: bool, seed: u64, budget_scale: f64) -> Vec<Workload> {
    let w = |name: String, group, shape, min_iters, budget_s: f64| Workload {
        name,
        group,
        shape,
        min_iters,
        max_iters: 2000,
        budget_s: budget_s * budget_scale,
    };
    // The steady batch: drawn once, then repeated unchanged.
    let steady_sizes = |count: usize, lo: usize, hi: usize| {
        let mut rng = Rng::new(seed ^ 0x0057_EAD7);
        Shape::Fixed((0..count).map(|_| rng.log_uniform(lo, hi)).collect())
    };
    if quick {
        let mut list = vec![
            w(
                "small".into(),
                "small",
                Shape::Random {
                    tasks: (2, 10),
                    sizes: (1000, 16_384),
                },
                3,
                0.0,
            ),
            w(
                "large".into(),
                "large",
                Shape::Random {
                    tasks: (20, 40),
                    sizes: (1000, 65_536),
                },
                3,
                0.0,
            ),
            w(
                "steady".into(),
                "steady",
                steady_sizes(16, 1000, 65_536),
                4,
                0.0,
            ),
            w("tiny_100x4096".into(), "tiny", fixed(100, 4096), 3, 0.0),
            w("big_1x256Ki".into(), "big", fixed(1, 1 << 18), 3, 0.0),
        ];
        for n in [1024, 65_536] {
            list.push(w(
                format!("sweep_4x{}", size_label(n)),
                "sweep",
                fixed(4, n),
                3,
                0.0,
            ));
        }
        for w in &mut list {
            w.max_iters = w.min_iters;
        }
        return list;
    }
    let mut list = vec![
        w(
            "small".into(),
            "small",
            Shape::Random {
                tasks: (2, 10),
                sizes: (1000, 1_000_000),
            },
            20,
            3.0,
        ),
        w(
            "large".into(),
            "large",
            Shape::Random {
                tasks: (100, 1000),
                sizes: (1000, 131_072),
            },
            6,
            4.0,
        ),
        w(
            "steady".into(),
            "steady",
            steady_sizes(64, 1000, 262_144),
            40,
            3.0,
        ),
        // The design doc's four reference workloads; 1000 x 4096 is also the seed's "tiny"
        // and 1 x 16Mi its "big".
        w("tiny_1000x4096".into(), "tiny", fixed(1000, 4096), 6, 3.0),
        w("ref_100x100K".into(), "ref", fixed(100, 100_000), 6, 3.0),
        w("ref_10x1M".into(), "ref", fixed(10, 1_000_000), 10, 2.0),
        w("big_1x16Mi".into(), "big", fixed(1, 1 << 24), 10, 3.0),
    ];
    // Uniform batches of eight tasks over the size range: the chart's x axis.
    for n in [1024, 4096, 16_384, 65_536, 262_144, 1 << 20, 1 << 22] {
        list.push(w(
            format!("sweep_8x{}", size_label(n)),
            "sweep",
            fixed(8, n),
            8,
            1.0,
        ));
    }
    list
}

// ---------------------------------------------------------------------------------------
// Options

pub struct Options {
    pub bench: &'static str,
    pub primary: Strategy,
    pub interleave: bool,
    pub quick: bool,
    pub out: PathBuf,
    pub seed: u64,
    pub budget_scale: f64,
    pub min_iters: Option<usize>,
    pub max_iters: Option<usize>,
    pub filter: Vec<String>,
}

fn env_flag(name: &str) -> Option<bool> {
    std::env::var(name)
        .ok()
        .map(|v| !matches!(v.trim(), "" | "0" | "false" | "no" | "off"))
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(x) => Some(x),
        Err(_) => {
            eprintln!("ignoring {name}={v:?}: not a number");
            None
        }
    }
}

impl Options {
    pub fn from_env(bench: &'static str, primary: Strategy, interleave_default: bool) -> Self {
        let out = std::env::var_os("GPU_BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let dir = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
                dir.join("gpu-bench").join(format!("{bench}.jsonl"))
            });
        let mut filter: Vec<String> = std::env::var("GPU_BENCH_WORKLOADS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        // `cargo bench` passes `--bench`; anything else not starting with '-' is a filter.
        filter.extend(std::env::args().skip(1).filter(|a| !a.starts_with('-')));
        Self {
            bench,
            primary,
            interleave: env_flag("GPU_BENCH_INTERLEAVE").unwrap_or(interleave_default),
            quick: env_flag("GPU_BENCH_QUICK").unwrap_or(false),
            out,
            seed: env_num("GPU_BENCH_SEED").unwrap_or(42),
            budget_scale: env_num::<f64>("GPU_BENCH_BUDGET_S").map_or(1.0, |s| s / 3.0),
            min_iters: env_num("GPU_BENCH_MIN_ITERS"),
            max_iters: env_num("GPU_BENCH_MAX_ITERS"),
            filter,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measurements

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    Gpu(Strategy),
    /// The plain CPU loop that also produces the reference.
    Cpu,
}

impl Runner {
    pub fn name(self) -> &'static str {
        match self {
            Runner::Gpu(Strategy::Baseline) => "baseline",
            Runner::Gpu(Strategy::Bucketed) => "bucketed",
            Runner::Cpu => "cpu",
        }
    }
}

/// Object-creation and traffic counters of one batch (differences of `Stats`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub pipelines: u64,
    pub buffers: u64,
    pub bind_groups: u64,
    pub submits: u64,
    pub dispatches: u64,
    pub pool_hits: u64,
    pub pool_misses: u64,
    pub exact_hits: u64,
    pub exact_misses: u64,
    /// Phase times of the batch (from `Stats`): host copies in, encode + submit, GPU wait,
    /// host copies out; `setup_ns` is the rest of the measured batch time (validation,
    /// planning, creating or taking pipelines, buffers and bind groups, releasing them).
    pub upload_ns: u64,
    pub submit_ns: u64,
    pub wait_ns: u64,
    pub download_ns: u64,
    pub setup_ns: u64,
}

impl Counters {
    fn between(before: &Stats, after: &Stats) -> Self {
        Self {
            pipelines: after.pipelines_created - before.pipelines_created,
            buffers: after.buffers_created - before.buffers_created,
            bind_groups: after.bind_groups_created - before.bind_groups_created,
            submits: after.submits - before.submits,
            dispatches: after.dispatches - before.dispatches,
            pool_hits: after.pool_hits - before.pool_hits,
            pool_misses: after.pool_misses - before.pool_misses,
            exact_hits: after.exact_cache_hits - before.exact_cache_hits,
            exact_misses: after.exact_cache_misses - before.exact_cache_misses,
            upload_ns: after.upload_ns - before.upload_ns,
            submit_ns: after.submit_ns - before.submit_ns,
            wait_ns: after.wait_ns - before.wait_ns,
            download_ns: after.download_ns - before.download_ns,
            setup_ns: 0,
        }
    }

    /// Fills `setup_ns` from the measured batch time.
    fn with_setup(mut self, seconds: f64) -> Self {
        let phases = self.upload_ns + self.submit_ns + self.wait_ns + self.download_ns;
        self.setup_ns = ((seconds * 1e9) as u64).saturating_sub(phases);
        self
    }

    fn fields(&self) -> [(&'static str, u64); 14] {
        [
            ("pipelines", self.pipelines),
            ("buffers", self.buffers),
            ("bind_groups", self.bind_groups),
            ("submits", self.submits),
            ("dispatches", self.dispatches),
            ("pool_hits", self.pool_hits),
            ("pool_misses", self.pool_misses),
            ("exact_hits", self.exact_hits),
            ("exact_misses", self.exact_misses),
            ("setup_ns", self.setup_ns),
            ("upload_ns", self.upload_ns),
            ("submit_ns", self.submit_ns),
            ("wait_ns", self.wait_ns),
            ("download_ns", self.download_ns),
        ]
    }
}

#[derive(Clone, Debug)]
pub struct Sample {
    pub iter: usize,
    pub tasks: usize,
    pub elements: usize,
    pub seconds: f64,
    pub counters: Counters,
}

/// Linear-interpolated quantile of sorted data.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

#[derive(Clone, Debug, Default)]
pub struct Spread {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.into_iter().collect();
        v.sort_by(f64::total_cmp);
        Self {
            median: quantile(&v, 0.5),
            p10: quantile(&v, 0.1),
            p90: quantile(&v, 0.9),
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn json(&self, out: &mut String, key: &str) {
        let _ = write!(
            out,
            ",\"{key}\":{{\"median\":{},\"p10\":{},\"p90\":{},\"min\":{},\"max\":{}}}",
            num(self.median),
            num(self.p10),
            num(self.p90),
            num(self.min),
            num(self.max)
        );
    }
}

/// One strategy's results on one workload.
pub struct Summary {
    pub runner: Runner,
    pub cold: Option<Sample>,
    pub warm: Vec<Sample>,
    pub batch: Spread,
    pub per_task: Spread,
    pub gbps: Spread,
    /// Counters per warm batch (means).
    pub per_batch: [(&'static str, f64); 14],
    pub mean_tasks: f64,
    pub mean_elements: f64,
}

impl Summary {
    fn new(runner: Runner, samples: &[Sample]) -> Self {
        let cold = samples.first().cloned();
        let warm: Vec<Sample> = samples.iter().skip(1).cloned().collect();
        let count = warm.len().max(1) as f64;
        let mut per_batch = Counters::default().fields().map(|(k, _)| (k, 0.0));
        for s in &warm {
            for (slot, (_, v)) in per_batch.iter_mut().zip(s.counters.fields()) {
                slot.1 += v as f64 / count;
            }
        }
        Self {
            runner,
            batch: Spread::of(warm.iter().map(|s| s.seconds)),
            per_task: Spread::of(warm.iter().map(|s| s.seconds / s.tasks.max(1) as f64)),
            gbps: Spread::of(
                warm.iter()
                    .map(|s| BYTES_PER_ELEMENT * s.elements as f64 / s.seconds / 1e9),
            ),
            per_batch,
            mean_tasks: warm.iter().map(|s| s.tasks as f64).sum::<f64>() / count,
            mean_elements: warm.iter().map(|s| s.elements as f64).sum::<f64>() / count,
            cold,
            warm,
        }
    }

    fn counter(&self, key: &str) -> f64 {
        self.per_batch
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(f64::NAN, |(_, v)| *v)
    }
}

/// BASELINE against BUCKETED on one workload, from the same interleaved iterations.
pub struct Comparison {
    pub baseline_median: f64,
    pub bucketed_median: f64,
    /// Median over iterations of bucketed / baseline (paired: same batch, same moment).
    pub paired_ratio: Spread,
    pub improvement: f64,
    pub expected: Option<(f64, f64)>,
    pub verdict: &'static str,
}

impl Comparison {
    fn new(group: &str, baseline: &Summary, bucketed: &Summary) -> Self {
        let paired_ratio = Spread::of(
            baseline
                .warm
                .iter()
                .zip(&bucketed.warm)
                .map(|(b, k)| k.seconds / b.seconds),
        );
        let improvement = 1.0 - paired_ratio.median;
        let expected = expected_improvement(group);
        let verdict = match expected {
            None => "-",
            Some((lo, _)) if improvement < lo => "below",
            Some((_, hi)) if improvement > hi => "exceeds",
            Some(_) => "within",
        };
        Self {
            baseline_median: baseline.batch.median,
            bucketed_median: bucketed.batch.median,
            paired_ratio,
            improvement,
            expected,
            verdict,
        }
    }
}

// ---------------------------------------------------------------------------------------
// JSON helpers

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:e}")
    } else {
        "null".into()
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// UTC date and time, ISO 8601, from the system clock (no date crate needed).
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

struct Sink {
    file: Option<std::io::BufWriter<std::fs::File>>,
    common: String,
}

impl Sink {
    fn open(options: &Options, common: String) -> Self {
        if let Some(dir) = options.out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = match std::fs::File::create(&options.out) {
            Ok(f) => Some(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("cannot write {}: {e}", options.out.display());
                None
            }
        };
        Self { file, common }
    }

    fn line(&mut self, kind: &str, body: &str) {
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{{\"type\":\"{kind}\",{}{body}}}", self.common);
        }
    }

    fn flush(&mut self) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running

/// Input pools the tasks slice from (at random offsets), so consecutive tasks and batches
/// read different data.
struct Pool {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Pool {
    fn new(len: usize, rng: &mut Rng) -> Self {
        Self {
            a: (0..len).map(|_| rng.f32()).collect(),
            b: (0..len).map(|_| rng.f32()).collect(),
        }
    }
}

/// The timed CPU reference: `out = a + b` per task in a plain loop.
fn cpu_reference(pool: &Pool, sizes: &[usize], offsets: &[usize], out: &mut [f32]) -> f64 {
    let start = Instant::now();
    let mut at = 0;
    for (&n, &off) in sizes.iter().zip(offsets) {
        let (a, b) = (&pool.a[off..off + n], &pool.b[off..off + n]);
        for ((o, x), y) in out[at..at + n].iter_mut().zip(a).zip(b) {
            *o = x + y;
        }
        at += n;
    }
    std::hint::black_box(&mut *out);
    start.elapsed().as_secs_f64()
}

/// Runs one batch on `exec`; returns its wall time and counters.
fn gpu_batch(
    exec: &mut Executor,
    pool: &Pool,
    sizes: &[usize],
    offsets: &[usize],
    out: &mut [f32],
) -> gpu_executor::Result<(f64, Counters)> {
    let mut tasks = Vec::with_capacity(sizes.len());
    let mut rest = out;
    for (&n, &off) in sizes.iter().zip(offsets) {
        let (head, tail) = rest.split_at_mut(n);
        rest = tail;
        tasks.push(Task::vector_add(
            &pool.a[off..off + n],
            &pool.b[off..off + n],
            head,
        ));
    }
    let before = exec.stats();
    let start = Instant::now();
    exec.submit(&mut tasks)?;
    let seconds = start.elapsed().as_secs_f64();
    drop(tasks);
    Ok((
        seconds,
        Counters::between(&before, &exec.stats()).with_setup(seconds),
    ))
}

/// Number of elements whose bits differ from the reference.
fn mismatches(got: &[f32], want: &[f32]) -> usize {
    got.iter()
        .zip(want)
        .filter(|(g, w)| g.to_bits() != w.to_bits())
        .count()
}

fn open_executor(strategy: Strategy) -> Executor {
    match Executor::new(Config {
        strategy,
        ..Default::default()
    }) {
        Ok(exec) => exec,
        Err(e) => {
            eprintln!("cannot create a {strategy:?} executor: {e:?}");
            std::process::exit(2);
        }
    }
}

struct WorkloadResult {
    workload: Workload,
    summaries: Vec<Summary>,
    comparison: Option<Comparison>,
}

/// Runs the bench: every selected workload, every runner interleaved; prints the tables,
/// writes the JSON lines and exits nonzero when any output differed from the reference.
pub fn main(options: Options) {
    let mut list = workloads(
        options.quick,
        options.seed,
        if options.quick {
            0.0
        } else {
            options.budget_scale
        },
    );
    if !options.filter.is_empty() {
        list.retain(|w| options.filter.iter().any(|f| *f == w.name || *f == w.group));
    }
    for w in &mut list {
        if let Some(m) = options.min_iters {
            w.min_iters = m.max(2);
        }
        if let Some(m) = options.max_iters {
            w.max_iters = m.max(2);
        }
        w.max_iters = w.max_iters.max(w.min_iters);
    }
    let mut gpu_runners = vec![options.primary];
    if options.interleave {
        gpu_runners.push(match options.primary {
            Strategy::Baseline => Strategy::Bucketed,
            Strategy::Bucketed => Strategy::Baseline,
        });
    }

    // One probe executor for the adapter description.
    let probe = open_executor(options.primary);
    let info = probe.adapter_info().clone();
    drop(probe);
    let run_id = format!(
        "{}-{}-{}",
        options.bench,
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        std::process::id()
    );
    let date = utc_now();
    let common = format!(
        "\"bench\":{},\"run_id\":{},\"primary\":{},\"quick\":{},",
        json_str(options.bench),
        json_str(&run_id),
        json_str(Runner::Gpu(options.primary).name()),
        options.quick
    );
    let mut sink = Sink::open(&options, common);
    let adapter_desc = format!(
        "{} ({:?}, {:?}), driver {} {}",
        info.name, info.backend, info.device_type, info.driver, info.driver_info
    );
    let runner_names: Vec<String> = gpu_runners
        .iter()
        .map(|&s| json_str(Runner::Gpu(s).name()))
        .collect();
    sink.line(
        "meta",
        &format!(
            "\"date\":{},\"label\":{},\"adapter\":{},\"backend\":{},\"device_type\":{},\"driver\":{},\"driver_info\":{},\"vendor\":{},\"device\":{},\"strategies\":[{}],\"interleaved\":{},\"seed\":{},\"budget_scale\":{},\"host_threads\":{}",
            json_str(&date),
            json_str(&std::env::var("GPU_BENCH_LABEL").unwrap_or_default()),
            json_str(&info.name),
            json_str(&format!("{:?}", info.backend)),
            json_str(&format!("{:?}", info.device_type)),
            json_str(&info.driver),
            json_str(&info.driver_info),
            info.vendor,
            info.device,
            runner_names.join(","),
            options.interleave,
            options.seed,
            num(options.budget_scale),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        ),
    );
    println!("# {} ({})", options.bench, date);
    println!("adapter: {adapter_desc}");
    println!(
        "strategies: {}{}; quick: {}; results: {}",
        runner_names.join(" + ").replace('"', ""),
        if options.interleave {
            " (interleaved)"
        } else {
            ""
        },
        options.quick,
        options.out.display()
    );

    let mut rng = Rng::new(options.seed);
    let pool_len = list.iter().map(|w| w.shape.max_task()).max().unwrap_or(0) * 2;
    let pool = Pool::new(pool_len.max(1), &mut rng);

    let mut failures = 0usize;
    let mut results = Vec::new();
    for workload in list {
        let mut shape_rng = Rng::new(options.seed ^ hash(&workload.name));
        let mut execs: Vec<(Strategy, Executor)> =
            gpu_runners.iter().map(|&s| (s, open_executor(s))).collect();
        let max_total = workload.shape.max_total();
        let mut out = vec![f32::NAN; max_total];
        let mut reference = vec![0.0f32; max_total];
        let mut samples: Vec<(Runner, Vec<Sample>)> = [Runner::Cpu]
            .into_iter()
            .chain(gpu_runners.iter().map(|&s| Runner::Gpu(s)))
            .map(|r| (r, Vec::new()))
            .collect();
        eprint!("{:<16} ", workload.name);
        let start = Instant::now();
        let mut iter = 0;
        while iter < workload.max_iters
            && (iter < workload.min_iters || start.elapsed().as_secs_f64() < workload.budget_s)
        {
            let sizes = workload.shape.draw(&mut shape_rng);
            let offsets: Vec<usize> = sizes
                .iter()
                .map(|&n| shape_rng.range(0, pool_len - n))
                .collect();
            let total: usize = sizes.iter().sum();
            let cpu_s = cpu_reference(&pool, &sizes, &offsets, &mut reference[..total]);
            samples[0].1.push(Sample {
                iter,
                tasks: sizes.len(),
                elements: total,
                seconds: cpu_s,
                counters: Counters::default(),
            });
            let count = execs.len();
            for k in 0..count {
                // Alternate which strategy goes first.
                let idx = if iter % 2 == 0 { k } else { count - 1 - k };
                let (strategy, exec) = &mut execs[idx];
                out[..total].fill(f32::NAN);
                let (seconds, counters) =
                    match gpu_batch(exec, &pool, &sizes, &offsets, &mut out[..total]) {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("\n{}: {strategy:?} batch failed: {e:?}", workload.name);
                            std::process::exit(2);
                        }
                    };
                let bad = mismatches(&out[..total], &reference[..total]);
                if bad > 0 {
                    failures += 1;
                    eprintln!(
                        "\n{}: {strategy:?} iteration {iter}: {bad} of {total} elements differ from the CPU reference",
                        workload.name
                    );
                }
                let runner = Runner::Gpu(*strategy);
                let slot = samples.iter_mut().find(|(r, _)| *r == runner).unwrap();
                slot.1.push(Sample {
                    iter,
                    tasks: sizes.len(),
                    elements: total,
                    seconds,
                    counters,
                });
            }
            iter += 1;
        }
        eprintln!("{iter} iterations, {:.1} s", start.elapsed().as_secs_f64());
        drop(execs);

        // Report in a fixed order: baseline, bucketed, cpu.
        samples.sort_by_key(|(r, _)| match r {
            Runner::Gpu(Strategy::Baseline) => 0,
            Runner::Gpu(Strategy::Bucketed) => 1,
            Runner::Cpu => 2,
        });
        let summaries: Vec<Summary> = samples.iter().map(|(r, s)| Summary::new(*r, s)).collect();
        let find = |name: &str| summaries.iter().find(|s| s.runner.name() == name);
        let comparison = match (find("baseline"), find("bucketed")) {
            (Some(b), Some(k)) => Some(Comparison::new(workload.group, b, k)),
            _ => None,
        };
        write_workload(
            &mut sink,
            &workload,
            &samples,
            &summaries,
            comparison.as_ref(),
        );
        sink.flush();
        results.push(WorkloadResult {
            workload,
            summaries,
            comparison,
        });
    }
    print_tables(&options, &results);
    sink.flush();
    if failures > 0 {
        eprintln!("{failures} batches differed from the CPU reference");
        std::process::exit(1);
    }
    println!("all outputs matched the CPU reference bit for bit");
}

fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn write_workload(
    sink: &mut Sink,
    w: &Workload,
    samples: &[(Runner, Vec<Sample>)],
    summaries: &[Summary],
    comparison: Option<&Comparison>,
) {
    let head = format!(
        "\"workload\":{},\"group\":{},\"shape\":{},\"task_size\":{},",
        json_str(&w.name),
        json_str(w.group),
        json_str(&w.shape.describe()),
        w.shape
            .uniform_size()
            .map_or("null".to_string(), |n| n.to_string())
    );
    for (runner, list) in samples {
        for s in list {
            let mut body = format!(
                "{head}\"strategy\":{},\"iter\":{},\"cold\":{},\"tasks\":{},\"elements\":{},\"seconds\":{}",
                json_str(runner.name()),
                s.iter,
                s.iter == 0,
                s.tasks,
                s.elements,
                num(s.seconds)
            );
            if *runner != Runner::Cpu {
                for (k, v) in s.counters.fields() {
                    let _ = write!(body, ",\"{k}\":{v}");
                }
            }
            sink.line("sample", &body);
        }
    }
    for s in summaries {
        let mut body = format!(
            "{head}\"strategy\":{},\"iterations\":{},\"mean_tasks\":{},\"mean_elements\":{}",
            json_str(s.runner.name()),
            s.warm.len(),
            num(s.mean_tasks),
            num(s.mean_elements)
        );
        s.batch.json(&mut body, "batch_s");
        s.per_task.json(&mut body, "per_task_s");
        s.gbps.json(&mut body, "gbps");
        if s.runner != Runner::Cpu {
            body.push_str(",\"per_batch\":{");
            let parts: Vec<String> = s
                .per_batch
                .iter()
                .map(|(k, v)| format!("\"{k}\":{}", num(*v)))
                .collect();
            body.push_str(&parts.join(","));
            body.push('}');
        }
        if let Some(c) = &s.cold {
            let _ = write!(
                body,
                ",\"cold\":{{\"seconds\":{},\"tasks\":{},\"elements\":{}",
                num(c.seconds),
                c.tasks,
                c.elements
            );
            if s.runner != Runner::Cpu {
                for (k, v) in c.counters.fields() {
                    let _ = write!(body, ",\"{k}\":{v}");
                }
            }
            body.push('}');
        }
        sink.line("summary", &body);
    }
    if let Some(c) = comparison {
        let mut body = format!(
            "{head}\"baseline_median_s\":{},\"bucketed_median_s\":{},\"improvement\":{},\"verdict\":{}",
            num(c.baseline_median),
            num(c.bucketed_median),
            num(c.improvement),
            json_str(c.verdict)
        );
        c.paired_ratio.json(&mut body, "paired_ratio");
        match c.expected {
            Some((lo, hi)) => {
                let _ = write!(body, ",\"expected\":[{},{}]", num(lo), num(hi));
            }
            None => body.push_str(",\"expected\":null"),
        }
        sink.line("comparison", &body);
    }
}

// ---------------------------------------------------------------------------------------
// Tables

/// Seconds in a readable unit.
pub fn fmt_time(s: f64) -> String {
    if !s.is_finite() {
        "-".into()
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn fmt_count(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

fn print_tables(options: &Options, results: &[WorkloadResult]) {
    println!();
    println!(
        "| workload | shape | strategy | batch median (p10–p90) | per task median | GB/s | pipelines/batch | buffers/batch | bind groups/batch | submits/batch | cold batch (pipelines, buffers) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for s in &r.summaries {
            let gpu = s.runner != Runner::Cpu;
            let c = |k: &str| {
                if gpu {
                    fmt_count(s.counter(k))
                } else {
                    "-".into()
                }
            };
            let cold = match &s.cold {
                Some(c) if gpu => format!(
                    "{} ({}, {})",
                    fmt_time(c.seconds),
                    c.counters.pipelines,
                    c.counters.buffers
                ),
                Some(c) => fmt_time(c.seconds),
                None => "-".into(),
            };
            println!(
                "| {} | {} | {} | {} ({}–{}) | {} | {:.2} | {} | {} | {} | {} | {} |",
                r.workload.name,
                r.workload.shape.describe(),
                s.runner.name(),
                fmt_time(s.batch.median),
                fmt_time(s.batch.p10),
                fmt_time(s.batch.p90),
                fmt_time(s.per_task.median),
                s.gbps.median,
                c("pipelines"),
                c("buffers"),
                c("bind_groups"),
                c("submits"),
                cold
            );
        }
    }
    println!();
    println!(
        "Where a batch's time goes (means per warm batch; setup = validation, planning and creating or taking pipelines, buffers, bind groups)"
    );
    println!();
    println!("| workload | strategy | batch mean | setup | upload | encode+submit | GPU wait | download |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in results {
        for s in r.summaries.iter().filter(|s| s.runner != Runner::Cpu) {
            let mean = s.warm.iter().map(|x| x.seconds).sum::<f64>() / s.warm.len().max(1) as f64;
            let ms = |k: &str| fmt_time(s.counter(k) * 1e-9);
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r.workload.name,
                s.runner.name(),
                fmt_time(mean),
                ms("setup_ns"),
                ms("upload_ns"),
                ms("submit_ns"),
                ms("wait_ns"),
                ms("download_ns")
            );
        }
    }
    let comparisons: Vec<&WorkloadResult> =
        results.iter().filter(|r| r.comparison.is_some()).collect();
    if comparisons.is_empty() {
        return;
    }
    println!();
    println!(
        "BASELINE vs BUCKETED ({}; paired ratio = median over iterations of bucketed/baseline)",
        options.bench
    );
    println!();
    println!(
        "| workload | baseline median | bucketed median | paired ratio (p10–p90) | improvement | seed expects | verdict |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in comparisons {
        let c = r.comparison.as_ref().unwrap();
        let expected = c.expected.map_or("-".to_string(), |(lo, hi)| {
            format!("{:.0}–{:.0} %", lo * 100.0, hi * 100.0)
        });
        println!(
            "| {} | {} | {} | {:.3} ({:.3}–{:.3}) | {:.1} % | {} | {} |",
            r.workload.name,
            fmt_time(c.baseline_median),
            fmt_time(c.bucketed_median),
            c.paired_ratio.median,
            c.paired_ratio.p10,
            c.paired_ratio.p90,
            c.improvement * 100.0,
            expected,
            c.verdict
        );
    }
}

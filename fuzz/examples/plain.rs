//! The fuzz logic without libFuzzer, on stable Rust: replays corpus files, then runs
//! deterministic pseudo-random inputs (fresh, or mutated corpus files) for a bounded time.
//! No coverage feedback: a smoke test and a fallback where cargo-fuzz cannot run.
//!
//! A finding (or an input that runs past --timeout) is saved under --artifacts like
//! libFuzzer's crashes, and the driver exits with status 1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use gpu_executor_fuzz::Rng;

const USAGE: &str = "\
usage: plain [options] [FILE|DIR ...]
  With FILE or DIR arguments: replays those inputs only (a directory: every file in it).
  Otherwise replays --corpus, then runs pseudo-random inputs until --time or --runs.
options:
  --time SECS        fuzz this long after the replay (default 60)
  --runs N           stop after N random inputs (default: no limit)
  --seed N           first seed of the pseudo-random inputs (default 1)
  --corpus DIR       inputs to replay and mutate; repeatable (default fuzz/seeds/c_api and
                     fuzz/corpus/c_api)
  --artifacts DIR    where a failing input is saved (default fuzz/artifacts/c_api)
  --timeout SECS     an input running longer is a finding (default 120)
  --max-len BYTES    longest random input (default 1024)
environment: GPU_FUZZ_KNOWN_DEFECTS=report counts the known core defects instead of failing";

struct Options {
    time: Duration,
    runs: Option<u64>,
    seed: u64,
    corpus: Vec<PathBuf>,
    artifacts: PathBuf,
    timeout: Duration,
    max_len: usize,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Options, String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut o = Options {
        time: Duration::from_secs(60),
        runs: None,
        seed: 1,
        corpus: Vec::new(),
        artifacts: here.join("artifacts/c_api"),
        timeout: Duration::from_secs(120),
        max_len: 1024,
        files: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{text}: {e}"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--time" => o.time = Duration::from_secs(number(value(&arg)?)?),
            "--runs" => o.runs = Some(number(value(&arg)?)?),
            "--seed" => o.seed = number(value(&arg)?)?,
            "--corpus" => o.corpus.push(value(&arg)?.into()),
            "--artifacts" => o.artifacts = value(&arg)?.into(),
            "--timeout" => o.timeout = Duration::from_secs(number(value(&arg)?)?),
            "--max-len" => o.max_len = number(value(&arg)?)?.max(1) as usize,
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => o.files.push(arg.into()),
        }
    }
    if o.corpus.is_empty() {
        o.corpus = vec![here.join("seeds/c_api"), here.join("corpus/c_api")];
    }
    Ok(o)
}

/// Files of a directory (none if it does not exist), sorted, or the file itself.
fn inputs_in(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map(|dir| {
            dir.filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// The input running now and when it started, for the watchdog.
static CURRENT: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static ARTIFACTS: OnceLock<PathBuf> = OnceLock::new();

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Saves a failing input and says how to replay it.
fn save(kind: &str, data: &[u8]) {
    let Some(dir) = ARTIFACTS.get() else { return };
    let path = dir.join(format!("{kind}-{:016x}", fnv1a(data)));
    let saved = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, data));
    match saved {
        Ok(()) => eprintln!(
            "plain: input saved to {}\nplain: replay: cargo run --release --no-default-features \
             --example plain -- {}",
            path.display(),
            path.display()
        ),
        Err(error) => eprintln!(
            "plain: could not save the input to {}: {error}",
            path.display()
        ),
    }
}

fn watchdog(timeout: Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        let started = STARTED_MS.load(Ordering::Relaxed);
        let now = epoch().elapsed().as_millis() as u64;
        if started != 0 && now.saturating_sub(started) > timeout.as_millis() as u64 {
            eprintln!(
                "plain: FINDING: an input ran longer than {} s (hang?)",
                timeout.as_secs()
            );
            let data = CURRENT.lock().map(|d| d.clone()).unwrap_or_default();
            save("timeout", &data);
            std::process::exit(1);
        }
    });
}

fn run_one(data: &[u8]) {
    if let Ok(mut current) = CURRENT.lock() {
        current.clear();
        current.extend_from_slice(data);
    }
    STARTED_MS.store(
        epoch().elapsed().as_millis().max(1) as u64,
        Ordering::Relaxed,
    );
    let result = std::panic::catch_unwind(|| gpu_executor_fuzz::run(data));
    STARTED_MS.store(0, Ordering::Relaxed);
    if let Err(payload) = result {
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        let kind = if message.contains(gpu_executor_fuzz::FINDING) {
            "crash"
        } else {
            "fuzzer-bug"
        };
        eprintln!("plain: FINDING ({kind}): {message}");
        save(kind, data);
        std::process::exit(1);
    }
}

/// 1-4 random edits of a corpus input: flip, set, insert, delete, or splice another in.
fn mutate(rng: &mut Rng, corpus: &[Vec<u8>], max_len: usize) -> Vec<u8> {
    let pick = |rng: &mut Rng| &corpus[rng.next_u64() as usize % corpus.len()];
    let mut data = pick(rng).clone();
    for _ in 0..1 + rng.next_u64() % 4 {
        let at = |rng: &mut Rng, len: usize| rng.next_u64() as usize % (len + 1);
        match rng.next_u64() % 5 {
            0 if !data.is_empty() => {
                let i = at(rng, data.len() - 1);
                data[i] ^= 1 << (rng.next_u64() % 8);
            }
            1 if !data.is_empty() => {
                let i = at(rng, data.len() - 1);
                data[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = at(rng, data.len());
                let n = 1 + rng.next_u64() as usize % 16;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(i..i, bytes);
            }
            3 if !data.is_empty() => {
                let i = at(rng, data.len() - 1);
                let n = (1 + rng.next_u64() as usize % 16).min(data.len() - i);
                data.drain(i..i + n);
            }
            _ => {
                let other = pick(rng);
                let from = at(rng, other.len());
                let i = at(rng, data.len());
                data.truncate(i);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data.truncate(max_len);
    data
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(error) => {
            if !error.is_empty() {
                eprintln!("plain: {error}");
            }
            eprintln!("{USAGE}");
            std::process::exit(if error.is_empty() { 0 } else { 2 });
        }
    };
    let _ = ARTIFACTS.set(o.artifacts.clone());
    epoch();
    watchdog(o.timeout);
    let start = Instant::now();

    if !o.files.is_empty() {
        let files: Vec<PathBuf> = o.files.iter().flat_map(|p| inputs_in(p)).collect();
        for file in &files {
            match std::fs::read(file) {
                Ok(data) => run_one(&data),
                Err(error) => {
                    eprintln!("plain: {}: {error}", file.display());
                    std::process::exit(2);
                }
            }
        }
        println!(
            "plain: replayed {} inputs in {:.1} s: no findings",
            files.len(),
            start.elapsed().as_secs_f64()
        );
        report();
        return;
    }

    let corpus: Vec<Vec<u8>> = o
        .corpus
        .iter()
        .flat_map(|dir| inputs_in(dir))
        .filter_map(|f| std::fs::read(f).ok())
        .collect();
    for data in &corpus {
        run_one(data);
    }
    let replayed = start.elapsed();
    let dirs: Vec<String> = o.corpus.iter().map(|d| d.display().to_string()).collect();
    println!(
        "plain: replayed {} corpus inputs from {} in {:.1} s",
        corpus.len(),
        dirs.join(", "),
        replayed.as_secs_f64()
    );

    let fuzz_start = Instant::now();
    let mut rng = Rng::new(o.seed);
    let mut runs = 0u64;
    let mut last_report = Instant::now();
    while fuzz_start.elapsed() < o.time && o.runs.is_none_or(|n| runs < n) {
        let data = if !corpus.is_empty() && rng.next_u64().is_multiple_of(2) {
            mutate(&mut rng, &corpus, o.max_len)
        } else {
            let len = match rng.next_u64() % 10 {
                0 => rng.next_u64() as usize % 16,
                1..=2 => rng.next_u64() as usize % (o.max_len + 1),
                _ => 16 + rng.next_u64() as usize % 240,
            }
            .min(o.max_len);
            (0..len).map(|_| rng.next_u64() as u8).collect()
        };
        run_one(&data);
        runs += 1;
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = Instant::now();
            let secs = fuzz_start.elapsed().as_secs_f64();
            eprintln!(
                "plain: {runs} inputs in {secs:.0} s ({:.1}/s)",
                runs as f64 / secs
            );
        }
    }
    let secs = fuzz_start.elapsed().as_secs_f64();
    println!(
        "plain: {runs} pseudo-random inputs (seed {}) in {secs:.1} s ({:.1}/s) after the \
         replay: no findings",
        o.seed,
        runs as f64 / secs.max(1e-9)
    );
    report();
}

/// What the inputs exercised: checked calls by function and status.
fn report_tallies() {
    println!("plain: checked calls, by status:");
    let mut line = String::new();
    let mut function = String::new();
    for (f, status, n) in gpu_executor_fuzz::tallies() {
        if f != function {
            if !line.is_empty() {
                println!("{line}");
            }
            line = format!("plain:   {f}:");
            function = f;
        }
        line.push_str(&format!(" {status} {n}"));
    }
    if !line.is_empty() {
        println!("{line}");
    }
}

fn report() {
    report_tallies();
    if !gpu_executor_fuzz::lenient() {
        return;
    }
    for (defect, hits) in gpu_executor_fuzz::known_hits() {
        println!(
            "plain: known defect hit {hits} times: {}",
            defect.describe()
        );
    }
}

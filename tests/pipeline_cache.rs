//! The persistent pipeline cache (`pipeline_cache_dir`): written on destroy and reused by
//! the next executor and the next process; truncated, corrupt and foreign files ignored
//! (state `REJECTED`, results right, no crash) and replaced; processes sharing a directory
//! never see a torn file; where the device has no pipeline caches the option is accepted
//! and the state is `UNSUPPORTED`.
//!
//! Child processes are this test binary run again with `PCACHE_CHILD_DIR` set, filtered to
//! `child_process`, which then runs batches on an executor with that cache directory and
//! prints its states.

mod common;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::ptr;

use common::c_api::{create, destroy, last_error, stats, submit};
use common::{submit_adds, Rng};
use gpu_executor::ffi::*;
use gpu_executor::pipeline_cache::{self, CacheState};
use gpu_executor::{Config, Executor};

use gpu_executor_status_t as S;
use gpu_pipeline_cache_state_t as P;

/// A fresh, empty directory for one test.
fn fresh_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("gpu_executor_pcache_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The cache files in `dir` (temporary files excluded).
fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pipelinecache"))
        .collect();
    files.sort();
    files
}

/// An executor with `dir` as its cache directory, through the C API.
fn create_with(dir: &Path) -> *mut gpu_executor_t {
    let path = CString::new(dir.to_str().expect("utf-8 path")).expect("no NUL");
    let mut options = gpu_executor_options_default();
    options.pipeline_cache_dir = path.as_ptr();
    // The path is read during create only.
    create(&options)
}

/// Runs ADD over two buckets and MUL, checks the results.
fn run_batch(exec: *mut gpu_executor_t, seed: u64) {
    let mut rng = Rng::new(seed);
    let sizes = [1000usize, 40_000];
    let inputs: Vec<(Vec<f32>, Vec<f32>)> =
        sizes.iter().map(|&n| (rng.vec(n), rng.vec(n))).collect();
    let mut outputs: Vec<Vec<f32>> = sizes.iter().map(|&n| vec![0f32; n]).collect();
    let mut tasks: Vec<gpu_task_t> = inputs
        .iter()
        .zip(outputs.iter_mut())
        .map(|((a, b), o)| common::c_api::task(a, b, o))
        .collect();
    let mut product = vec![0f32; 1000];
    let mut mul = common::c_api::task(&inputs[0].0, &inputs[0].1, &mut product);
    mul.op = gpu_op_t::GPU_OP_MUL as u32;
    tasks.push(mul);
    assert_eq!(submit(exec, &tasks), S::GPU_EXECUTOR_OK, "{}", last_error());
    for ((a, b), o) in inputs.iter().zip(&outputs) {
        let want: Vec<f32> = a.iter().zip(b).map(|(x, y)| x + y).collect();
        common::assert_matches(o, &want, "ADD with a pipeline cache");
    }
    let (a, b) = &inputs[0];
    let want: Vec<f32> = a.iter().zip(b).map(|(x, y)| x * y).collect();
    common::assert_matches(&product, &want, "MUL with a pipeline cache");
}

#[test]
fn the_file_is_written_on_destroy_and_loaded_by_the_next_executor() {
    let dir = fresh_dir("reuse");
    let exec = create_with(&dir);
    let first = stats(exec);
    assert_eq!(
        first.pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_EMPTY as u32
    );
    assert_eq!(first.pipeline_cache_loaded_bytes, 0);
    run_batch(exec, 1);
    destroy(exec);
    let files = cache_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let written = std::fs::metadata(&files[0]).expect("file").len();
    assert!(written > 0);

    let exec = create_with(&dir);
    let second = stats(exec);
    assert_eq!(
        second.pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_LOADED as u32
    );
    assert!(second.pipeline_cache_loaded_bytes > 0);
    assert!(
        second.pipeline_cache_loaded_bytes < written,
        "the header is not data"
    );
    run_batch(exec, 2);
    // The same pipelines again: the cache did not change, so it is not rewritten.
    destroy(exec);
    assert_eq!(cache_files(&dir).len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `gpu_executor_format_stats`'s text.
fn format_stats(exec: *mut gpu_executor_t) -> String {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    let status =
        unsafe { gpu_executor_format_stats(exec, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
    assert_eq!(status, S::GPU_EXECUTOR_OK);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn print_stats_has_a_pipeline_cache_line_only_with_the_option() {
    let plain = create(ptr::null());
    let text = format_stats(plain);
    assert!(!text.contains("Pipeline cache"), "{text}");
    destroy(plain);

    let dir = fresh_dir("line");
    let exec = create_with(&dir);
    run_batch(exec, 3);
    let text = format_stats(exec);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[3].starts_with("[gpu] Pipeline cache: started empty (0 bytes) from "),
        "{text}"
    );
    destroy(exec);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes a valid file into `dir` and returns its path and bytes.
fn valid_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let exec = create_with(dir);
    run_batch(exec, 4);
    destroy(exec);
    let files = cache_files(dir);
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).expect("read");
    (files[0].clone(), bytes)
}

/// With `damaged` in place of the file: the executor starts empty (REJECTED), runs right,
/// and its destroy writes a good file again.
fn rejects(dir: &Path, path: &Path, damaged: &[u8], what: &str) {
    std::fs::write(path, damaged).expect("write damaged file");
    let exec = create_with(dir);
    let s = stats(exec);
    assert_eq!(
        s.pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_REJECTED as u32,
        "{what}"
    );
    assert_eq!(s.pipeline_cache_loaded_bytes, 0, "{what}");
    run_batch(exec, 5);
    destroy(exec);
    let exec = create_with(dir);
    assert_eq!(
        stats(exec).pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_LOADED as u32,
        "replaced after {what}"
    );
    destroy(exec);
}

#[test]
fn truncated_corrupt_and_foreign_files_are_ignored() {
    let dir = fresh_dir("damage");
    let (path, good) = valid_file(&dir);
    rejects(&dir, &path, &good[..good.len() / 2], "truncated to half");
    rejects(&dir, &path, &good[..10], "truncated in the header");
    rejects(&dir, &path, &[], "empty");
    let mut flipped = good.clone();
    let middle = good.len() - 8;
    flipped[middle] ^= 0x40;
    rejects(&dir, &path, &flipped, "a flipped bit in the data");
    let mut longer = good.clone();
    longer.extend_from_slice(b"junk");
    rejects(&dir, &path, &longer, "trailing bytes");
    rejects(
        &dir,
        &path,
        b"not a pipeline cache at all, just text",
        "garbage",
    );
    // Well-formed, checksum right, but made for another adapter or version: our key in
    // the header differs.
    let data = pipeline_cache::decode(&good, &key_of(&good))
        .expect("valid")
        .to_vec();
    let foreign = pipeline_cache::encode("gpu_executor 0.0.1; another GPU", &data);
    rejects(&dir, &path, &foreign, "a foreign key");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The key recorded in a file of ours (header: magic 8, format 4, key length 4, data
/// length 8, checksum 8).
fn key_of(file: &[u8]) -> String {
    let len = u32::from_le_bytes([file[12], file[13], file[14], file[15]]) as usize;
    String::from_utf8(file[32..32 + len].to_vec()).expect("utf-8 key")
}

#[test]
fn the_option_is_accepted_where_pipeline_caches_are_not_supported() {
    let dir = fresh_dir("unsupported");
    let config = Config {
        pipeline_cache_dir: Some(dir.clone()),
        pipeline_cache_feature: false,
        ..Config::default()
    };
    let exec = Executor::new(config).expect("executor");
    assert_eq!(exec.stats().pipeline_cache, CacheState::Unsupported);
    submit_adds(&exec, &mut Rng::new(6), &[1000, 50_000]);
    let lines = exec.stats_lines();
    assert_eq!(
        lines.last().map(String::as_str),
        Some(
            format!(
                "[gpu] Pipeline cache: unsupported by this backend or device ({} not used)",
                dir.display()
            )
            .as_str()
        )
    );
    drop(exec);
    assert!(cache_files(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_path_is_off() {
    let empty = CString::new("").expect("no NUL");
    let mut options = gpu_executor_options_default();
    options.pipeline_cache_dir = empty.as_ptr();
    let exec = create(&options);
    assert_eq!(
        stats(exec).pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_OFF as u32
    );
    destroy(exec);
}

/// Runs this binary's `child_process` with `dir`; returns the states it printed.
fn spawn_child(dir: &Path, rounds: u32) -> std::process::Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PCACHE_CHILD_DIR", dir)
        .env("PCACHE_CHILD_ROUNDS", rounds.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// The states a finished child printed (`state=N loaded=B` per round).
fn child_states(child: std::process::Child) -> Vec<(u32, u64)> {
    let output = child.wait_with_output().expect("child output");
    assert!(output.status.success(), "child failed: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // libtest may print "test child_process ... " on the same line.
            let at = line.find("PCACHE state=")?;
            let rest = &line[at + "PCACHE state=".len()..];
            let (state, loaded) = rest.split_once(" loaded=")?;
            Some((state.parse().ok()?, loaded.parse().ok()?))
        })
        .collect()
}

/// Not a test of its own: the body of the child processes (does nothing unless
/// `PCACHE_CHILD_DIR` is set).
#[test]
fn child_process() {
    let Ok(dir) = std::env::var("PCACHE_CHILD_DIR") else {
        return;
    };
    let rounds: u32 = std::env::var("PCACHE_CHILD_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    for round in 0..rounds {
        let exec = create_with(Path::new(&dir));
        let s = stats(exec);
        println!(
            "PCACHE state={} loaded={}",
            s.pipeline_cache_state, s.pipeline_cache_loaded_bytes
        );
        run_batch(exec, 100 + u64::from(round));
        destroy(exec);
    }
}

#[test]
fn the_next_process_starts_from_the_file() {
    let dir = fresh_dir("process");
    let first = child_states(spawn_child(&dir, 1));
    assert_eq!(first, vec![(P::GPU_PIPELINE_CACHE_EMPTY as u32, 0)]);
    let second = child_states(spawn_child(&dir, 1));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].0, P::GPU_PIPELINE_CACHE_LOADED as u32);
    assert!(second[0].1 > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_processes_sharing_a_directory_never_see_a_torn_file() {
    let dir = fresh_dir("shared");
    let children = [spawn_child(&dir, 6), spawn_child(&dir, 6)];
    let mut states = Vec::new();
    for child in children {
        states.extend(child_states(child));
    }
    assert_eq!(states.len(), 12);
    for (state, _) in &states {
        assert!(
            *state == P::GPU_PIPELINE_CACHE_EMPTY as u32
                || *state == P::GPU_PIPELINE_CACHE_LOADED as u32,
            "a child saw state {state}: {states:?}"
        );
    }
    // Whoever wrote last, the file is whole.
    assert_eq!(cache_files(&dir).len(), 1);
    let exec = create_with(&dir);
    assert_eq!(
        stats(exec).pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_LOADED as u32
    );
    destroy(exec);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn new_compilations_are_saved_without_waiting_for_destroy() {
    let dir = fresh_dir("debounce");
    let exec = create_with(&dir);
    run_batch(exec, 7);
    // The saver thread writes the file shortly (`SAVE_DEBOUNCE`) after the compilations;
    // wait for it, however long that takes: nothing is asserted about time.
    while stats(exec).pipeline_cache_saves == 0 {
        std::thread::sleep(pipeline_cache::SAVE_DEBOUNCE / 5);
    }
    assert_eq!(cache_files(&dir).len(), 1);
    assert!(stats(exec).pipeline_cache_saved_bytes > 0);
    destroy(exec);
    let exec = create_with(&dir);
    assert_eq!(
        stats(exec).pipeline_cache_state,
        P::GPU_PIPELINE_CACHE_LOADED as u32
    );
    destroy(exec);
    let _ = std::fs::remove_dir_all(&dir);
}

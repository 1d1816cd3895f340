//! The persistent pipeline cache: a `wgpu::PipelineCache` loaded from a file in the
//! options' cache directory when the executor is created, used for every compute pipeline,
//! and written back after new compilations (debounced, on a saver thread) and when the
//! executor is destroyed.
//!
//! Only Vulkan has pipeline caches in wgpu (`Features::PIPELINE_CACHE`); elsewhere the
//! option is accepted and the state says `Unsupported`.
//!
//! A file is used only if it is ours for this adapter, driver and library version: its name
//! carries wgpu's adapter key and a hash of our key, and its header carries the whole key,
//! the data's length and a checksum, all verified before wgpu sees a byte. A file that fails
//! any check (truncated, corrupt, another adapter's or version's) is ignored with a warning
//! and the cache starts empty (`Rejected`); wgpu's own header check and `fallback: true`
//! are a second line behind ours. Writes go to a temporary file in the same directory,
//! renamed over the old one, so that processes sharing the directory only ever read a
//! whole file: the last writer wins.
//!
//! `Device::create_pipeline_cache` is `unsafe`: its data must come from
//! `PipelineCache::get_data`. This module is where that is upheld — only data whose header
//! and checksum verify, which is what an earlier `get_data` on the same key produced, is
//! passed (a file forged on purpose by someone who can write the cache directory is out of
//! reach, as wgpu itself notes).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::log::{log, Level};

/// The first bytes of every cache file of ours.
const MAGIC: [u8; 8] = *b"GPUXPCAC";
/// Version of the file layout below.
const FORMAT: u32 = 1;
/// Magic, format, key length, data length, checksum.
const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 8;
/// How long the saver waits after a compilation for more before it writes.
pub const SAVE_DEBOUNCE: Duration = Duration::from_millis(500);

/// Where the executor's pipeline cache stands (`gpu_pipeline_cache_state_t`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheState {
    /// No cache directory in the options.
    #[default]
    Off,
    /// A directory was given but the backend or device has no pipeline caches.
    Unsupported,
    /// No file for this key yet (or it could not be read): started empty.
    Empty,
    /// Started from the file.
    Loaded,
    /// A file was there but failed a check (truncated, corrupt, another key): ignored,
    /// started empty; the next save replaces it.
    Rejected,
}

/// FNV-1a, 64-bit: the file's checksum and the hash in its name. Not cryptographic; it
/// catches truncation, bit flips and torn writes.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// What a cache file must match: library and wgpu versions, backend, adapter, driver.
/// `None` where wgpu has no pipeline cache for the adapter's backend.
pub fn cache_key(info: &wgpu::AdapterInfo) -> Option<String> {
    let wgpu_key = wgpu::util::pipeline_cache_key(info)?;
    Some(format!(
        "gpu_executor {}; wgpu 30; {wgpu_key}; {:?} {:?}; {}; driver {} {}; {}-bit",
        env!("CARGO_PKG_VERSION"),
        info.backend,
        info.device_type,
        info.name,
        info.driver,
        info.driver_info,
        usize::BITS
    ))
}

/// The cache file's name for `key`: wgpu's adapter key and our key's hash.
pub fn file_name(info: &wgpu::AdapterInfo, key: &str) -> Option<String> {
    let wgpu_key = wgpu::util::pipeline_cache_key(info)?;
    Some(format!(
        "gpu_executor-{}-{wgpu_key}-{:016x}.pipelinecache",
        env!("CARGO_PKG_VERSION"),
        fnv1a(&[key.as_bytes()])
    ))
}

/// A file's bytes: header, key, data.
pub fn encode(key: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + key.len() + data.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(&fnv1a(&[key.as_bytes(), data]).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The data of a file, if it is whole and made for `key`; else why not.
pub fn decode<'f>(file: &'f [u8], key: &str) -> Result<&'f [u8], &'static str> {
    if file.len() < HEADER_LEN || file[..8] != MAGIC {
        return Err(if file.len() < HEADER_LEN && MAGIC.starts_with(file) {
            "truncated"
        } else {
            "not a gpu_executor pipeline cache"
        });
    }
    let word = |at: usize| u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
    let long = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&file[at..at + 8]);
        u64::from_le_bytes(b)
    };
    if word(8) != FORMAT {
        return Err("another file format version");
    }
    let key_len = word(12) as usize;
    let data_len = long(16);
    let checksum = long(24);
    let rest = &file[HEADER_LEN..];
    let expected = (key_len as u64).checked_add(data_len);
    match expected {
        Some(n) if n == rest.len() as u64 => {}
        Some(n) if n > rest.len() as u64 => return Err("truncated"),
        _ => return Err("longer than its header says"),
    }
    let (file_key, data) = rest.split_at(key_len);
    if fnv1a(&[file_key, data]) != checksum {
        return Err("corrupt (checksum mismatch)");
    }
    if file_key != key.as_bytes() {
        return Err("made for another adapter, driver or library version");
    }
    Ok(data)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, renamed
/// over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut temp = path.as_os_str().to_owned();
    temp.push(format!(
        ".tmp.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = PathBuf::from(temp);
    let written = (|| {
        use std::io::Write;
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// What the saver thread is asked to do.
#[derive(Default)]
struct Signal {
    /// Pipelines were compiled since the last save.
    dirty: bool,
    stop: bool,
}

/// The part the saver thread shares.
struct Shared {
    cache: wgpu::PipelineCache,
    path: PathBuf,
    key: String,
    saves: AtomicU64,
    saved_bytes: AtomicU64,
    /// Checksum of what was last loaded or written: an unchanged cache is not rewritten.
    /// Held while saving, so saves never overlap.
    last: Mutex<u64>,
    signal: Mutex<Signal>,
    wake: Condvar,
}

impl Shared {
    /// Writes the cache's data if it changed since the last load or save.
    fn save(&self) {
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(data) = self.cache.get_data() else {
            return;
        };
        let checksum = fnv1a(&[self.key.as_bytes(), &data]);
        if checksum == *last {
            return;
        }
        let bytes = encode(&self.key, &data);
        match write_atomically(&self.path, &bytes) {
            Ok(()) => {
                *last = checksum;
                self.saves.fetch_add(1, Ordering::Relaxed);
                self.saved_bytes
                    .store(bytes.len() as u64, Ordering::Relaxed);
                log!(
                    Level::Debug,
                    "pipeline cache: saved {} bytes to {}",
                    bytes.len(),
                    self.path.display()
                );
            }
            Err(e) => log!(
                Level::Warn,
                "pipeline cache: could not write {}: {e}",
                self.path.display()
            ),
        }
    }

    /// The saver thread: after a compilation, waits `SAVE_DEBOUNCE` for more (or a stop),
    /// then saves.
    fn run(&self) {
        loop {
            let mut signal = self.signal.lock().unwrap_or_else(PoisonError::into_inner);
            while !signal.dirty && !signal.stop {
                signal = self
                    .wake
                    .wait(signal)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if signal.stop {
                return;
            }
            let (mut signal, _) = self
                .wake
                .wait_timeout_while(signal, SAVE_DEBOUNCE, |s| !s.stop)
                .unwrap_or_else(PoisonError::into_inner);
            if signal.stop {
                // The final save is the owner's, in `finish`.
                return;
            }
            signal.dirty = false;
            drop(signal);
            self.save();
        }
    }
}

/// The executor's pipeline cache, when its options name a directory.
pub struct DiskCache {
    state: CacheState,
    dir: PathBuf,
    loaded_bytes: u64,
    shared: Option<Arc<Shared>>,
    saver: Mutex<Option<JoinHandle<()>>>,
}

impl DiskCache {
    /// Opens the cache of `dir` for this device: `supported` says whether the device was
    /// opened with `Features::PIPELINE_CACHE`.
    pub fn open(
        device: &wgpu::Device,
        info: &wgpu::AdapterInfo,
        dir: &Path,
        supported: bool,
    ) -> Self {
        let unsupported = |why: &str| {
            log!(
                Level::Info,
                "pipeline cache: {why}; {} is not used",
                dir.display()
            );
            DiskCache {
                state: CacheState::Unsupported,
                dir: dir.to_path_buf(),
                loaded_bytes: 0,
                shared: None,
                saver: Mutex::new(None),
            }
        };
        let (Some(key), true) = (cache_key(info), supported) else {
            return unsupported("this backend or device has no pipeline caches");
        };
        let Some(name) = file_name(info, &key) else {
            return unsupported("this backend has no pipeline caches");
        };
        if let Err(e) = std::fs::create_dir_all(dir) {
            log!(
                Level::Warn,
                "pipeline cache: cannot create {}: {e}",
                dir.display()
            );
        }
        let path = dir.join(name);
        let file = std::fs::read(&path);
        let (state, data, last) = match &file {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (CacheState::Empty, None, 0),
            Err(e) => {
                log!(
                    Level::Warn,
                    "pipeline cache: cannot read {}: {e}; starting empty",
                    path.display()
                );
                (CacheState::Empty, None, 0)
            }
            Ok(bytes) => match decode(bytes, &key) {
                Ok(data) => (
                    CacheState::Loaded,
                    Some(data),
                    fnv1a(&[key.as_bytes(), data]),
                ),
                Err(why) => {
                    log!(
                        Level::Warn,
                        "pipeline cache: ignoring {}: {why}; starting empty",
                        path.display()
                    );
                    (CacheState::Rejected, None, 0)
                }
            },
        };
        // SAFETY: `data` is either None or bytes whose header, key (library version,
        // adapter, driver) and checksum verified: what `PipelineCache::get_data` returned
        // to an earlier executor of this library on the same adapter and driver (see the
        // module's notes). `fallback: true` makes wgpu start empty if it disagrees.
        let cache = unsafe {
            device.create_pipeline_cache(&wgpu::PipelineCacheDescriptor {
                label: Some("gpu_executor pipeline cache"),
                data,
                fallback: true,
            })
        };
        let loaded_bytes = data.map_or(0, |d| d.len() as u64);
        log!(
            Level::Info,
            "pipeline cache: {} ({state:?}, {loaded_bytes} bytes)",
            path.display()
        );
        let shared = Arc::new(Shared {
            cache,
            path,
            key,
            saves: AtomicU64::new(0),
            saved_bytes: AtomicU64::new(0),
            last: Mutex::new(last),
            signal: Mutex::default(),
            wake: Condvar::new(),
        });
        let worker = Arc::clone(&shared);
        let saver = std::thread::Builder::new()
            .name("gpu_executor pipeline cache".into())
            .spawn(move || worker.run())
            .map_err(|e| {
                log!(
                    Level::Warn,
                    "pipeline cache: no saver thread ({e}); saving on destroy only"
                )
            })
            .ok();
        DiskCache {
            state,
            dir: dir.to_path_buf(),
            loaded_bytes,
            shared: Some(shared),
            saver: Mutex::new(saver),
        }
    }

    /// The cache to compile pipelines with, where there is one.
    pub fn wgpu_cache(&self) -> Option<&wgpu::PipelineCache> {
        self.shared.as_ref().map(|s| &s.cache)
    }

    pub fn state(&self) -> CacheState {
        self.state
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file used, where the cache is supported.
    pub fn path(&self) -> Option<&Path> {
        self.shared.as_ref().map(|s| s.path.as_path())
    }

    /// Bytes of pipeline data taken from the file at creation.
    pub fn loaded_bytes(&self) -> u64 {
        self.loaded_bytes
    }

    /// Files written so far.
    pub fn saves(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |s| s.saves.load(Ordering::Relaxed))
    }

    /// Size of the last file written (0 before the first).
    pub fn saved_bytes(&self) -> u64 {
        self.shared
            .as_ref()
            .map_or(0, |s| s.saved_bytes.load(Ordering::Relaxed))
    }

    /// Called after pipelines were compiled with the cache: the saver writes it soon.
    pub fn note_compiled(&self) {
        if let Some(shared) = &self.shared {
            shared
                .signal
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .dirty = true;
            shared.wake.notify_all();
        }
    }

    /// Writes the cache now if it changed (also what destroy does).
    pub fn save_now(&self) {
        if let Some(shared) = &self.shared {
            shared.save();
        }
    }

    /// Stops the saver thread and writes the cache a last time if it changed.
    pub fn finish(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        shared
            .signal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stop = true;
        shared.wake.notify_all();
        let saver = self
            .saver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(saver) = saver {
            let _ = saver.join();
        }
        shared.save();
    }
}

impl Drop for DiskCache {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_damage_is_caught() {
        let key = "gpu_executor 0.1.0; test key";
        let data: Vec<u8> = (0..200u8).collect();
        let file = encode(key, &data);
        assert_eq!(decode(&file, key), Ok(&data[..]));
        assert_eq!(decode(&file[..file.len() - 1], key), Err("truncated"));
        assert_eq!(decode(&file[..5], key), Err("truncated"));
        assert!(decode(&file, "another key").is_err());
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(decode(&flipped, key), Err("corrupt (checksum mismatch)"));
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(decode(&longer, key), Err("longer than its header says"));
        assert!(decode(b"garbage that is long enough to hold a header", key).is_err());
        assert!(decode(&[], key).is_err());
    }
}

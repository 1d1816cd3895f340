//! Library-wide log messages: adapter chosen, caches growing, errors wgpu raised outside a
//! batch. Hosts route them through a sink of their own; by default they go to stderr.
//! The threshold comes from `GPU_EXECUTOR_LOG` (off, error, warn, info, debug) until set.

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Severity, most severe first; a message is emitted when its level is at or below the
/// threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    pub fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Level::Off,
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ => return None,
        })
    }

    fn from_env_text(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "0" => Level::Off,
            "error" | "1" => Level::Error,
            "warn" | "warning" | "2" => Level::Warn,
            "info" | "3" => Level::Info,
            "debug" | "trace" | "4" => Level::Debug,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// Where messages go.
pub type Sink = Arc<dyn Fn(Level, &str) + Send + Sync>;

const UNSET: u8 = u8::MAX;
static THRESHOLD: AtomicU8 = AtomicU8::new(UNSET);
/// The sink is called with this lock read-held, so replacing it (a write) waits until every
/// call in progress has returned: after `set_sink` nothing uses the old sink or its data.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the sink, so a message the sink itself causes goes to
    /// stderr instead of taking the lock again (which could deadlock behind a writer).
    /// No destructor, so it stays usable while the thread exits.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn in_sink() -> bool {
    IN_SINK.try_with(Cell::get).unwrap_or(false)
}

/// The current threshold: set explicitly, else from `GPU_EXECUTOR_LOG`, else `Warn`.
pub fn threshold() -> Level {
    if let Some(level) = Level::from_u8(THRESHOLD.load(Ordering::Relaxed)) {
        return level;
    }
    let level = std::env::var("GPU_EXECUTOR_LOG")
        .ok()
        .and_then(|text| Level::from_env_text(&text))
        .unwrap_or(Level::Warn);
    THRESHOLD.store(level as u8, Ordering::Relaxed);
    level
}

pub fn set_threshold(level: Level) {
    THRESHOLD.store(level as u8, Ordering::Relaxed);
}

/// Called from inside the sink: replacing it there would wait for itself.
#[derive(Debug)]
pub struct ReplacedFromSink;

/// Routes messages to `sink` (`None`: stderr). Returns once no call of the old sink is in
/// progress on any thread.
pub fn set_sink(sink: Option<Sink>) -> Result<(), ReplacedFromSink> {
    if in_sink() {
        return Err(ReplacedFromSink);
    }
    let mut slot = SINK.write().unwrap_or_else(PoisonError::into_inner);
    *slot = sink;
    Ok(())
}

pub fn enabled(level: Level) -> bool {
    level != Level::Off && level <= threshold()
}

fn to_stderr(level: Level, message: &str) {
    eprintln!("[gpu_executor {}] {message}", level.name());
}

/// Emits `message` at `level` if the threshold lets it through.
pub fn emit(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    if in_sink() {
        return to_stderr(level, message);
    }
    // A panicking sink poisons nothing that matters: the slot only holds the sink.
    let slot = SINK.read().unwrap_or_else(PoisonError::into_inner);
    match slot.as_ref() {
        Some(sink) => {
            let _ = IN_SINK.try_with(|flag| flag.set(true));
            let reset = ResetInSink;
            sink(level, message);
            drop(reset);
        }
        None => to_stderr(level, message),
    }
}

/// Clears `IN_SINK` however the sink returns (a panic unwinds through it).
struct ResetInSink;

impl Drop for ResetInSink {
    fn drop(&mut self) {
        let _ = IN_SINK.try_with(|flag| flag.set(false));
    }
}

/// `log!(Level::Info, "format {}", args)`: formats only when the level is enabled.
macro_rules! log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, &format!($($arg)*));
        }
    };
}
pub(crate) use log;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_parse() {
        assert_eq!(Level::from_env_text(" Info "), Some(Level::Info));
        assert_eq!(Level::from_env_text("off"), Some(Level::Off));
        assert_eq!(Level::from_env_text("loud"), None);
        assert!(Level::Error < Level::Debug);
    }
}

//! Library-wide log messages: adapter chosen, caches growing, errors wgpu raised outside a
//! batch. Hosts route them through a sink of their own; by default they go to stderr.
//! The threshold comes from `GPU_EXECUTOR_LOG` (off, error, warn, info, debug) until set.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

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
static SINK: OnceLock<RwLock<Option<Sink>>> = OnceLock::new();

fn sink_slot() -> &'static RwLock<Option<Sink>> {
    SINK.get_or_init(|| RwLock::new(None))
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

/// Routes messages to `sink`; `None` restores stderr.
pub fn set_sink(sink: Option<Sink>) {
    if let Ok(mut slot) = sink_slot().write() {
        *slot = sink;
    }
}

pub fn enabled(level: Level) -> bool {
    level != Level::Off && level <= threshold()
}

/// Emits `message` at `level` if the threshold lets it through.
pub fn emit(level: Level, message: &str) {
    if !enabled(level) {
        return;
    }
    let sink = sink_slot().read().ok().and_then(|slot| slot.clone());
    match sink {
        Some(sink) => sink(level, message),
        None => eprintln!("[gpu_executor {}] {message}", level.name()),
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

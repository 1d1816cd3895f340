//! Adapter choice, device creation, and turning wgpu's errors into ours.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::completion::Completion;

use crate::config::{BackendChoice, Config, PowerChoice, StagingChoice};
use crate::error::{Error, ErrorKind, Result};
use crate::host_memory::{HostImport, HostMemory};
use crate::log::{log, Level};

/// An open device plus what we learned about it.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// Most workgroups one dispatch may use in x; larger grids spill into y.
    pub max_groups_x: u32,
    /// Errors wgpu raised outside any error scope (filled by our handler, never panics).
    uncaptured: Arc<Mutex<Vec<String>>>,
    lost: Arc<AtomicBool>,
    /// Wakes threads that wait with a deadline; see [`Completion`].
    pub completion: Arc<Completion>,
    /// Where slabs' staging lives: host memory mapped once, or (`None`) wgpu's mapped
    /// buffers.
    pub host_memory: Option<HostMemory>,
    /// Imports caller memory for `register_host_memory`; `None` when the device cannot.
    pub host_import: Option<HostImport>,
    /// Whether the device was opened with `Features::PIPELINE_CACHE` (asked for only when
    /// the options name a cache directory and the adapter has it).
    pub pipeline_cache: bool,
}

fn backends_for(choice: BackendChoice) -> wgpu::Backends {
    match choice {
        BackendChoice::Any => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
        BackendChoice::Vulkan => wgpu::Backends::VULKAN,
        BackendChoice::Metal => wgpu::Backends::METAL,
        BackendChoice::Dx12 => wgpu::Backends::DX12,
        BackendChoice::Gl => wgpu::Backends::GL,
    }
}

/// The staging choice: the options', unless they leave it to us (`Auto`) and
/// `GPU_EXECUTOR_STAGING` (`mapped`, `host`) says otherwise.
fn staging_choice(choice: StagingChoice) -> StagingChoice {
    if choice != StagingChoice::Auto {
        return choice;
    }
    match std::env::var("GPU_EXECUTOR_STAGING").as_deref() {
        Ok("mapped") => StagingChoice::Mapped,
        Ok("host") => StagingChoice::Host,
        _ => StagingChoice::Auto,
    }
}

/// Whether to open devices able to import host memory: yes, unless
/// `GPU_EXECUTOR_HOST_IMPORT=0` (to compare, or to rule the extension out).
fn host_import_wanted() -> bool {
    std::env::var("GPU_EXECUTOR_HOST_IMPORT").as_deref() != Ok("0")
}

fn power_for(choice: PowerChoice) -> wgpu::PowerPreference {
    match choice {
        PowerChoice::Default => wgpu::PowerPreference::from_env().unwrap_or_default(),
        PowerChoice::LowPower => wgpu::PowerPreference::LowPower,
        PowerChoice::HighPerformance => wgpu::PowerPreference::HighPerformance,
    }
}

/// The process's wgpu instance for `backends`, created on first use and never destroyed.
///
/// Destroying a Vulkan instance unloads the driver, and NVIDIA's driver does not give back
/// the static TLS it takes when loaded: a process that created and destroyed an instance per
/// executor could make only about 30 executors. Sharing one instance loads each driver once.
fn instance_for(backends: wgpu::Backends) -> wgpu::Instance {
    static INSTANCES: Mutex<Vec<(wgpu::Backends, wgpu::Instance)>> = Mutex::new(Vec::new());
    let mut instances = INSTANCES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, instance)) = instances.iter().find(|(b, _)| *b == backends) {
        return instance.clone();
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::empty().with_env();
    let instance = wgpu::Instance::new(desc);
    instances.push((backends, instance.clone()));
    instance
}

/// Every adapter `choice` allows, in the order wgpu reports them: with no preference
/// (`Any` and no `WGPU_BACKEND`), those of the primary backends (Vulkan, Metal, Direct3D
/// 12), or GL's when there are none — the same rule `Gpu::open` follows. An executor's
/// `adapter_index` counts in this list.
pub fn adapters(choice: BackendChoice) -> Vec<wgpu::Adapter> {
    let list = |backends: wgpu::Backends| {
        pollster::block_on(instance_for(backends).enumerate_adapters(backends))
    };
    match choice {
        BackendChoice::Any if wgpu::Backends::from_env().is_none() => {
            let primary = list(wgpu::Backends::PRIMARY);
            if primary.is_empty() {
                list(wgpu::Backends::all())
            } else {
                primary
            }
        }
        choice => list(backends_for(choice)),
    }
}

/// The adapter the options' index names.
fn adapter_by_index(config: &Config, index: usize) -> Result<wgpu::Adapter> {
    let mut all = adapters(config.backend);
    let count = all.len();
    if index >= count {
        return Err(Error::new(
            ErrorKind::NoAdapter,
            format!("adapter index {index}: there are {count} adapter(s) for this backend choice"),
        ));
    }
    Ok(all.swap_remove(index))
}

/// Honours `WGPU_ADAPTER_NAME` (case-insensitive substring) without wgpu's panicking helper.
fn pick_adapter(instance: &wgpu::Instance, config: &Config) -> Result<wgpu::Adapter> {
    let backends = backends_for(config.backend);
    if let Ok(wanted) = std::env::var("WGPU_ADAPTER_NAME") {
        let wanted = wanted.to_lowercase();
        let adapters = pollster::block_on(instance.enumerate_adapters(backends));
        let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
        return adapters
            .into_iter()
            .find(|a| a.get_info().name.to_lowercase().contains(&wanted))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoAdapter,
                    format!("WGPU_ADAPTER_NAME={wanted:?} matches none of {names:?}"),
                )
            });
    }
    let request = |instance: &wgpu::Instance| {
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: power_for(config.power),
            force_fallback_adapter: false,
            compatible_surface: None,
            apply_limit_buckets: false,
        }))
    };
    request(instance).map_err(|e| {
        Error::new(
            ErrorKind::NoAdapter,
            format!("no adapter for backends {backends:?}: {e}"),
        )
    })
}

impl Gpu {
    pub fn open(config: &Config) -> Result<Self> {
        // With no preference, GL is tried only when no primary backend has an adapter:
        // probing EGL on a headless machine is slow and noisy.
        let adapter = match (config.adapter_index, config.backend) {
            // An index the program chose wins over the environment's adapter name.
            (Some(index), _) => adapter_by_index(config, index)?,
            (None, BackendChoice::Any) if wgpu::Backends::from_env().is_none() => {
                pick_adapter(&instance_for(wgpu::Backends::PRIMARY), config)
                    .or_else(|_| pick_adapter(&instance_for(wgpu::Backends::all()), config))?
            }
            (None, choice) => pick_adapter(&instance_for(backends_for(choice)), config)?,
        };
        let info = adapter.get_info();
        // The adapter's real limits: wgpu's defaults would cap bindings at 128 MiB.
        let limits = adapter.limits();
        let pipeline_cache = config.pipeline_cache_dir.is_some()
            && config.pipeline_cache_feature
            && adapter.features().contains(wgpu::Features::PIPELINE_CACHE);
        let required_features = if pipeline_cache {
            wgpu::Features::PIPELINE_CACHE
        } else {
            wgpu::Features::empty()
        };
        let desc = wgpu::DeviceDescriptor {
            label: Some("gpu_executor"),
            required_features,
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        // Where the adapter offers it, the device can import caller memory
        // (`register_host_memory`); if opening it so fails, it opens as wgpu would.
        let with_import = host_import_wanted()
            .then(|| crate::host_memory::open_with_import(&adapter, &desc))
            .flatten();
        let opened = with_import.and_then(|opened| {
            opened
                .map_err(|why| log!(Level::Warn, "{why}; host memory cannot be registered"))
                .ok()
        });
        let (device, queue) = match opened {
            Some(opened) => opened,
            None => pollster::block_on(adapter.request_device(&desc)).map_err(|e| {
                Error::new(
                    ErrorKind::DeviceRequestFailed,
                    format!("adapter {:?} refused a device: {e}", info.name),
                )
            })?,
        };
        let host_import = HostImport::probe(&device);

        log!(
            Level::Info,
            "adapter {:?} ({:?}, {:?}, driver {:?} {:?}); max storage binding {} bytes",
            info.name,
            info.backend,
            info.device_type,
            info.driver,
            info.driver_info,
            limits.max_storage_buffer_binding_size
        );
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&uncaptured);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            log!(Level::Warn, "wgpu error outside a batch: {error}");
            if let Ok(mut errors) = sink.lock() {
                errors.push(error.to_string());
            }
        }));
        let lost = Arc::new(AtomicBool::new(false));
        let lost_flag = Arc::clone(&lost);
        device.set_device_lost_callback(move |reason, message| {
            log!(Level::Error, "device lost ({reason:?}): {message}");
            lost_flag.store(true, Ordering::SeqCst);
        });

        let max_groups_x = match config.max_workgroups_per_dimension {
            0 => limits.max_compute_workgroups_per_dimension,
            n => n.min(limits.max_compute_workgroups_per_dimension),
        };
        let host_memory = match staging_choice(config.staging) {
            StagingChoice::Mapped => None,
            StagingChoice::Auto | StagingChoice::Host => match HostMemory::probe(&device) {
                Ok(memory) => {
                    log!(Level::Info, "staging in host memory, mapped once");
                    Some(memory)
                }
                Err(why) if staging_choice(config.staging) == StagingChoice::Auto => {
                    log!(Level::Info, "staging in wgpu's mapped buffers: {why}");
                    None
                }
                Err(why) => {
                    return Err(Error::new(
                        ErrorKind::DeviceRequestFailed,
                        format!("host-memory staging is not available: {why}"),
                    ))
                }
            },
        };
        Ok(Self {
            host_memory,
            host_import,
            pipeline_cache,
            completion: Completion::new(device.clone()),
            device,
            queue,
            info,
            limits,
            max_groups_x,
            uncaptured,
            lost,
        })
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Test hook: destroys the device as a driver reset would lose it. Work already
    /// submitted still completes; the device-lost callback runs once the queue is empty.
    pub fn simulate_loss(&self) {
        self.device.destroy();
        let _ = self.device.poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        });
        self.lost.store(true, Ordering::SeqCst);
    }

    pub fn check_not_lost(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::DeviceLost,
                "the GPU device was lost; destroy this executor and create a new one",
            ));
        }
        Ok(())
    }

    /// Starts capturing every wgpu error raised on this thread until `finish` is called.
    pub fn capture_errors(&self) -> ErrorCapture {
        ErrorCapture {
            scopes: [
                self.device.push_error_scope(wgpu::ErrorFilter::Validation),
                self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory),
                self.device.push_error_scope(wgpu::ErrorFilter::Internal),
            ],
        }
    }

    /// Errors raised outside our scopes since the last call (e.g. from another thread).
    fn take_uncaptured(&self) -> Option<String> {
        let mut errors = self.uncaptured.lock().ok()?;
        if errors.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut *errors).join("; "))
        }
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        self.completion.shutdown();
    }
}

/// Error scopes pushed for one batch; popped in reverse order by `finish`.
pub struct ErrorCapture {
    scopes: [wgpu::ErrorScopeGuard; 3],
}

impl ErrorCapture {
    /// The error wgpu reported while the scopes were open, if any: device loss first, then
    /// running out of memory (the cause; validation errors about the buffer that could not be
    /// created follow from it), then the first other error.
    pub fn finish(self, gpu: &Gpu) -> Result<()> {
        let mut first: Option<Error> = None;
        // Scopes are a stack: the last pushed is popped first.
        for scope in self.scopes.into_iter().rev() {
            if let Some(error) = pollster::block_on(scope.pop()) {
                let kind = match error {
                    wgpu::Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
                    _ => ErrorKind::Gpu,
                };
                let replaces = first.as_ref().is_none_or(|f| {
                    kind == ErrorKind::OutOfMemory && f.kind != ErrorKind::OutOfMemory
                });
                if replaces {
                    let message = match kind {
                        ErrorKind::OutOfMemory => format!(
                            "the GPU ran out of memory for this batch's buffers ({error}); a smaller batch may fit"
                        ),
                        _ => error.to_string(),
                    };
                    first = Some(Error::new(kind, message));
                }
            }
        }
        if first.is_none() {
            if let Some(message) = gpu.take_uncaptured() {
                first = Some(Error::new(ErrorKind::Gpu, message));
            }
        }
        gpu.check_not_lost()?;
        first.map_or(Ok(()), Err)
    }
}

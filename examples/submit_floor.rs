//! The floor under a small blocking batch on this machine, in plain wgpu (no executor):
//! the median wall time of (a) an empty submit and a wait, (b) one small dispatch and a
//! wait, (c) a small batch's GPU work as the executor encodes it (two 16 KiB copies in, a
//! dispatch, a copy out) and a wait, each with a blocking wait and with polling, plus what
//! `CommandEncoder::finish` and `Queue::submit` cost. What a batch costs beyond these is
//! the executor's own work.
//!
//! `cargo run --release --example submit_floor [iterations]`

use std::time::Instant;

#[path = "common/mod.rs"]
mod common;
use common::median;

const SHADER: &str = "
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if (id.x < arrayLength(&out)) { out[id.x] = a[id.x] + b[id.x]; }
}";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    desc.flags = wgpu::InstanceFlags::empty().with_env();
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))?;
    println!("adapter: {}", adapter.get_info().name);
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))?;
    let n = 4096u64;
    let bytes = n * 4;
    use wgpu::BufferUsages as U;
    let buffer = |usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let (a, b, out) = (
        buffer(U::STORAGE | U::COPY_DST),
        buffer(U::STORAGE | U::COPY_DST),
        buffer(U::STORAGE | U::COPY_SRC),
    );
    let (src, dst) = (buffer(U::COPY_SRC | U::COPY_DST), buffer(U::COPY_DST));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: a.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: b.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: out.as_entire_binding(),
            },
        ],
    });
    let dispatch = |encoder: &mut wgpu::CommandEncoder| {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups((n / 64) as u32, 1, 1);
    };
    type Encode<'a> = Box<dyn Fn(&mut wgpu::CommandEncoder) + 'a>;
    let cases: Vec<(&str, Encode)> = vec![
        ("empty", Box::new(|_: &mut wgpu::CommandEncoder| {})),
        ("dispatch", Box::new(dispatch)),
        (
            "copies+dispatch",
            Box::new(|e: &mut wgpu::CommandEncoder| {
                e.copy_buffer_to_buffer(&src, 0, &a, 0, bytes);
                e.copy_buffer_to_buffer(&src, 0, &b, 0, bytes);
                dispatch(e);
                e.copy_buffer_to_buffer(&out, 0, &dst, 0, bytes);
            }),
        ),
    ];
    println!(
        "{:<18}{:>8}{:>10}{:>10}{:>10}{:>10}",
        "work", "wait", "total_us", "finish", "submit", "wait_us"
    );
    for (name, encode) in &cases {
        for spin in [false, true] {
            let mut t = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
            for it in 0..iterations + 20 {
                let start = Instant::now();
                let mut encoder = device.create_command_encoder(&Default::default());
                encode(&mut encoder);
                let f = Instant::now();
                let commands = encoder.finish();
                let s = Instant::now();
                let index = queue.submit([commands]);
                let w = Instant::now();
                if spin {
                    while !matches!(
                        device.poll(wgpu::PollType::Poll),
                        Ok(wgpu::PollStatus::QueueEmpty)
                    ) {}
                } else {
                    device.poll(wgpu::PollType::Wait {
                        submission_index: Some(index),
                        timeout: None,
                    })?;
                }
                let end = Instant::now();
                if it >= 20 {
                    t[0].push((end - start).as_secs_f64() * 1e6);
                    t[1].push((s - f).as_secs_f64() * 1e6);
                    t[2].push((w - s).as_secs_f64() * 1e6);
                    t[3].push((end - w).as_secs_f64() * 1e6);
                }
            }
            println!(
                "{:<18}{:>8}{:>10.1}{:>10.1}{:>10.1}{:>10.1}",
                name,
                if spin { "poll" } else { "block" },
                median(&mut t[0]),
                median(&mut t[1]),
                median(&mut t[2]),
                median(&mut t[3])
            );
        }
    }
    Ok(())
}

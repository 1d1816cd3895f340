//! Every shader in shaders/ is listed, and every kernel of the op table (each op at each
//! element type it supports, generated from the template) compiles on the test device with
//! every per-bucket constant.

use gpu_executor::kernel::{
    direct_source, elementwise_source, finish_source, reduction_source, workgroup_size_for_bucket,
    MATMUL_WGSL, SHADERS,
};
use gpu_executor::ops::{ELEMENTWISE, REDUCTIONS};

#[test]
fn every_shader_file_is_listed() {
    let mut on_disk: Vec<String> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders"))
            .expect("shaders/ exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wgsl"))
            .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SHADERS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_kernel_validates_and_builds_for_every_bucket_size() {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .expect("an adapter");
    let (device, _queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default()))
            .expect("device");
    let kernels: Vec<(String, String)> = ELEMENTWISE
        .iter()
        .flat_map(|op| {
            op.types().filter_map(move |ty| {
                let source = elementwise_source(op, ty)?;
                Some((format!("{} {}", op.name, ty.name()), source))
            })
        })
        .collect();
    // 11 ops for f32, i32 and u32, 3 for f32 and i32, 8 for f32 only.
    assert_eq!(
        kernels.len(),
        47,
        "ops times the element types each supports"
    );
    // Reductions (entry point main) and matmul's two shape classes.
    let mut fixed: Vec<(String, String, &str)> = REDUCTIONS
        .iter()
        .map(|op| (op.name.to_string(), reduction_source(op), "main"))
        .collect();
    for entry in ["tile128", "tile64", "tile16"] {
        fixed.push(("MATMUL".to_string(), MATMUL_WGSL.to_string(), entry));
    }
    // The direct kernel (element-wise on resident buffers) of every op at every type.
    for op in ELEMENTWISE {
        for ty in op.types() {
            if let Some(source) = direct_source(op, ty) {
                fixed.push((format!("{} {} direct", op.name, ty.name()), source, "main"));
            }
        }
    }
    // The finish kernel of every reduction (its result into a resident buffer).
    for op in REDUCTIONS {
        fixed.push((format!("{} finish", op.name), finish_source(op), "main"));
    }
    assert_eq!(fixed.len(), 2 * REDUCTIONS.len() + 3 + 47);
    for (name, source, entry) in &fixed {
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.as_str().into()),
        });
        let _pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name.as_str()),
            layout: None,
            module: &module,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            cache: None,
        });
        let error = pollster::block_on(scope.pop());
        assert!(error.is_none(), "{name} {entry}: {error:?}");
    }
    for (name, source) in &kernels {
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.as_str().into()),
        });
        for bucket in [16_384u64, 1 << 20, 1 << 24] {
            let size = f64::from(workgroup_size_for_bucket(bucket));
            let _pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name.as_str()),
                layout: None,
                module: &module,
                entry_point: None,
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &[("WORKGROUP_SIZE", size)],
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
        }
        let error = pollster::block_on(scope.pop());
        assert!(error.is_none(), "{name}: {error:?}");
    }
}

//! Can the GPU read a caller's host array in place (`VK_EXT_external_memory_host`), and
//! what does that cost against copying the array into staging first? A probe in raw Vulkan
//! (ash), outside the library: per 32 MiB, the import (host pointer properties, buffer,
//! allocation, bind), the GPU copy from the imported memory into device memory, the
//! release, against a one-thread memcpy into host staging and the GPU copy from there.
//! Medians of 20. docs/BENCHMARKS.md ("Host to host on the H100") has the H100's figures.
//!
//! `cargo run --release --example host_import_probe`
use ash::vk;
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: a probe of raw Vulkan calls; every handle is created and used here only.
    unsafe { run() }
}

unsafe fn find_type(
    props: &vk::PhysicalDeviceMemoryProperties,
    bits: u32,
    want: vk::MemoryPropertyFlags,
    avoid: vk::MemoryPropertyFlags,
) -> Option<u32> {
    (0..props.memory_type_count).find(|&i| {
        bits & (1 << i) != 0
            && props.memory_types[i as usize].property_flags.contains(want)
            && !props.memory_types[i as usize]
                .property_flags
                .intersects(avoid)
    })
}

unsafe fn run() -> Result<(), Box<dyn std::error::Error>> {
    let entry = ash::Entry::load()?;
    let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_3);
    let instance = entry.create_instance(
        &vk::InstanceCreateInfo::default().application_info(&app),
        None,
    )?;
    let pds = instance.enumerate_physical_devices()?;
    let pd = pds
        .into_iter()
        .max_by_key(|&pd| {
            (instance.get_physical_device_properties(pd).device_type
                == vk::PhysicalDeviceType::DISCRETE_GPU) as u32
        })
        .ok_or("no Vulkan device")?;
    let props = instance.get_physical_device_properties(pd);
    println!("device: {:?}", props.device_name_as_c_str()?);
    let mut host_props = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
    let mut p2 = vk::PhysicalDeviceProperties2::default().push_next(&mut host_props);
    instance.get_physical_device_properties2(pd, &mut p2);
    let align = host_props.min_imported_host_pointer_alignment as usize;
    println!("minImportedHostPointerAlignment {align}");
    let qf = instance
        .get_physical_device_queue_family_properties(pd)
        .iter()
        .position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .ok_or("no compute queue")? as u32;
    let prio = [1.0f32];
    let qci = [vk::DeviceQueueCreateInfo::default()
        .queue_family_index(qf)
        .queue_priorities(&prio)];
    let exts = [ash::ext::external_memory_host::NAME.as_ptr()];
    let device = instance.create_device(
        pd,
        &vk::DeviceCreateInfo::default()
            .queue_create_infos(&qci)
            .enabled_extension_names(&exts),
        None,
    )?;
    let emh = ash::ext::external_memory_host::Device::new(&instance, &device);
    let queue = device.get_device_queue(qf, 0);
    let pool = device.create_command_pool(
        &vk::CommandPoolCreateInfo::default()
            .queue_family_index(qf)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER),
        None,
    )?;
    let cb = device.allocate_command_buffers(
        &vk::CommandBufferAllocateInfo::default()
            .command_pool(pool)
            .command_buffer_count(1),
    )?[0];
    let fence = device.create_fence(&vk::FenceCreateInfo::default(), None)?;
    let mprops = instance.get_physical_device_memory_properties(pd);

    let make_buffer = |size: u64, usage: vk::BufferUsageFlags, external: bool| {
        let mut ext = vk::ExternalMemoryBufferCreateInfo::default()
            .handle_types(vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT);
        let mut info = vk::BufferCreateInfo::default().size(size).usage(usage);
        if external {
            info = info.push_next(&mut ext);
        }
        device.create_buffer(&info, None)
    };
    let size: u64 = 32 << 20; // 8M floats
                              // Device-local destination.
    let dst = make_buffer(
        size,
        vk::BufferUsageFlags::TRANSFER_DST | vk::BufferUsageFlags::TRANSFER_SRC,
        false,
    )?;
    let req = device.get_buffer_memory_requirements(dst);
    let t = find_type(
        &mprops,
        req.memory_type_bits,
        vk::MemoryPropertyFlags::DEVICE_LOCAL,
        vk::MemoryPropertyFlags::HOST_VISIBLE,
    )
    .or_else(|| {
        find_type(
            &mprops,
            req.memory_type_bits,
            vk::MemoryPropertyFlags::DEVICE_LOCAL,
            vk::MemoryPropertyFlags::empty(),
        )
    })
    .ok_or("no memory type")?;
    let dmem = device.allocate_memory(
        &vk::MemoryAllocateInfo::default()
            .allocation_size(req.size)
            .memory_type_index(t),
        None,
    )?;
    device.bind_buffer_memory(dst, dmem, 0)?;
    // A staging buffer in host memory (what the executor uses now).
    let stg = make_buffer(
        size,
        vk::BufferUsageFlags::TRANSFER_SRC | vk::BufferUsageFlags::TRANSFER_DST,
        false,
    )?;
    let req = device.get_buffer_memory_requirements(stg);
    let t = find_type(
        &mprops,
        req.memory_type_bits,
        vk::MemoryPropertyFlags::HOST_VISIBLE
            | vk::MemoryPropertyFlags::HOST_COHERENT
            | vk::MemoryPropertyFlags::HOST_CACHED,
        vk::MemoryPropertyFlags::DEVICE_LOCAL,
    )
    .or_else(|| {
        find_type(
            &mprops,
            req.memory_type_bits,
            vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT,
            vk::MemoryPropertyFlags::empty(),
        )
    })
    .ok_or("no memory type")?;
    let smem = device.allocate_memory(
        &vk::MemoryAllocateInfo::default()
            .allocation_size(req.size)
            .memory_type_index(t),
        None,
    )?;
    device.bind_buffer_memory(stg, smem, 0)?;
    let sptr = device.map_memory(smem, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty())? as *mut u8;

    // The caller's array: page-aligned host memory, touched.
    let layout = std::alloc::Layout::from_size_align(size as usize, align.max(4096))?;
    let host = std::alloc::alloc(layout);
    if host.is_null() {
        return Err("out of host memory".into());
    }
    for i in 0..size as usize {
        *host.add(i) = (i % 251) as u8;
    }

    let copy = |src: vk::Buffer, dst: vk::Buffer| -> Result<f64, vk::Result> {
        device.begin_command_buffer(cb, &vk::CommandBufferBeginInfo::default())?;
        device.cmd_copy_buffer(
            cb,
            src,
            dst,
            &[vk::BufferCopy {
                src_offset: 0,
                dst_offset: 0,
                size,
            }],
        );
        device.end_command_buffer(cb)?;
        let cbs = [cb];
        let t = Instant::now();
        device.queue_submit(
            queue,
            &[vk::SubmitInfo::default().command_buffers(&cbs)],
            fence,
        )?;
        device.wait_for_fences(&[fence], true, u64::MAX)?;
        let e = t.elapsed().as_secs_f64();
        device.reset_fences(&[fence])?;
        Ok(e)
    };
    let mut imp = Vec::new();
    let mut imp_copy = Vec::new();
    let mut rel = Vec::new();
    let mut memcpy = Vec::new();
    let mut stg_copy = Vec::new();
    for _ in 0..20 {
        // Import path: import, bind, copy, free.
        let t0 = Instant::now();
        let mut hp = vk::MemoryHostPointerPropertiesEXT::default();
        let r = (emh.fp().get_memory_host_pointer_properties_ext)(
            device.handle(),
            vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT,
            host as *const _,
            &mut hp,
        )
        .result();
        if let Err(e) = r {
            println!("host pointer properties: {e}");
            return Ok(());
        }
        let buf = make_buffer(
            size,
            vk::BufferUsageFlags::TRANSFER_SRC | vk::BufferUsageFlags::TRANSFER_DST,
            true,
        )?;
        let req = device.get_buffer_memory_requirements(buf);
        let bits = req.memory_type_bits & hp.memory_type_bits;
        let t = (0..mprops.memory_type_count)
            .find(|&i| bits & (1 << i) != 0)
            .ok_or("no importable memory type")?;
        let mut import = vk::ImportMemoryHostPointerInfoEXT::default()
            .handle_type(vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT)
            .host_pointer(host as *mut _);
        let mem = match device.allocate_memory(
            &vk::MemoryAllocateInfo::default()
                .allocation_size(size)
                .memory_type_index(t)
                .push_next(&mut import),
            None,
        ) {
            Ok(m) => m,
            Err(e) => {
                println!("import failed: {e}");
                return Ok(());
            }
        };
        device.bind_buffer_memory(buf, mem, 0)?;
        imp.push(t0.elapsed().as_secs_f64());
        imp_copy.push(copy(buf, dst)?);
        let t1 = Instant::now();
        device.destroy_buffer(buf, None);
        device.free_memory(mem, None);
        rel.push(t1.elapsed().as_secs_f64());
        // Staging path: memcpy into staging, then copy.
        let t2 = Instant::now();
        std::ptr::copy_nonoverlapping(host, sptr, size as usize);
        memcpy.push(t2.elapsed().as_secs_f64());
        stg_copy.push(copy(stg, dst)?);
    }
    let mb = size as f64 / 1e6;
    println!("32 MiB, medians of 20:");
    println!(
        "import (pointer props + buffer + allocate + bind): {:.1} us",
        median(imp) * 1e6
    );
    println!(
        "GPU copy from imported memory: {:.1} us ({:.1} GB/s)",
        median(imp_copy.clone()) * 1e6,
        mb / median(imp_copy) / 1e3
    );
    println!("release (destroy + free): {:.1} us", median(rel) * 1e6);
    println!(
        "one-thread memcpy into staging: {:.1} us ({:.1} GB/s)",
        median(memcpy.clone()) * 1e6,
        mb / median(memcpy) / 1e3
    );
    println!(
        "GPU copy from staging: {:.1} us ({:.1} GB/s)",
        median(stg_copy.clone()) * 1e6,
        mb / median(stg_copy) / 1e3
    );
    Ok(())
}

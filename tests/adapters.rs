//! Adapter choice: `gpu_executor_enumerate_adapters` lists what an executor can run on,
//! and `gpu_executor_options_t.adapter_index` picks one of that list.

mod common;

use std::ffi::CStr;
use std::ptr;

use common::c_api::{adapter_info, blank_adapter_info, create, destroy, last_error};
use gpu_executor::ffi::*;

use gpu_executor_status_t as S;

fn name(info: &gpu_adapter_info_t) -> String {
    unsafe { CStr::from_ptr(info.name.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

fn list(backend: u32) -> Vec<gpu_adapter_info_t> {
    let mut count = 0;
    let status =
        unsafe { gpu_executor_enumerate_adapters(backend, ptr::null_mut(), 0, &mut count) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let mut out = vec![blank_adapter_info(); count];
    let mut again = 0;
    let status =
        unsafe { gpu_executor_enumerate_adapters(backend, out.as_mut_ptr(), count, &mut again) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(again, count);
    out
}

#[test]
fn every_listed_adapter_can_be_chosen_by_index() {
    let all = list(gpu_backend_t::GPU_BACKEND_ANY as u32);
    assert!(!all.is_empty(), "at least the adapter the tests run on");
    for info in &all {
        assert!(!name(info).is_empty());
        assert!(info.device_type <= gpu_device_type_t::GPU_DEVICE_CPU as u32);
    }
    // The default choice is one of them.
    let default = create(ptr::null());
    let chosen = name(&adapter_info(default));
    destroy(default);
    assert!(all.iter().any(|a| name(a) == chosen), "{chosen} is listed");
    for (index, info) in all.iter().enumerate().take(3) {
        let mut options = gpu_executor_options_default();
        assert_eq!(options.adapter_index, GPU_ADAPTER_DEFAULT);
        options.adapter_index = index as u32;
        let exec = create(&options);
        let got = adapter_info(exec);
        assert_eq!(name(&got), name(info), "adapter {index}");
        assert_eq!(got.backend, info.backend);
        destroy(exec);
    }
    // Past the end.
    let mut options = gpu_executor_options_default();
    options.adapter_index = all.len() as u32;
    let mut exec = ptr::null_mut();
    assert_eq!(
        unsafe { gpu_executor_create(&options, &mut exec) },
        S::GPU_EXECUTOR_NO_ADAPTER
    );
    assert!(last_error().contains("adapter index"), "{}", last_error());
    assert!(exec.is_null());
    // A backend's own list holds only that backend's adapters.
    for info in list(gpu_backend_t::GPU_BACKEND_VULKAN as u32) {
        assert_eq!(info.backend, gpu_backend_t::GPU_BACKEND_VULKAN as u32);
    }
}

#[test]
fn bad_enumeration_arguments_get_their_status() {
    let mut count = 99;
    let mut out = [blank_adapter_info(), blank_adapter_info()];
    unsafe {
        assert_eq!(
            gpu_executor_enumerate_adapters(0, out.as_mut_ptr(), 2, ptr::null_mut()),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_enumerate_adapters(0, ptr::null_mut(), 2, &mut count),
            S::GPU_EXECUTOR_NULL_POINTER
        );
        assert_eq!(
            gpu_executor_enumerate_adapters(9, out.as_mut_ptr(), 2, &mut count),
            S::GPU_EXECUTOR_INVALID_OPTION
        );
        out[0].struct_size = 12;
        assert_eq!(
            gpu_executor_enumerate_adapters(0, out.as_mut_ptr(), 2, &mut count),
            S::GPU_EXECUTOR_BAD_STRUCT_SIZE
        );
    }
    assert_eq!(count, 99, "nothing written on error");
}

#[test]
fn the_options_struct_of_the_previous_header_is_still_accepted() {
    // Without adapter_index: no particular adapter.
    let mut options = gpu_executor_options_default();
    options.struct_size = std::mem::offset_of!(gpu_executor_options_t, adapter_index) as u32;
    options.adapter_index = 12345; // past the older struct's end: never read
    let exec = create(&options);
    destroy(exec);
}

/// `sizeof(gpu_adapter_info_t)` of the header before `device_local_bytes`.
const OLD_ADAPTER_INFO_SIZE: usize = 5 * 4 + 3 * 256;

#[test]
fn vulkan_adapters_report_their_device_local_memory() {
    let vulkan = list(gpu_backend_t::GPU_BACKEND_VULKAN as u32);
    assert!(!vulkan.is_empty(), "lavapipe at least");
    for info in &vulkan {
        assert!(info.device_local_bytes > 0, "{} reports heaps", name(info));
    }
    // The executor reports the same figure for the adapter it runs on.
    let mut options = gpu_executor_options_default();
    options.backend = gpu_backend_t::GPU_BACKEND_VULKAN as u32;
    options.adapter_index = 0;
    let exec = create(&options);
    let got = adapter_info(exec);
    assert_eq!(got.device_local_bytes, vulkan[0].device_local_bytes);
    assert_eq!(
        got.struct_size as usize,
        std::mem::size_of::<gpu_adapter_info_t>()
    );
    destroy(exec);
}

#[test]
fn the_older_adapter_info_size_is_accepted() {
    assert_eq!(
        OLD_ADAPTER_INFO_SIZE,
        std::mem::offset_of!(gpu_adapter_info_t, driver_info) + 256
    );
    let current = list(gpu_backend_t::GPU_BACKEND_ANY as u32);
    let count = current.len();
    // An array of the older, shorter entries, then a guard of 64 bytes.
    let mut bytes = vec![0xAAu8; count * OLD_ADAPTER_INFO_SIZE + 64];
    for i in 0..count {
        let at = i * OLD_ADAPTER_INFO_SIZE;
        bytes[at..at + 4].copy_from_slice(&(OLD_ADAPTER_INFO_SIZE as u32).to_ne_bytes());
    }
    let mut again = 0;
    let status = unsafe {
        gpu_executor_enumerate_adapters(
            gpu_backend_t::GPU_BACKEND_ANY as u32,
            bytes.as_mut_ptr().cast(),
            count,
            &mut again,
        )
    };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    assert_eq!(again, count);
    for (i, info) in current.iter().enumerate() {
        let at = i * OLD_ADAPTER_INFO_SIZE;
        let entry = &bytes[at..at + OLD_ADAPTER_INFO_SIZE];
        assert_eq!(
            u32::from_ne_bytes(entry[..4].try_into().unwrap()),
            OLD_ADAPTER_INFO_SIZE as u32
        );
        let name_at = std::mem::offset_of!(gpu_adapter_info_t, name);
        let listed = CStr::from_bytes_until_nul(&entry[name_at..]).unwrap();
        assert_eq!(listed.to_string_lossy(), name(info), "entry {i}");
    }
    assert!(
        bytes[count * OLD_ADAPTER_INFO_SIZE..]
            .iter()
            .all(|&b| b == 0xAA),
        "nothing past the array"
    );
    // Mixed sizes are refused.
    if count > 1 {
        bytes[OLD_ADAPTER_INFO_SIZE..OLD_ADAPTER_INFO_SIZE + 4]
            .copy_from_slice(&(std::mem::size_of::<gpu_adapter_info_t>() as u32).to_ne_bytes());
        let status = unsafe {
            gpu_executor_enumerate_adapters(0, bytes.as_mut_ptr().cast(), count, &mut again)
        };
        assert_eq!(status, S::GPU_EXECUTOR_BAD_STRUCT_SIZE);
    }

    // gpu_executor_adapter_info writes the older struct's fields only.
    let exec = create(ptr::null());
    let mut one = vec![0xAAu8; std::mem::size_of::<gpu_adapter_info_t>()];
    one[..4].copy_from_slice(&(OLD_ADAPTER_INFO_SIZE as u32).to_ne_bytes());
    let status = unsafe { gpu_executor_adapter_info(exec, one.as_mut_ptr().cast()) };
    assert_eq!(status, S::GPU_EXECUTOR_OK, "{}", last_error());
    let name_at = std::mem::offset_of!(gpu_adapter_info_t, name);
    let listed = CStr::from_bytes_until_nul(&one[name_at..]).unwrap();
    assert_eq!(listed.to_string_lossy(), name(&adapter_info(exec)));
    assert!(one[OLD_ADAPTER_INFO_SIZE..].iter().all(|&b| b == 0xAA));
    // Any other size is refused.
    one[..4].copy_from_slice(&(OLD_ADAPTER_INFO_SIZE as u32 + 4).to_ne_bytes());
    let status = unsafe { gpu_executor_adapter_info(exec, one.as_mut_ptr().cast()) };
    assert_eq!(status, S::GPU_EXECUTOR_BAD_STRUCT_SIZE);
    destroy(exec);
}

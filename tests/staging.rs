//! Staging in host memory (the default on Vulkan) against wgpu's mapped staging (the
//! fallback, forced by `StagingChoice::Mapped`): the same batches give bit-identical results
//! on both, and match the CPU. The batches cover one slab, several buckets, large batches
//! submitted in parts (more than a million elements: uploads of part k+1 overlap the GPU's
//! work on part k), a single long task through the exact-size cache, reductions and matmul
//! over several slabs, asynchronous batches in flight together, and resident buffers.

mod common;

use common::{assert_matches, poisoned, Case, Rng};
use gpu_executor::{Config, Executor, KernelId, StagingChoice, Task};

fn executor(staging: StagingChoice) -> Executor {
    Executor::new(Config {
        staging,
        ..Config::default()
    })
    .expect("an adapter with host-memory staging (lavapipe has it)")
}

const SUM: KernelId = KernelId {
    code: 64,
    ty: gpu_executor::ElemType::F32,
};
const AXPY: KernelId = KernelId {
    code: 19,
    ty: gpu_executor::ElemType::F32,
};

/// Runs `sizes` as one batch of `a + b` and returns the outputs after checking them.
fn add_batch(exec: &Executor, rng: &mut Rng, sizes: &[usize]) -> Vec<Vec<f32>> {
    common::submit_adds(exec, rng, sizes)
}

/// Both stagings, each on its own executor, fed the same random data.
fn on_both<T: PartialEq + std::fmt::Debug>(run: impl Fn(&Executor, &mut Rng) -> T) {
    let host = run(&executor(StagingChoice::Host), &mut Rng::new(42));
    let mapped = run(&executor(StagingChoice::Mapped), &mut Rng::new(42));
    assert!(host == mapped, "host-memory and mapped staging disagree");
}

fn bits(values: &[Vec<f32>]) -> Vec<Vec<u32>> {
    values
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

#[test]
fn host_staging_is_what_auto_chooses_on_vulkan() {
    let auto = executor(StagingChoice::Auto);
    assert!(auto.host_staging(), "lavapipe offers host-coherent memory");
    assert!(executor(StagingChoice::Host).host_staging());
    assert!(!executor(StagingChoice::Mapped).host_staging());
}

#[test]
fn small_and_multi_bucket_batches_agree() {
    on_both(|exec, rng| {
        let mut all = Vec::new();
        for sizes in [&[1][..], &[4096], &[1000, 20_000, 100_000, 5000], &[3; 50]] {
            // Twice: the second batch reuses the first one's slabs.
            all.extend(bits(&add_batch(exec, rng, sizes)));
            all.extend(bits(&add_batch(exec, rng, sizes)));
        }
        all
    });
}

#[test]
fn large_batches_run_in_parts_and_agree() {
    on_both(|exec, rng| {
        let before = exec.stats().submits;
        // 2.1M elements: a slab per task (two do not fit a million), submitted in parts
        // of at least a million elements: the first two slabs, then the third.
        let a = bits(&add_batch(exec, rng, &[700_001, 700_002, 699_999]));
        let parts = exec.stats().submits - before;
        assert_eq!(parts, 2, "two parts");
        // One long task through the exact-size cache, cut into slabs of a million.
        let b = bits(&add_batch(exec, rng, &[2_500_003]));
        let c = bits(&add_batch(exec, rng, &[2_500_003]));
        (a, b, c, parts)
    });
}

#[test]
fn reductions_and_axpy_over_several_slabs_agree() {
    on_both(|exec, rng| {
        let n = 2_300_001;
        let x = rng.vec(n);
        let y = rng.vec(n);
        let (xw, yw): (&[u32], &[u32]) = (bytemuck::cast_slice(&x), bytemuck::cast_slice(&y));
        let mut sum = [0u32; 1];
        let mut axpy = vec![0u32; n];
        let s = 0.5f32.to_bits();
        {
            let mut tasks = vec![
                Task::new(SUM, n, &[xw], &[], &mut sum).expect("sum"),
                Task::new(AXPY, n, &[xw, yw], &[s], &mut axpy).expect("axpy"),
            ];
            exec.submit(&mut tasks).expect("batch");
        }
        let want: f64 = x.iter().map(|&v| f64::from(v)).sum();
        let got = f64::from(f32::from_bits(sum[0]));
        let scale: f64 = x.iter().map(|&v| f64::from(v.abs())).sum();
        assert!((got - want).abs() <= scale * 1e-5, "sum {got} vs {want}");
        for i in (0..n).step_by(997) {
            let want = 0.5f32.mul_add(x[i], y[i]);
            let plain = 0.5f32 * x[i] + y[i];
            let g = f32::from_bits(axpy[i]);
            assert!(g == want || g == plain, "axpy element {i}: {g}");
        }
        (sum, axpy)
    });
}

#[test]
fn matmul_agrees() {
    on_both(|exec, rng| {
        let (m, k, n) = (67u32, 45u32, 71u32);
        let a = rng.vec((m * k) as usize);
        let b = rng.vec((k * n) as usize);
        let mut c = poisoned((m * n) as usize);
        exec.submit(&mut [Task::matmul(&a, &b, &mut c, (m, k, n), false).expect("matmul")])
            .expect("batch");
        for i in 0..m as usize {
            for j in 0..n as usize {
                let want: f32 = (0..k as usize)
                    .map(|p| a[i * k as usize + p] * b[p * n as usize + j])
                    .sum();
                let got = c[i * n as usize + j];
                assert!(
                    (got - want).abs() <= 1e-3 * (1.0 + want.abs()),
                    "c[{i}][{j}]"
                );
            }
        }
        bits(&[c])
    });
}

#[test]
fn batches_in_flight_together_agree() {
    on_both(|exec, rng| {
        let sizes = [1_200_000usize, 4096, 300_000];
        let cases: Vec<Vec<Case>> = (0..4)
            .map(|_| sizes.iter().map(|&n| Case::random(rng, n)).collect())
            .collect();
        let mut pending = Vec::new();
        for batch in &cases {
            let inputs: Vec<_> = batch
                .iter()
                .map(|c| gpu_executor::TaskInputs::vector_add(&c.a, &c.b))
                .collect();
            pending.push(exec.launch(&inputs).expect("launch"));
        }
        let mut all = Vec::new();
        // Finished in reverse order: each batch's results are its own.
        for (batch, p) in cases.iter().zip(pending).rev() {
            let mut outputs: Vec<Vec<f32>> = sizes.iter().map(|&n| poisoned(n)).collect();
            {
                let mut views: Vec<&mut [u32]> = outputs
                    .iter_mut()
                    .map(|o| bytemuck::cast_slice_mut(o.as_mut_slice()))
                    .collect();
                exec.finish(p, &mut views).expect("finish");
            }
            for (c, o) in batch.iter().zip(&outputs) {
                assert_matches(o, &c.expected, "batch in flight");
            }
            all.extend(bits(&outputs));
        }
        all
    });
}

#[test]
fn resident_buffers_agree() {
    on_both(|exec, rng| {
        let n = 1_500_000;
        let x = rng.vec(n);
        let y = rng.vec(n);
        let bx = exec
            .create_buffer_from(gpu_executor::ElemType::F32, bytemuck::cast_slice(&x))
            .expect("buffer");
        let rx = exec.region(bx, 0).expect("region");
        // A host input with a resident one, the result to the host: slabs with GPU copies.
        let mut out = poisoned(n);
        {
            let mut tasks = [Task::with_operands(
                KernelId {
                    code: 1,
                    ty: gpu_executor::ElemType::F32,
                },
                n,
                &mut [
                    gpu_executor::Operand::Resident(rx),
                    gpu_executor::Operand::Host(bytemuck::cast_slice(&y)),
                ],
                &[],
                gpu_executor::Destination::Host(bytemuck::cast_slice_mut(out.as_mut_slice())),
            )
            .expect("task")];
            exec.submit(&mut tasks).expect("batch");
        }
        let want: Vec<f32> = x.iter().zip(&y).map(|(a, b)| a + b).collect();
        assert_matches(&out, &want, "resident + host");
        let mut back = vec![0u32; n];
        exec.read_buffer(bx, 0, &mut back).expect("read");
        assert_eq!(
            back,
            bytemuck::cast_slice::<f32, u32>(&x),
            "the buffer round-trips"
        );
        exec.destroy_buffer(bx).expect("destroy");
        bits(&[out])
    });
}

/// Through the C API: the option picks the staging, the stats say which is in use, a bad
/// value is INVALID_OPTION, and the struct from before the option still works (with the
/// default).
#[test]
fn the_staging_option_through_the_c_api() {
    use common::c_api::{create, destroy, last_error, stats, submit, task};
    use gpu_executor::ffi::*;
    use gpu_executor_status_t as S;

    let staged = |staging: u32| {
        let mut options = gpu_executor_options_default();
        options.staging = staging;
        let exec = create(&options);
        let used = stats(exec).host_staging;
        let mut rng = Rng::new(u64::from(staging) + 7);
        let c = Case::random(&mut rng, 3000);
        let mut out = poisoned(3000);
        assert_eq!(
            submit(exec, &[task(&c.a, &c.b, &mut out)]),
            S::GPU_EXECUTOR_OK
        );
        assert_matches(&out, &c.expected, "a batch on the chosen staging");
        destroy(exec);
        used
    };
    assert_eq!(
        gpu_executor_options_default().staging,
        0,
        "GPU_STAGING_AUTO"
    );
    assert_eq!(staged(gpu_staging_t::GPU_STAGING_AUTO as u32), 1);
    assert_eq!(staged(gpu_staging_t::GPU_STAGING_MAPPED as u32), 0);
    assert_eq!(staged(gpu_staging_t::GPU_STAGING_HOST as u32), 1);

    let mut options = gpu_executor_options_default();
    options.staging = 3;
    let mut exec = std::ptr::null_mut();
    let status = unsafe { gpu_executor_create(&options, &mut exec) };
    assert_eq!(status, S::GPU_EXECUTOR_INVALID_OPTION);
    assert!(exec.is_null());
    assert!(last_error().contains("staging 3"), "{}", last_error());

    // A caller compiled before `staging` (a shorter struct; the field's bytes are not
    // read even if they hold garbage): the default, host memory on lavapipe.
    let mut options = gpu_executor_options_default();
    options.struct_size = std::mem::offset_of!(gpu_executor_options_t, staging) as u32;
    options.staging = 0xDEAD;
    let exec = create(&options);
    assert_eq!(stats(exec).host_staging, 1);
    // And stats read with the struct from before `host_staging`.
    let mut old = gpu_executor_stats_t {
        struct_size: std::mem::offset_of!(gpu_executor_stats_t, host_staging) as u32,
        ..unsafe { std::mem::zeroed() }
    };
    old.host_staging = 77;
    assert_eq!(
        unsafe { gpu_executor_stats(exec, &mut old) },
        S::GPU_EXECUTOR_OK
    );
    assert_eq!(
        old.host_staging, 77,
        "bytes past the caller's struct are not written"
    );
    destroy(exec);
}

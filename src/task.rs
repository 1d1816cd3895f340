//! One unit of work in a batch, as the safe core sees it.
//!
//! Arrays are 4-byte words (`u32`) whatever the element type: the GPU side only moves and
//! packs them, and the kernel reads them as `f32`, `i32` or `u32`.

use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{KernelId, KernelKind, SlabShape, MAX_INPUTS};
use crate::ops::ElemType;

/// Most scalars an op reads from a task.
pub const MAX_SCALARS: usize = 2;

/// A task borrows its inputs and its output for the duration of one batch.
#[derive(Debug)]
pub struct Task<'a> {
    /// Op and element type.
    pub op: KernelId,
    /// The input arrays the op reads (the rest empty), each `len` elements.
    pub inputs: [&'a [u32]; MAX_INPUTS],
    /// Input elements: the output's length for element-wise ops; a reduction writes one.
    pub len: usize,
    /// The op's scalars, as bit patterns of the element type (unused ones 0).
    pub scalars: [u32; MAX_SCALARS],
    pub output: &'a mut [u32],
}

impl<'a> Task<'a> {
    /// `op` over `len` elements of `inputs` (as many as the op reads) with `scalars` (as
    /// many as it reads), writing `output` (`len` elements, or one for a reduction). Checks
    /// the op exists for the element type, the counts and the lengths.
    pub fn new(
        op: KernelId,
        len: usize,
        inputs: &[&'a [u32]],
        scalars: &[u32],
        output: &'a mut [u32],
    ) -> Result<Self> {
        let kind = op.kind()?;
        if inputs.len() != kind.arity() || scalars.len() != kind.scalars() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} reads {} input(s) and {} scalar(s), got {} and {}",
                    kind.name(),
                    kind.arity(),
                    kind.scalars(),
                    inputs.len(),
                    scalars.len()
                ),
            ));
        }
        let lengths_match =
            inputs.iter().all(|i| i.len() == len) && output.len() == kind.output_len(len);
        if !lengths_match {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} over {len} elements reads inputs of {len} and writes {} element(s)",
                    kind.name(),
                    kind.output_len(len)
                ),
            ));
        }
        let mut arrays: [&'a [u32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
        arrays[..inputs.len()].copy_from_slice(inputs);
        let mut words = [0; MAX_SCALARS];
        words[..scalars.len()].copy_from_slice(scalars);
        Ok(Self {
            op,
            inputs: arrays,
            len,
            scalars: words,
            output,
        })
    }

    /// `output = a + b` over `f32`; all three must have the same length.
    pub fn vector_add(a: &'a [f32], b: &'a [f32], output: &'a mut [f32]) -> Self {
        Self {
            op: KernelId {
                code: 1,
                ty: ElemType::F32,
            },
            inputs: [bytemuck::cast_slice(a), bytemuck::cast_slice(b), &[]],
            len: output.len(),
            scalars: [0; MAX_SCALARS],
            output: bytemuck::cast_slice_mut(output),
        }
    }

    /// The arrays the op reads, detached from the output so both can be borrowed at once.
    pub fn inputs(&self) -> TaskInputs<'a> {
        let kind = self.op.kind().ok();
        TaskInputs {
            op: self.op,
            arrays: self.inputs,
            arity: kind.map_or(0, KernelKind::arity),
            reduction: matches!(kind, Some(KernelKind::Reduction(_))),
            scalars: self.scalars,
            len: self.len,
        }
    }

    /// Number of input elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the GPU needs of a task before it runs: the op, its input arrays, scalars and the
/// output length. The output itself is only needed when the results are copied out, which
/// lets [`Executor::launch`](crate::Executor::launch) return before then.
#[derive(Clone, Copy, Debug)]
pub struct TaskInputs<'a> {
    pub op: KernelId,
    pub arrays: [&'a [u32]; MAX_INPUTS],
    /// How many of `arrays` the op reads (0 when the op is unknown: rejected at launch).
    pub arity: usize,
    /// A reduction writes one element however long its inputs.
    pub reduction: bool,
    pub scalars: [u32; MAX_SCALARS],
    /// Input elements.
    pub len: usize,
}

impl<'a> TaskInputs<'a> {
    /// `a + b` over `f32` with an output of `a.len()` elements.
    pub fn vector_add(a: &'a [f32], b: &'a [f32]) -> Self {
        Self {
            op: KernelId {
                code: 1,
                ty: ElemType::F32,
            },
            arrays: [bytemuck::cast_slice(a), bytemuck::cast_slice(b), &[]],
            arity: 2,
            reduction: false,
            scalars: [0; MAX_SCALARS],
            len: a.len(),
        }
    }

    /// The slabs this task runs on.
    pub fn shape(&self) -> SlabShape {
        SlabShape {
            arity: self.arity,
            reduction: self.reduction,
        }
    }

    /// Output elements.
    pub fn output_len(&self) -> usize {
        if self.reduction {
            1
        } else {
            self.len
        }
    }

    /// The arrays the op actually reads.
    pub fn used(&self) -> &[&'a [u32]] {
        &self.arrays[..self.arity]
    }

    /// What tasks must share to be packed into one slab: kernel and scalars.
    pub fn group(&self) -> (KernelId, [u32; MAX_SCALARS]) {
        (self.op, self.scalars)
    }
}

//! One unit of work in a batch, as the safe core sees it.
//!
//! Arrays are 4-byte words (`u32`) whatever the element type: the GPU side only moves and
//! packs them, and the kernel reads them as `f32`, `i32` or `u32`.

use crate::buffer::Region;
use crate::error::{Error, ErrorKind, Result};
use crate::kernel::{KernelId, KernelKind, SlabShape, MAX_INPUTS};
use crate::ops::{matmul_class, ElemType};
use crate::plan::{PlanItem, Whole, MAX_WHOLE_PER_SLAB};

/// Most parameter words a task carries: an op's scalars, or matmul's M, K, N and flags.
pub const MAX_SCALARS: usize = 4;

/// What tasks must share to be packed into one slab: kernel and scalars.
pub type Group = (KernelId, [u32; MAX_SCALARS]);

/// Where an input comes from: caller memory, or a region of a resident buffer.
#[derive(Clone, Debug)]
pub enum Operand<'a> {
    Host(&'a [u32]),
    Resident(Region),
}

impl Default for Operand<'_> {
    fn default() -> Self {
        Operand::Host(&[])
    }
}

/// Where an output goes: caller memory, or a region of a resident buffer.
#[derive(Debug)]
pub enum Destination<'a> {
    Host(&'a mut [u32]),
    Resident(Region),
}

/// A task borrows its inputs and its output for the duration of one batch.
#[derive(Debug)]
pub struct Task<'a> {
    /// Op and element type.
    pub op: KernelId,
    /// The host input arrays the op reads (the rest, and resident inputs, empty).
    pub inputs: [&'a [u32]; MAX_INPUTS],
    /// The resident inputs (`None` for host inputs and inputs the op does not read).
    pub resident: [Option<Region>; MAX_INPUTS],
    /// The resident output; `output` is then empty.
    pub resident_output: Option<Region>,
    /// Input elements: the output's length for element-wise ops; a reduction writes one.
    pub len: usize,
    /// The op's scalars, as bit patterns of the element type, or matmul's M, K, N and
    /// flags (unused ones 0).
    pub scalars: [u32; MAX_SCALARS],
    pub output: &'a mut [u32],
    /// `op`'s table row, looked up once.
    pub(crate) kind: Option<KernelKind>,
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
        if inputs.len() > MAX_INPUTS {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} inputs: no op reads more than {MAX_INPUTS}",
                    inputs.len()
                ),
            ));
        }
        let mut operands: [Operand<'a>; MAX_INPUTS] = Default::default();
        for (slot, &a) in operands.iter_mut().zip(inputs) {
            *slot = Operand::Host(a);
        }
        let operands = &mut operands[..inputs.len()];
        Self::with_operands(op, len, operands, scalars, Destination::Host(output))
    }

    /// `new` with inputs and output that may be regions of resident buffers. A region must
    /// lie inside its buffer (`OutOfBounds`) and hold the op's element type
    /// (`TypeMismatch`); a reduction's result lands on the host.
    /// The operands are moved out of `inputs` (left as empty host arrays).
    pub fn with_operands(
        op: KernelId,
        len: usize,
        inputs: &mut [Operand<'a>],
        scalars: &[u32],
        output: Destination<'a>,
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
        let check_region = |region: &Region, elements: usize, what: &str| -> Result<()> {
            if region.buffer.ty != op.ty {
                return Err(Error::new(
                    ErrorKind::TypeMismatch,
                    format!(
                        "{what}: buffer {:#x} holds {}, {} runs on {}",
                        region.buffer.handle,
                        region.buffer.ty.name(),
                        kind.name(),
                        op.ty.name()
                    ),
                ));
            }
            region.check_bounds(elements as u64, what)
        };
        let mut arrays: [&'a [u32]; MAX_INPUTS] = [&[]; MAX_INPUTS];
        let mut resident: [Option<Region>; MAX_INPUTS] = Default::default();
        let names = ["inputs[0]", "inputs[1]", "inputs[2]"];
        let lengths_differ = || {
            Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{} over {len} elements: the arrays' lengths do not match the op",
                    kind.name()
                ),
            )
        };
        for (k, operand) in inputs.iter_mut().enumerate() {
            let wanted = kind.input_len(k, len, scalars);
            match std::mem::take(operand) {
                Operand::Host(array) if array.len() == wanted => arrays[k] = array,
                Operand::Host(_) => return Err(lengths_differ()),
                Operand::Resident(region) => {
                    check_region(&region, wanted, names[k])?;
                    resident[k] = Some(region);
                }
            }
        }
        let out_len = kind.output_len(len);
        let (output, resident_output) = match output {
            Destination::Host(array) if array.len() == out_len => (array, None),
            Destination::Host(_) => return Err(lengths_differ()),
            Destination::Resident(region) => {
                check_region(&region, out_len, "output")?;
                (<&mut [u32]>::default(), Some(region))
            }
        };
        let mut words = [0; MAX_SCALARS];
        words[..scalars.len()].copy_from_slice(scalars);
        Ok(Self {
            op,
            inputs: arrays,
            resident,
            resident_output,
            len,
            scalars: words,
            output,
            kind: Some(kind),
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
            resident: Default::default(),
            resident_output: None,
            len: output.len(),
            scalars: [0; MAX_SCALARS],
            output: bytemuck::cast_slice_mut(output),
            kind: crate::ops::elementwise(1).map(KernelKind::Elementwise),
        }
    }

    /// `C[m×n] = A[m×k] · B[k×n]` over row-major `f32` (`b` is n×k when `transpose_b`).
    pub fn matmul(
        a: &'a [f32],
        b: &'a [f32],
        c: &'a mut [f32],
        (m, k, n): (u32, u32, u32),
        transpose_b: bool,
    ) -> Result<Self> {
        let op = KernelId {
            code: crate::ops::MATMUL,
            ty: ElemType::F32,
        };
        let len = c.len();
        Self::new(
            op,
            len,
            &[bytemuck::cast_slice(a), bytemuck::cast_slice(b)],
            &[m, k, n, u32::from(transpose_b)],
            bytemuck::cast_slice_mut(c),
        )
    }

    /// The arrays the op reads, detached from the output so both can be borrowed at once
    /// (the resident operands are borrowed from the task).
    pub fn inputs(&self) -> TaskInputs<'_> {
        let kind = self.kind.or_else(|| self.op.kind().ok());
        TaskInputs {
            op: self.op,
            arrays: self.inputs,
            resident: [0, 1, 2].map(|k| self.resident[k].as_ref()),
            resident_output: self.resident_output.as_ref(),
            arity: kind.map_or(0, KernelKind::arity),
            kind,
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
    /// Host inputs (resident ones empty).
    pub arrays: [&'a [u32]; MAX_INPUTS],
    /// Resident inputs.
    pub resident: [Option<&'a Region>; MAX_INPUTS],
    /// Resident output, if the output is not host memory.
    pub resident_output: Option<&'a Region>,
    /// How many of `arrays` the op reads (0 when the op is unknown: rejected at launch).
    pub arity: usize,
    /// What the op is (`None` when unknown: rejected at launch).
    pub kind: Option<KernelKind>,
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
            resident: [None; MAX_INPUTS],
            resident_output: None,
            arity: 2,
            kind: crate::ops::elementwise(1).map(KernelKind::Elementwise),
            scalars: [0; MAX_SCALARS],
            len: a.len(),
        }
    }

    /// The slabs this task runs on.
    pub fn shape(&self) -> SlabShape {
        SlabShape {
            arity: self.arity,
            reduction: matches!(self.kind, Some(KernelKind::Reduction(_))),
        }
    }

    /// Output elements the host receives: none when the output is resident.
    pub fn host_output_len(&self) -> usize {
        if self.resident_output.is_some() {
            0
        } else {
            self.output_len()
        }
    }

    /// Whether input `k` or the output is resident.
    pub fn touches_resident(&self) -> bool {
        self.resident_output.is_some() || self.resident.iter().any(Option::is_some)
    }

    /// Output elements.
    pub fn output_len(&self) -> usize {
        self.kind.map_or(self.len, |kind| kind.output_len(self.len))
    }

    /// Elements of input `k`.
    pub fn input_len(&self, k: usize) -> usize {
        self.kind
            .map_or(self.len, |kind| kind.input_len(k, self.len, &self.scalars))
    }

    /// How the planner sees the task: its group, its length and, for a whole-array task
    /// (matmul), the elements it reserves per array and its pipeline class.
    pub fn plan_item(&self) -> PlanItem<Group> {
        let footprint = (0..self.arity)
            .map(|k| self.input_len(k))
            .chain(std::iter::once(self.len))
            .max()
            .unwrap_or(0);
        let whole = match self.kind {
            Some(KernelKind::Matmul) => Some(Whole {
                footprint,
                class: matmul_class(self.scalars[0], self.scalars[2]),
                per_slab: MAX_WHOLE_PER_SLAB,
            }),
            Some(KernelKind::User(info)) if !info.elementwise => Some(Whole {
                footprint,
                class: 0,
                per_slab: 1,
            }),
            _ => None,
        };
        PlanItem {
            group: self.group(),
            len: self.len,
            whole,
        }
    }

    /// The arrays the op actually reads.
    pub fn used(&self) -> &[&'a [u32]] {
        &self.arrays[..self.arity]
    }

    /// What tasks must share to be packed into one slab: kernel and scalars.
    pub fn group(&self) -> Group {
        (self.op, self.scalars)
    }
}

//! One unit of work in a batch, as the safe core sees it.

/// The operation a task runs. Element-wise ops read `inputs` of the output's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// `out[i] = a[i] + b[i]` over `f32`.
    VectorAdd,
}

impl Op {
    /// How many input arrays the op reads.
    pub fn arity(self) -> usize {
        match self {
            Op::VectorAdd => 2,
        }
    }
}

/// A task borrows its inputs and its output for the duration of one batch.
#[derive(Debug)]
pub struct Task<'a> {
    pub op: Op,
    pub inputs: [&'a [f32]; 2],
    pub output: &'a mut [f32],
}

impl<'a> Task<'a> {
    /// `output = a + b`; all three must have the same length.
    pub fn vector_add(a: &'a [f32], b: &'a [f32], output: &'a mut [f32]) -> Self {
        Self {
            op: Op::VectorAdd,
            inputs: [a, b],
            output,
        }
    }

    /// The arrays the op reads, detached from the output so both can be borrowed at once.
    pub fn inputs(&self) -> TaskInputs<'a> {
        TaskInputs {
            op: self.op,
            arrays: self.inputs,
            len: self.len(),
        }
    }

    /// Number of output elements.
    pub fn len(&self) -> usize {
        self.output.len()
    }

    pub fn is_empty(&self) -> bool {
        self.output.is_empty()
    }
}

/// What the GPU needs of a task before it runs: the op, its input arrays and the output
/// length. The output itself is only needed when the results are copied out, which lets
/// [`Executor::launch`](crate::Executor::launch) return before then.
#[derive(Clone, Copy, Debug)]
pub struct TaskInputs<'a> {
    pub op: Op,
    pub arrays: [&'a [f32]; 2],
    /// Output elements.
    pub len: usize,
}

impl<'a> TaskInputs<'a> {
    /// `a + b` with an output of `a.len()` elements.
    pub fn vector_add(a: &'a [f32], b: &'a [f32]) -> Self {
        Self {
            op: Op::VectorAdd,
            arrays: [a, b],
            len: a.len(),
        }
    }

    /// How many input arrays the op reads.
    pub fn arity(&self) -> usize {
        self.op.arity()
    }

    /// The arrays the op actually reads.
    pub fn used(&self) -> &[&'a [f32]] {
        &self.arrays[..self.arity()]
    }
}

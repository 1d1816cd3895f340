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
            arrays: self.inputs,
            arity: self.op.arity(),
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

/// A task's input arrays, copied out of the task (they are shared borrows).
#[derive(Clone, Copy, Debug)]
pub struct TaskInputs<'a> {
    pub arrays: [&'a [f32]; 2],
    pub arity: usize,
}

impl<'a> TaskInputs<'a> {
    /// The arrays the op actually reads.
    pub fn used(&self) -> &[&'a [f32]] {
        &self.arrays[..self.arity]
    }
}

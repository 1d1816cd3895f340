//! The kernel table: every built-in element-wise op as one row (its C op code, how many
//! arrays and scalars it reads, and its WGSL expression per element type). The executor
//! never matches on an op: pipelines, bind group layouts, slabs and validation all follow
//! from the row, and a kernel's WGSL is the row's expression put into
//! `shaders/elementwise.wgsl`.
//!
//! Expressions work on `vec4<T>` values named `a`, `b`, `c` (the inputs) and `s0`, `s1`
//! (the task's scalars, splatted to `vec4<T>`).

/// Element type of a task's arrays: 4 bytes each, so any array fits any slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ElemType {
    F32,
    I32,
    U32,
}

impl ElemType {
    pub const ALL: [ElemType; 3] = [ElemType::F32, ElemType::I32, ElemType::U32];

    /// The WGSL scalar type.
    pub fn wgsl(self) -> &'static str {
        match self {
            ElemType::F32 => "f32",
            ElemType::I32 => "i32",
            ElemType::U32 => "u32",
        }
    }

    pub fn name(self) -> &'static str {
        self.wgsl()
    }
}

/// One built-in element-wise op.
#[derive(Debug)]
pub struct ElementwiseOp {
    /// Its `gpu_op_t` value.
    pub code: u32,
    pub name: &'static str,
    /// Input arrays read (1 to 3).
    pub arity: usize,
    /// Scalars read from the task's `params` (bit patterns of the element type).
    pub scalars: usize,
    /// WGSL per element type; `None` where the op does not exist for that type.
    pub f32: Option<&'static str>,
    pub i32: Option<&'static str>,
    pub u32: Option<&'static str>,
}

impl ElementwiseOp {
    pub fn expression(&self, ty: ElemType) -> Option<&'static str> {
        match ty {
            ElemType::F32 => self.f32,
            ElemType::I32 => self.i32,
            ElemType::U32 => self.u32,
        }
    }

    /// Element types the op supports.
    pub fn types(&self) -> impl Iterator<Item = ElemType> + '_ {
        ElemType::ALL
            .into_iter()
            .filter(|&t| self.expression(t).is_some())
    }
}

const fn op(
    code: u32,
    name: &'static str,
    arity: usize,
    scalars: usize,
    f32: Option<&'static str>,
    i32: Option<&'static str>,
    u32: Option<&'static str>,
) -> ElementwiseOp {
    ElementwiseOp {
        code,
        name,
        arity,
        scalars,
        f32,
        i32,
        u32,
    }
}

/// The same expression for every element type.
const fn all(
    code: u32,
    name: &'static str,
    arity: usize,
    scalars: usize,
    e: &'static str,
) -> ElementwiseOp {
    op(code, name, arity, scalars, Some(e), Some(e), Some(e))
}

/// Floating point only.
const fn float(
    code: u32,
    name: &'static str,
    arity: usize,
    scalars: usize,
    e: &'static str,
) -> ElementwiseOp {
    op(code, name, arity, scalars, Some(e), None, None)
}

/// Op code of `COPY` (`out = a`), which reads buffers back.
pub const COPY: u32 = 22;

/// Every built-in element-wise op. Codes are part of the ABI: only ever appended.
pub const ELEMENTWISE: &[ElementwiseOp] = &[
    all(1, "ADD", 2, 0, "a + b"),
    all(2, "SUB", 2, 0, "a - b"),
    all(3, "MUL", 2, 0, "a * b"),
    // Integer division by zero gives the dividend (WGSL's rule), as does i32::MIN / -1.
    all(4, "DIV", 2, 0, "a / b"),
    all(5, "MIN", 2, 0, "min(a, b)"),
    all(6, "MAX", 2, 0, "max(a, b)"),
    float(7, "POW", 2, 0, "pow(a, b)"),
    op(8, "NEG", 1, 0, Some("-a"), Some("-a"), None),
    op(9, "ABS", 1, 0, Some("abs(a)"), Some("abs(a)"), None),
    float(10, "SQRT", 1, 0, "sqrt(a)"),
    float(11, "EXP", 1, 0, "exp(a)"),
    float(12, "LOG", 1, 0, "log(a)"),
    float(13, "SIN", 1, 0, "sin(a)"),
    float(14, "COS", 1, 0, "cos(a)"),
    float(15, "TANH", 1, 0, "tanh(a)"),
    op(
        16,
        "RELU",
        1,
        0,
        Some("max(a, vec4<f32>(0.0))"),
        Some("max(a, vec4<i32>(0))"),
        None,
    ),
    float(17, "SIGMOID", 1, 0, "1.0 / (1.0 + exp(-a))"),
    all(18, "SCALE", 1, 1, "a * s0"),
    all(19, "AXPY", 2, 1, "s0 * a + b"),
    // max then min, so a NaN bound or lo > hi is well defined (hi wins).
    all(20, "CLAMP", 1, 2, "min(max(a, s0), s1)"),
    op(
        21,
        "FMA",
        3,
        0,
        Some("fma(a, b, c)"),
        Some("a * b + c"),
        Some("a * b + c"),
    ),
    // Moves data: between buffers, or from a buffer to the host.
    all(22, "COPY", 1, 0, "a"),
];

/// The row of op code `code`.
pub fn elementwise(code: u32) -> Option<&'static ElementwiseOp> {
    // Codes run 1, 2, 3, … in table order (a test keeps them so): the code is the index.
    ELEMENTWISE
        .get((code as usize).wrapping_sub(1))
        .filter(|op| op.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_rows_are_well_formed() {
        for (i, op) in ELEMENTWISE.iter().enumerate() {
            assert_eq!(
                op.code as usize,
                i + 1,
                "{}: codes follow table order",
                op.name
            );
            assert!((1..=3).contains(&op.arity), "{}", op.name);
            assert!(op.scalars <= 2, "{}", op.name);
            assert!(op.f32.is_some(), "{}: every op exists for f32", op.name);
        }
        assert_eq!(elementwise(1).map(|o| o.name), Some("ADD"));
        assert!(elementwise(0).is_none());
    }
}

/// How a reduction combines two values; also how the host combines the per-block partials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    Sum,
    Min,
    Max,
}

/// What the host does with the combined value (in `f64`) before writing the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Identity,
    /// Divided by the element count.
    Mean,
    SquareRoot,
}

/// One built-in reduction over `f32`: `map` turns the inputs' elements into values, which
/// are combined on the GPU per block of [`REDUCE_BLOCK`] elements (a tree in workgroup
/// memory) and the blocks' partials on the host in `f64`.
#[derive(Debug)]
pub struct ReductionOp {
    pub code: u32,
    pub name: &'static str,
    pub arity: usize,
    /// WGSL over `vec4<f32>` values `a`, `b`.
    pub map: &'static str,
    pub combine: Combine,
    pub finish: Finish,
}

/// Elements one workgroup reduces to one partial.
pub const REDUCE_BLOCK: u64 = 4096;

/// Every built-in reduction. Codes are part of the ABI: only ever appended.
pub const REDUCTIONS: &[ReductionOp] = &[
    ReductionOp {
        code: 64,
        name: "SUM",
        arity: 1,
        map: "a",
        combine: Combine::Sum,
        finish: Finish::Identity,
    },
    ReductionOp {
        code: 65,
        name: "REDUCE_MIN",
        arity: 1,
        map: "a",
        combine: Combine::Min,
        finish: Finish::Identity,
    },
    ReductionOp {
        code: 66,
        name: "REDUCE_MAX",
        arity: 1,
        map: "a",
        combine: Combine::Max,
        finish: Finish::Identity,
    },
    ReductionOp {
        code: 67,
        name: "MEAN",
        arity: 1,
        map: "a",
        combine: Combine::Sum,
        finish: Finish::Mean,
    },
    ReductionOp {
        code: 68,
        name: "DOT",
        arity: 2,
        map: "a * b",
        combine: Combine::Sum,
        finish: Finish::Identity,
    },
    ReductionOp {
        code: 69,
        name: "NORM2",
        arity: 1,
        map: "a * a",
        combine: Combine::Sum,
        finish: Finish::SquareRoot,
    },
];

/// The reduction of op code `code`.
pub fn reduction(code: u32) -> Option<&'static ReductionOp> {
    REDUCTIONS.iter().find(|op| op.code == code)
}

impl Combine {
    /// The value that changes nothing: also the result over zero elements (before
    /// `Finish`).
    pub fn identity(self) -> f64 {
        match self {
            Combine::Sum => 0.0,
            Combine::Min => f64::INFINITY,
            Combine::Max => f64::NEG_INFINITY,
        }
    }

    /// Combines two partials; a NaN wins, as on the GPU (`f64::min` would drop it).
    pub fn apply(self, x: f64, y: f64) -> f64 {
        match self {
            Combine::Sum => x + y,
            _ if x.is_nan() || y.is_nan() => f64::NAN,
            Combine::Min => x.min(y),
            Combine::Max => x.max(y),
        }
    }

    /// The WGSL that combines `x` and `y`, and the WGSL identity.
    pub fn wgsl(self) -> (&'static str, &'static str) {
        match self {
            Combine::Sum => ("x + y", "0.0"),
            // A NaN input makes the result NaN, as on the host. NaN is tested on the bits:
            // compilers may fold `x != x` to false.
            Combine::Min => (
                "select(min(x, y), x + y, is_nan(x) || is_nan(y))",
                "bitcast<f32>(0x7f800000u)",
            ),
            Combine::Max => (
                "select(max(x, y), x + y, is_nan(x) || is_nan(y))",
                "bitcast<f32>(0xff800000u)",
            ),
        }
    }
}

impl ReductionOp {
    /// The final result over `count` elements from the combined partials.
    pub fn finish(&self, combined: f64, count: usize) -> f32 {
        match self.finish {
            Finish::Identity => combined as f32,
            Finish::Mean => (combined / count as f64) as f32,
            Finish::SquareRoot => combined.sqrt() as f32,
        }
    }
}

/// `gpu_op_t` of matrix multiply: `C[M×N] = A[M×K] · B[K×N]`, row-major `f32`.
pub const MATMUL: u32 = 128;

/// Matmul's pipeline classes, by the tile one workgroup computes: 128×128 when both M and
/// N are at least 128, 64×64 when at least 64, else 16×16 (small and thin shapes waste
/// less of a tile).
pub fn matmul_class(m: u32, n: u32) -> u64 {
    match m.min(n) {
        128.. => 128,
        64.. => 64,
        _ => 16,
    }
}

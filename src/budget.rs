//! Bytes in flight: the slab memory of batches launched and not yet finished or dropped,
//! and the budget asynchronous batches are admitted under (`Config::max_in_flight_bytes`).
//!
//! A batch's slabs stay with it until its results are copied out (`finish`) or it is
//! dropped; the GPU completing it frees nothing by itself. So an asynchronous batch over
//! budget is refused (`OverBudget`) rather than made to wait: the memory it waits for may
//! belong to tickets the waiting thread itself holds, and it would wait for ever.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};

/// The executor's totals.
#[derive(Default)]
pub struct InFlight {
    /// Every batch in flight, blocking or asynchronous.
    all: AtomicU64,
    /// Batches admitted under the budget (asynchronous ones).
    budgeted: AtomicU64,
}

/// One batch's share of the totals, given back when the batch is finished or dropped.
#[derive(Default)]
pub struct Held {
    totals: Option<Arc<InFlight>>,
    bytes: u64,
    budgeted: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(totals) = &self.totals {
            totals.all.fetch_sub(self.bytes, Ordering::AcqRel);
            if self.budgeted {
                totals.budgeted.fetch_sub(self.bytes, Ordering::AcqRel);
            }
        }
    }
}

impl InFlight {
    /// Bytes held by every batch in flight now.
    pub fn bytes(&self) -> u64 {
        self.all.load(Ordering::Acquire)
    }

    /// Counts a batch that is not under the budget (a blocking one: it finishes itself).
    pub fn hold(self: &Arc<Self>, bytes: u64) -> Held {
        self.all.fetch_add(bytes, Ordering::AcqRel);
        Held {
            totals: Some(Arc::clone(self)),
            bytes,
            budgeted: false,
        }
    }

    /// Admits an asynchronous batch of `bytes` when the budgeted batches in flight and it
    /// stay within `budget` (0: no budget), or when no budgeted batch is in flight (a lone
    /// batch always runs, however big); `OverBudget` otherwise.
    pub fn admit(self: &Arc<Self>, bytes: u64, budget: u64) -> Result<Held> {
        let admitted = self
            .budgeted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                let fits = budget == 0 || held == 0 || held.saturating_add(bytes) <= budget;
                fits.then(|| held + bytes)
            });
        match admitted {
            Ok(_) => {
                self.all.fetch_add(bytes, Ordering::AcqRel);
                Ok(Held {
                    totals: Some(Arc::clone(self)),
                    bytes,
                    budgeted: true,
                })
            }
            Err(held) => Err(Error::new(
                ErrorKind::OverBudget,
                format!(
                    "this batch's {bytes} bytes would take the asynchronous batches in flight ({held} bytes) past max_in_flight_bytes ({budget}); nothing was submitted: wait for or drop an earlier ticket (the GPU finishing it frees nothing until then), then submit again"
                ),
            )),
        }
    }
}

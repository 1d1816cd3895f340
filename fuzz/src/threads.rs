//! Threads sharing the executors: waits and polls on the same tickets, batches, and
//! asynchronous batches waited for with short timeouts, all at once. Afterwards every
//! ticket must have been completed at most once, and only a ticket that some thread
//! completed may be reported unknown.

use gpu_executor::ffi::*;

use crate::batch::Batch;
use crate::check::{self, finding, known, Known};
use crate::ops::{decode_timeout, submit_async, sync_batch, BATCH_ERRORS, SMALL};
use crate::{Pending, Session};

use gpu_executor_status_t as S;

enum Action {
    /// A ticket of the session's; `timeout` 0 from a poll.
    Wait {
        e: usize,
        ticket: u64,
        timeout: u64,
        poll: bool,
    },
    Batch {
        e: usize,
        batch: Batch,
    },
    /// Submits asynchronously, then waits with each timeout in turn (until completed).
    RoundTrip {
        e: usize,
        batch: Batch,
        timeouts: Vec<u64>,
    },
}

/// What a thread saw when it waited.
struct Seen {
    e: usize,
    ticket: u64,
    /// 0 for a poll.
    timeout: u64,
    status: S,
    call: String,
    /// On a ticket the thread was issued itself (checked in the thread).
    own: bool,
}

/// What a thread hands back: its waits, the tickets it was issued, and the batches of the
/// ones it could not complete (a PANIC came first), which must stay alive.
#[derive(Default)]
struct Outcome {
    seen: Vec<Seen>,
    issued: Vec<(usize, u64)>,
    unfinished: Vec<(usize, u64, Batch)>,
}

#[derive(Clone, Copy)]
struct Handles([*mut gpu_executor_t; 2]);

// SAFETY: executor handles are documented thread-safe.
unsafe impl Send for Handles {}
unsafe impl Sync for Handles {}

fn wait(handle: *mut gpu_executor_t, e: usize, ticket: u64, timeout: u64, poll: bool) -> Seen {
    let start = std::time::Instant::now();
    // SAFETY: the outputs of every ticket in flight live in the session or in this
    // thread's batches, which outlive the call.
    let status = unsafe {
        if poll {
            gpu_executor_poll(handle, ticket)
        } else {
            gpu_executor_wait(handle, ticket, timeout)
        }
    };
    let took = start.elapsed();
    let message = check::last_error();
    let call = if poll {
        format!("gpu_executor_poll(ticket {ticket}) on executor {e} in a thread")
    } else {
        format!(
            "gpu_executor_wait(ticket {ticket}, timeout {timeout} ns) on executor {e} in a thread"
        )
    };
    Seen {
        e,
        ticket,
        timeout,
        status,
        call: format!("{call}: {status:?} ({message:?}) after {took:?}"),
        own: false,
    }
}

fn act(handles: Handles, actions: Vec<Action>, extra: [Vec<S>; 2]) -> Outcome {
    let mut out = Outcome::default();
    for action in actions {
        match action {
            Action::Wait {
                e,
                ticket,
                timeout,
                poll,
            } => out.seen.push(wait(handles.0[e], e, ticket, timeout, poll)),
            Action::Batch { e, batch } => sync_batch(handles.0[e], &batch, &extra[e]),
            Action::RoundTrip { e, batch, timeouts } => {
                let handle = handles.0[e];
                let Some(ticket) = submit_async(handle, &batch, false, &extra[e]) else {
                    continue;
                };
                out.issued.push((e, ticket));
                let mut state = S::GPU_EXECUTOR_NOT_READY;
                for timeout in timeouts.into_iter().chain([u64::MAX]) {
                    let seen = Seen {
                        own: true,
                        ..wait(handle, e, ticket, timeout, false)
                    };
                    state = seen.status;
                    let fine = match state {
                        S::GPU_EXECUTOR_OK | S::GPU_EXECUTOR_PANIC => true,
                        S::GPU_EXECUTOR_NOT_READY => timeout != u64::MAX,
                        s => extra[e].contains(&s),
                    };
                    if BATCH_ERRORS.contains(&state) {
                        // SAFETY: as in wait().
                        let again = unsafe { gpu_executor_poll(handle, ticket) };
                        if again != S::GPU_EXECUTOR_UNKNOWN_TICKET {
                            known(
                                Known::FailedTicketNotSpent,
                                format!("{}, then poll: {again:?}", seen.call),
                            );
                        }
                    }
                    if !fine {
                        finding(format!("{} (its own ticket)", seen.call));
                    }
                    // PANIC: reported by reconcile, on this thread's view of the ticket.
                    out.seen.push(seen);
                    if state != S::GPU_EXECUTOR_NOT_READY {
                        break;
                    }
                }
                if state == S::GPU_EXECUTOR_OK {
                    batch.expect_results(&format!("ticket {ticket} waited for in its thread"));
                } else {
                    out.unfinished.push((e, ticket, batch));
                }
            }
        }
    }
    out
}

impl Session<'_, '_> {
    pub(crate) fn op_threads(&mut self) {
        let threads = 2 + self.input.below(2);
        let mut plans: Vec<Vec<Action>> = Vec::new();
        for _ in 0..threads {
            let n = 1 + self.input.below(3);
            let mut actions = Vec::new();
            for _ in 0..n {
                let kind = self.input.u8() % 5;
                let e = usize::from(self.input.u8() & 1);
                if kind == 3 {
                    let batch = Batch::decode(&mut self.input, SMALL);
                    actions.push(Action::Batch { e, batch });
                    continue;
                }
                if kind == 4 {
                    let timeouts = (0..self.input.below(4))
                        .map(|_| self.input.range(0, 2_000_000) as u64)
                        .collect();
                    let batch = Batch::decode(&mut self.input, SMALL);
                    actions.push(Action::RoundTrip { e, batch, timeouts });
                    continue;
                }
                let index = self.input.u8() as usize;
                let ticket = match index % 4 {
                    0..=2 if !self.pending[e].is_empty() => {
                        self.pending[e][index % self.pending[e].len()].ticket
                    }
                    _ if !self.spent[e].is_empty() => self.spent[e][index % self.spent[e].len()],
                    _ => u64::from(self.input.u8()),
                };
                let poll = kind == 2;
                let timeout = if poll {
                    0
                } else {
                    decode_timeout(&mut self.input)
                };
                actions.push(Action::Wait {
                    e,
                    ticket,
                    timeout,
                    poll,
                });
            }
            plans.push(actions);
        }

        let handles = Handles([self.shared.execs[0].handle, self.shared.execs[1].handle]);
        let extra = [self.extra(0), self.extra(1)];
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let workers: Vec<_> = plans
                .into_iter()
                .map(|actions| {
                    let extra = extra.clone();
                    scope.spawn(move || act(handles, actions, extra))
                })
                .collect();
            workers
                .into_iter()
                .map(|w| match w.join() {
                    Ok(outcome) => outcome,
                    // The thread's finding was already printed; carry it to this thread.
                    Err(payload) => std::panic::resume_unwind(payload),
                })
                .collect()
        });
        let mut seen = Vec::new();
        let mut unfinished = Vec::new();
        for outcome in outcomes {
            for (e, ticket) in outcome.issued {
                if !self.shared.execs[e].issued.insert(ticket) {
                    finding(format!("a thread was issued ticket {ticket} a second time"));
                }
            }
            seen.extend(outcome.seen);
            unfinished.extend(outcome.unfinished);
        }
        self.reconcile(&seen);
        // Still in the library's hands after a PANIC: kept alive until completed at the end.
        for (e, ticket, batch) in unfinished {
            self.pending[e].push(Pending {
                ticket,
                batch,
                tainted: true,
            });
        }
    }

    /// Checks what the threads saw against the tickets in flight before they started.
    fn reconcile(&mut self, seen: &[Seen]) {
        for e in 0..2 {
            let mine: Vec<&Seen> = seen.iter().filter(|s| s.e == e).collect();
            let mut completed = Vec::new();
            for s in &mine {
                if s.status == S::GPU_EXECUTOR_PANIC {
                    if s.timeout != u64::MAX {
                        known(Known::ThreadedWaitPanic, &s.call);
                    } else {
                        finding(&s.call);
                    }
                    self.shared.execs[e].panicked = true;
                    if let Some(p) = self.pending[e].iter_mut().find(|p| p.ticket == s.ticket) {
                        p.tainted = true;
                    }
                }
            }
            let poisoned = mine.iter().any(|s| s.status == S::GPU_EXECUTOR_POISONED);
            if poisoned && self.poisoned_allowed(e, S::GPU_EXECUTOR_POISONED) {
                continue;
            }
            // The threads checked their own tickets themselves.
            let mine: Vec<&Seen> = mine.into_iter().filter(|s| !s.own).collect();
            for (index, p) in self.pending[e].iter().enumerate() {
                let on_it: Vec<&&Seen> = mine.iter().filter(|s| s.ticket == p.ticket).collect();
                let oks = on_it
                    .iter()
                    .filter(|s| s.status == S::GPU_EXECUTOR_OK)
                    .count();
                if oks > 1 {
                    finding(format!(
                        "ticket {} of executor {e} completed {oks} times: {:?}",
                        p.ticket,
                        on_it.iter().map(|s| &s.call).collect::<Vec<_>>()
                    ));
                }
                for s in &on_it {
                    let fine = match s.status {
                        S::GPU_EXECUTOR_OK | S::GPU_EXECUTOR_PANIC => true,
                        S::GPU_EXECUTOR_NOT_READY => s.timeout != u64::MAX,
                        // Another thread completed it first, or a PANIC lost it.
                        S::GPU_EXECUTOR_UNKNOWN_TICKET => oks == 1 || p.tainted,
                        _ => false,
                    };
                    if !fine {
                        finding(format!(
                            "{} (ticket in flight; {oks} threads completed it)",
                            s.call
                        ));
                    }
                }
                if oks == 1 {
                    completed.push(index);
                }
            }
            for s in &mine {
                let in_flight = self.pending[e].iter().any(|p| p.ticket == s.ticket);
                let expected = matches!(
                    s.status,
                    S::GPU_EXECUTOR_UNKNOWN_TICKET | S::GPU_EXECUTOR_PANIC
                );
                if !in_flight && !expected {
                    finding(format!("{} (ticket not in flight)", s.call));
                }
            }
            for index in completed.into_iter().rev() {
                let p = self.pending[e].remove(index);
                if !p.tainted {
                    p.batch
                        .expect_results(&format!("ticket {} completed in a thread", p.ticket));
                }
                self.spent[e].push(p.ticket);
            }
        }
    }
}

//! Threads sharing the executors: waits and polls on the same tickets, and batches, at
//! once. Afterwards every ticket must have been completed at most once, and only a ticket
//! that some thread completed may be reported unknown.

use gpu_executor::ffi::*;

use crate::batch::Batch;
use crate::check::{self, finding, known, Known};
use crate::ops::{decode_timeout, sync_batch, SMALL};
use crate::Session;

use gpu_executor_status_t as S;

enum Action {
    /// `timeout` 0 from a poll.
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
}

/// What a thread saw when it waited.
struct Seen {
    e: usize,
    ticket: u64,
    /// 0 for a poll.
    timeout: u64,
    status: S,
    call: String,
}

#[derive(Clone, Copy)]
struct Handles([*mut gpu_executor_t; 2]);

// SAFETY: executor handles are documented thread-safe.
unsafe impl Send for Handles {}
unsafe impl Sync for Handles {}

fn act(handles: Handles, actions: Vec<Action>, extra: [Vec<S>; 2]) -> Vec<Seen> {
    let mut seen = Vec::new();
    for action in actions {
        match action {
            Action::Wait {
                e,
                ticket,
                timeout,
                poll,
            } => {
                let handle = handles.0[e];
                // SAFETY: the outputs of every ticket in flight live in the session, which
                // outlives these threads.
                let status = unsafe {
                    if poll {
                        gpu_executor_poll(handle, ticket)
                    } else {
                        gpu_executor_wait(handle, ticket, timeout)
                    }
                };
                let call = if poll {
                    format!("gpu_executor_poll(ticket {ticket}) on executor {e} in a thread")
                } else {
                    format!(
                        "gpu_executor_wait(ticket {ticket}, timeout {timeout} ns) on executor \
                         {e} in a thread"
                    )
                };
                let message = check::last_error();
                let call = format!("{call}: {status:?} ({message:?})");
                seen.push(Seen {
                    e,
                    ticket,
                    timeout,
                    status,
                    call,
                });
            }
            Action::Batch { e, batch } => sync_batch(handles.0[e], &batch, &extra[e]),
        }
    }
    seen
}

impl Session<'_, '_> {
    pub(crate) fn op_threads(&mut self) {
        let threads = 2 + self.input.below(2);
        let mut plans: Vec<Vec<Action>> = Vec::new();
        for _ in 0..threads {
            let n = 1 + self.input.below(3);
            let mut actions = Vec::new();
            for _ in 0..n {
                let kind = self.input.u8() % 4;
                let e = usize::from(self.input.u8() & 1);
                if kind == 3 {
                    let batch = Batch::decode(&mut self.input, SMALL);
                    actions.push(Action::Batch { e, batch });
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
        let seen: Vec<Seen> = std::thread::scope(|scope| {
            let workers: Vec<_> = plans
                .into_iter()
                .map(|actions| {
                    let extra = extra.clone();
                    scope.spawn(move || act(handles, actions, extra))
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| match w.join() {
                    Ok(seen) => seen,
                    // The thread's finding was already printed; carry it to this thread.
                    Err(payload) => std::panic::resume_unwind(payload),
                })
                .collect()
        });
        self.reconcile(&seen);
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

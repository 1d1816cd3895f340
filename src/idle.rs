//! Idle memory and its cap: the slab pool, the exact-size cache and the direct path's idle
//! block tables, under one byte limit (`Config::max_idle_bytes`).
//!
//! Everything put back is stamped with a tick from one clock; while the three together
//! hold more than the cap, the least recently returned item of any of them is evicted. What
//! is evicted is handed back to the caller, who drops it after releasing the lock: freeing
//! GPU buffers is not quick, and nobody should wait behind it.

use crate::direct::{BindKey, DirectTable};
use crate::exact_cache::{ExactKey, ExactSizeCache};
use crate::pool::SlabPool;
use crate::slab::Slab;
use crate::stats::Stats;

/// Most idle direct tables kept, whatever the cap.
const MAX_IDLE_TABLES: usize = 16;

/// What the cap (or a trim) took out: drop it outside the lock.
#[derive(Default)]
#[must_use = "drop it outside the lock"]
pub struct Evicted {
    slabs: Vec<Slab>,
    tables: Vec<DirectTable>,
}

pub struct IdleMemory {
    pub pool: SlabPool,
    pub exact: ExactSizeCache,
    /// (tick, table), oldest first.
    tables: Vec<(u64, DirectTable)>,
    table_bytes: u64,
    /// Most bytes the three hold together.
    cap: u64,
    /// Ticks stamped on what comes back.
    clock: u64,
}

/// Which store holds the least recently returned item.
#[derive(Clone, Copy)]
enum Store {
    Pool,
    Exact,
    Tables,
}

impl IdleMemory {
    pub fn new(cap: u64, exact_capacity: usize) -> Self {
        Self {
            pool: SlabPool::default(),
            exact: ExactSizeCache::new(exact_capacity),
            tables: Vec::new(),
            table_bytes: 0,
            cap,
            clock: 0,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Bytes held now by the pool, the exact-size cache and the idle tables together.
    pub fn bytes(&self) -> u64 {
        self.pool.bytes() + self.exact.bytes() + self.table_bytes
    }

    /// Bytes the idle tables hold.
    pub fn table_bytes(&self) -> u64 {
        self.table_bytes
    }

    /// Returns slabs from a pooled batch, then enforces the cap.
    pub fn give_back_slabs(
        &mut self,
        slabs: impl Iterator<Item = Slab>,
        stats: &mut Stats,
    ) -> Evicted {
        let mut out = Evicted::default();
        for slab in slabs {
            let tick = self.tick();
            out.slabs.extend(self.pool.give_back(slab, tick));
        }
        self.enforce(&mut out, stats);
        out
    }

    /// Stores an exact-size entry, then enforces the cap.
    pub fn put_exact(&mut self, len: ExactKey, slabs: Vec<Slab>, stats: &mut Stats) -> Evicted {
        let tick = self.tick();
        let mut out = Evicted {
            slabs: self.exact.put(len, slabs, tick, stats),
            tables: Vec::new(),
        };
        self.enforce(&mut out, stats);
        out
    }

    /// An idle table of at least `bytes` bytes, rather one bound to `bind`.
    pub fn take_table(&mut self, bytes: u64, bind: Option<&BindKey>) -> Option<DirectTable> {
        let fits = |t: &DirectTable| t.capacity >= bytes;
        let i = bind
            .and_then(|bind| {
                self.tables
                    .iter()
                    .position(|(_, t)| fits(t) && t.bound_key() == Some(bind))
            })
            .or_else(|| self.tables.iter().position(|(_, t)| fits(t)))?;
        let (_, table) = self.tables.remove(i);
        self.table_bytes -= table.bytes();
        Some(table)
    }

    /// Returns a finished batch's tables (up to `MAX_IDLE_TABLES` idle), then enforces
    /// the cap.
    pub fn give_back_tables(
        &mut self,
        tables: impl Iterator<Item = DirectTable>,
        stats: &mut Stats,
    ) -> Evicted {
        let mut out = Evicted::default();
        for table in tables {
            if self.tables.len() < MAX_IDLE_TABLES && table.is_reusable() {
                self.table_bytes += table.bytes();
                let tick = self.tick();
                self.tables.push((tick, table));
            } else {
                out.tables.push(table);
            }
        }
        self.enforce(&mut out, stats);
        out
    }

    /// Evicts least recently returned items until the cap holds.
    fn enforce(&mut self, out: &mut Evicted, stats: &mut Stats) {
        while self.bytes() > self.cap {
            let candidates = [
                (self.pool.oldest(), Store::Pool),
                (self.exact.oldest(), Store::Exact),
                (self.tables.first().map(|(tick, _)| *tick), Store::Tables),
            ];
            let Some((_, store)) = candidates
                .into_iter()
                .filter_map(|(tick, store)| tick.map(|t| (t, store)))
                .min_by_key(|(tick, _)| *tick)
            else {
                break;
            };
            match store {
                Store::Pool => {
                    if let Some(slab) = self.pool.evict_oldest() {
                        stats.pool_evictions += 1;
                        stats.evicted_bytes += slab.bytes();
                        out.slabs.push(slab);
                    }
                }
                // Counts its own eviction and bytes (it also evicts beyond its capacity).
                Store::Exact => out.slabs.extend(self.exact.evict_oldest(stats)),
                Store::Tables => {
                    let (_, table) = self.tables.remove(0);
                    self.table_bytes -= table.bytes();
                    stats.table_evictions += 1;
                    stats.evicted_bytes += table.bytes();
                    out.tables.push(table);
                }
            }
        }
    }

    /// Takes everything out (trim, or after a GPU failure), keeping the cap.
    pub fn take_all(&mut self) -> Evicted {
        let exact = std::mem::replace(&mut self.exact, ExactSizeCache::new(0));
        self.exact = ExactSizeCache::new(exact.capacity());
        let pool = std::mem::take(&mut self.pool);
        self.table_bytes = 0;
        let tables = std::mem::take(&mut self.tables);
        // Dropped by the caller: the pool and cache whole, the tables one by one.
        Evicted {
            slabs: pool.into_slabs().chain(exact.into_slabs()).collect(),
            tables: tables.into_iter().map(|(_, t)| t).collect(),
        }
    }
}

//! One throttle check: the hit path (a key already tracked), the miss path (a new key, as in a
//! flood of spoofed addresses) and two threads contending for one key.
//! Target (issue: throttling): median below 1 µs per check on the 2-core dev machine.
//! Run: `cargo bench --bench throttle`.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blogd::throttle::{Limiter, Rate};
use criterion::{Criterion, criterion_group, criterion_main};

fn limiter() -> Limiter {
    // A limit high enough that the benchmark measures the check, not refusals.
    Limiter::new(
        Rate {
            limit: u32::MAX / 2,
            period: Duration::from_secs(3600),
        },
        50_000,
    )
}

fn checks(c: &mut Criterion) {
    let hit = limiter();
    let t0 = Instant::now();
    hit.check("ip:203.0.113.7", 1);
    c.bench_function("throttle check, known key (hit)", |b| {
        b.iter(|| black_box(hit.check(black_box("ip:203.0.113.7"), t0.elapsed().as_nanos() as u64)))
    });

    let miss = limiter();
    let counter = AtomicU64::new(0);
    c.bench_function("throttle check, new key (miss)", |b| {
        b.iter(|| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            black_box(miss.check(
                &format!("ip:10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255),
                n,
            ))
        })
    });

    let shared = Arc::new(limiter());
    c.bench_function("throttle check, 2 threads on one key (per check)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let l = shared.clone();
                    s.spawn(move || {
                        for i in 0..iters / 2 {
                            black_box(l.check("ip:198.51.100.1", i));
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
}

criterion_group!(benches, checks);
criterion_main!(benches);

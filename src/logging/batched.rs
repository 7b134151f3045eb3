//! A log writer for the request path: appending a line is a short lock and a memcpy, and no
//! thread is woken per line. A flusher thread writes whatever has gathered every 100 ms (at
//! once past 256 KiB) and a last time at shutdown.
//!
//! tracing-appender's non-blocking writer wakes its worker for every line; at tens of
//! thousands of requests a second on two cores those wake-ups cost more than the logging.
//! Past 8 MiB waiting (the disk stalled), new lines are dropped and counted rather than
//! stalling requests or growing without bound.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

use super::rotating::LogHealth;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_AT: usize = 256 * 1024;
const MAX_PENDING: usize = 8 * 1024 * 1024;

struct Shared {
    pending: Mutex<Vec<u8>>,
    wake: Condvar,
    stop: AtomicBool,
    health: Arc<LogHealth>,
}

/// The `MakeWriter` to give a tracing layer.
#[derive(Clone)]
pub struct Batched {
    shared: Arc<Shared>,
}

/// Flushes and stops the flusher thread when dropped (keep it until shutdown).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// A writer for `sink` (a file), with its guard.
pub fn writer<W: Write + Send + 'static>(
    mut sink: W,
    health: Arc<LogHealth>,
) -> (Batched, FlushGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Vec::with_capacity(FLUSH_AT)),
        wake: Condvar::new(),
        stop: AtomicBool::new(false),
        health,
    });
    let flusher = shared.clone();
    let thread = std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || {
            let mut spare = Vec::with_capacity(FLUSH_AT);
            loop {
                let stopping = {
                    let guard = flusher.pending.lock().unwrap_or_else(|p| p.into_inner());
                    let (mut guard, _) = flusher
                        .wake
                        .wait_timeout_while(guard, FLUSH_EVERY, |p| {
                            p.len() < FLUSH_AT && !flusher.stop.load(Ordering::Acquire)
                        })
                        .unwrap_or_else(|p| p.into_inner());
                    std::mem::swap(&mut *guard, &mut spare);
                    flusher.stop.load(Ordering::Acquire)
                };
                if !spare.is_empty() {
                    // Failures are counted by the sink (RotatingFile) itself.
                    let _ = sink.write_all(&spare);
                    let _ = sink.flush();
                    spare.clear();
                }
                if stopping {
                    break;
                }
            }
        })
        .expect("cannot start the log flusher thread");
    (
        Batched {
            shared: shared.clone(),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    )
}

impl Batched {
    /// Appends whole lines (for writers that format their own, like the access log).
    pub fn append(&self, lines: &[u8]) {
        self.shared.append(lines);
    }

    /// Lines dropped because too much was waiting.
    pub fn dropped(&self) -> u64 {
        self.shared.health.dropped_lines.load(Ordering::Relaxed)
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's writer: tracing formats the whole line first, then writes it in one call.
pub struct LineWriter<'a> {
    shared: &'a Shared,
}

impl Shared {
    fn append(&self, buf: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() + buf.len() > MAX_PENDING {
            self.health.dropped_lines.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let before = pending.len();
        pending.extend_from_slice(buf);
        // Once, when crossing the mark: each notify is a system call, waiter or not.
        if before < FLUSH_AT && pending.len() >= FLUSH_AT {
            self.wake.notify_one();
        }
    }
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_arrive_in_order_and_all_are_written_at_shutdown() {
        let sink = Sink::default();
        let (writer, guard) = super::writer(sink.clone(), Arc::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        writer
                            .make_writer()
                            .write_all(format!("{t} {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 4000);
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("{t} ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..1000).collect::<Vec<_>>(),
                "thread {t} out of order"
            );
        }
        assert_eq!(writer.dropped(), 0);
    }

    #[test]
    fn a_stalled_sink_bounds_memory_by_dropping_lines() {
        struct Stalled(Arc<Mutex<()>>);
        impl Write for Stalled {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                drop(self.0.lock().unwrap());
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let (writer, guard) = super::writer(Stalled(gate.clone()), Arc::default());
        let line = vec![b'x'; 1024];
        // Let the flusher take a first batch and block on the stalled sink.
        writer
            .make_writer()
            .write_all(&vec![b'y'; FLUSH_AT])
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..(2 * MAX_PENDING / line.len()) {
            writer.make_writer().write_all(&line).unwrap();
        }
        assert!(writer.dropped() > 0);
        let pending = writer.shared.pending.lock().unwrap().len();
        assert!(pending <= MAX_PENDING, "{pending} bytes waiting");
        drop(held);
        drop(guard);
    }
}

//! Counts the large allocations made on threads that ask for it: how a test sees, without a
//! clock, that a password was checked (argon2 takes all of its memory, 19 MiB, at once).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test binary's allocator: the system's, counting as it goes.
pub struct Counting;

/// Allocations of at least this many bytes are counted.
const LARGE: usize = 4 << 20;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    // (A const-initialized Cell: reading it never allocates, even while the thread ends.)
    if size >= LARGE && COUNTED.try_with(Cell::get).unwrap_or(false) {
        COUNT.fetch_add(1, Ordering::SeqCst);
        BYTES.fetch_add(size, Ordering::SeqCst);
    }
}

// SAFETY: every call is passed on unchanged to the system allocator; counting touches
// only atomics and a thread-local flag, never the heap.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() < LARGE {
            note(new_size);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Counts the large allocations of the calling thread from now on (for a runtime's
/// `on_thread_start`).
pub fn count_this_thread() {
    COUNTED.with(|c| c.set(true));
}

/// (How many, how many bytes) large allocations the counted threads have made so far.
pub fn large_allocations() -> (usize, usize) {
    (COUNT.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst))
}

//! The `tlscap` binary: parse arguments, run the library, exit.

fn main() {
    return_freed_memory_promptly();
    std::process::exit(tlscap::cli::main());
}

// `--features system-alloc` leaves the system allocator in place, so heap profilers that hook
// malloc (valgrind's massif and dhat) see every allocation.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: Mimalloc = Mimalloc;

/// mimalloc, asked for alignment only when a type needs more than every block has.
///
/// The `mimalloc` crate's allocator calls `mi_malloc_aligned` for every allocation, a slower
/// path than `mi_malloc` (~50 instructions a call against ~20 under callgrind, 400 k calls on
/// `small.pcap`). `mi_malloc` blocks are aligned to 16 bytes when they are at least that
/// large (`MI_MAX_ALIGN_SIZE`), which is the rule the standard library's `System` allocator
/// applies to `malloc` too.
#[cfg(not(feature = "system-alloc"))]
struct Mimalloc;

#[cfg(not(feature = "system-alloc"))]
const MI_MAX_ALIGN_SIZE: usize = 16;

#[cfg(not(feature = "system-alloc"))]
fn plain_malloc_suffices(align: usize, size: usize) -> bool {
    align <= MI_MAX_ALIGN_SIZE && align <= size
}

// SAFETY: every path hands the request to mimalloc, with its alignment whenever a plain
// block's guarantee (above) would not cover it; blocks from either path are freed by `mi_free`.
#[cfg(not(feature = "system-alloc"))]
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain_malloc_suffices(layout.align(), layout.size()) {
            unsafe { mi::mi_malloc(layout.size()).cast() }
        } else {
            unsafe { mi::mi_malloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain_malloc_suffices(layout.align(), layout.size()) {
            unsafe { mi::mi_zalloc(layout.size()).cast() }
        } else {
            unsafe { mi::mi_zalloc_aligned(layout.size(), layout.align()).cast() }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        unsafe { libmimalloc_sys::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        use libmimalloc_sys as mi;
        if plain_malloc_suffices(layout.align(), new_size) {
            unsafe { mi::mi_realloc(ptr.cast(), new_size).cast() }
        } else {
            unsafe { mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast() }
        }
    }
}

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same in its v2 and v3): the
/// bindings leave options unnamed on purpose, so the test below checks this is the one.
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed pages go back to the OS 100 ms after they empty instead of 1 s (mimalloc v3's
/// default): connections are built and freed at a high rate on every thread, and a second's
/// worth of emptied pages was 10-30 MiB of resident memory. `large.pcap` on 2 threads, 8
/// alternated runs (peak RSS median / max, sys time): 1 s 71.4 / 82.6 MiB, 0.36 s; 100 ms
/// 64.3 / 64.9 MiB, 0.37 s; 20 ms 60.6 / 63.2 MiB, 0.39 s; 2 ms 58.5 / 58.8 MiB, 0.43 s (the
/// purge calls start to cost).
#[cfg(not(feature = "system-alloc"))]
fn return_freed_memory_promptly() {
    // SAFETY: sets one integer option before any thread but this one exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
}

#[cfg(feature = "system-alloc")]
fn return_freed_memory_promptly() {}

#[cfg(all(test, not(feature = "system-alloc")))]
mod tests {
    use super::*;

    /// The option number is purge_delay: its default is 1000 (ms, mimalloc v3), no
    /// neighbour's is, and the value set is read back.
    #[test]
    fn purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets integer options (this test is the only one in this binary).
        unsafe {
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 1000);
            assert_ne!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY - 1),
                1000
            );
            assert_ne!(
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY + 1),
                1000
            );
            return_freed_memory_promptly();
            assert_eq!(libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY), 100);
        }
    }
}

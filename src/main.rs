//! The `tlscap` binary: parse arguments, run the library, exit.

fn main() {
    return_freed_memory_promptly();
    std::process::exit(tlscap::cli::main());
}

// `--features system-alloc` leaves the system allocator in place, so heap profilers that hook
// malloc (valgrind's massif and dhat) see every allocation.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

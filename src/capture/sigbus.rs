//! Survives a mapped capture file being truncated while it is read.
//!
//! When another process truncates a file, the kernel drops the pages past the new end from
//! every mapping of it, and the next access to one of them raises SIGBUS, which kills the
//! process and loses everything it has not printed yet. A handler installed for the mapped
//! windows' sake puts zero-filled anonymous pages in place of the dropped ones (from the
//! faulting page to the window's end), counts the fault and returns, so the access completes
//! (reading zeros). The reader notices the count change, finds the file's new length and ends
//! with a "truncated" error at the last whole record before it; workers skip payloads past it.
//! Faults at any other address go to the handler that was there before (Rust's own, which tells
//! stack overflows apart, or the default action).
//!
//! The handler only reads a fixed table of atomics, calls `mmap`, and chains: nothing that
//! allocates or locks.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Once;

/// Windows registered at once. The reader's current window and those batches still hold are a
/// handful (a few MiB in flight, 4 MiB windows); several files mapped at once multiply that. A
/// window that finds no free slot is read with `pread` instead of mapped.
const SLOTS: usize = 256;

/// Slot states.
const FREE: usize = 0;
const BUSY: usize = 1;
const LIVE: usize = 2;

struct Slot {
    state: AtomicUsize,
    start: AtomicUsize,
    end: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    state: AtomicUsize::new(FREE),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];

/// Faults handled so far, in every window of every file.
static FAULTS: AtomicU64 = AtomicU64::new(0);

static PAGE: AtomicUsize = AtomicUsize::new(4096);

static INSTALL: Once = Once::new();
/// Whether the handler is in place (installing can fail; windows are then not mapped).
static INSTALLED: AtomicUsize = AtomicUsize::new(0);

/// The handler that was in place before ours, for faults that are not ours.
static mut PREVIOUS: std::mem::MaybeUninit<libc::sigaction> = std::mem::MaybeUninit::zeroed();

/// How many faults in mapped windows have been handled so far (a cheap load: readers compare it
/// with the value they saw last).
pub fn faults() -> u64 {
    FAULTS.load(Ordering::Relaxed)
}

/// The system's page size (known once a window was registered).
pub fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

/// A registered address range, unregistered on drop.
#[derive(Debug)]
pub struct Registration(usize);

impl Drop for Registration {
    fn drop(&mut self) {
        let slot = &TABLE[self.0];
        slot.state.store(BUSY, Ordering::SeqCst);
        slot.state.store(FREE, Ordering::Release);
    }
}

/// Registers `[start, start + len)`, a mapped window, installing the handler the first time.
/// None when the handler could not be installed or every slot is taken: the caller must not
/// map then.
pub fn register(start: usize, len: usize) -> Option<Registration> {
    INSTALL.call_once(install);
    if INSTALLED.load(Ordering::Acquire) == 0 {
        return None;
    }
    for (i, slot) in TABLE.iter().enumerate() {
        if slot
            .state
            .compare_exchange(FREE, BUSY, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            slot.start.store(start, Ordering::Relaxed);
            slot.end.store(start.saturating_add(len), Ordering::Relaxed);
            slot.state.store(LIVE, Ordering::Release);
            return Some(Registration(i));
        }
    }
    None
}

/// Installs the handler, keeping the previous one for the faults that are not ours.
fn install() {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if page > 0 {
        PAGE.store(page as usize, Ordering::Relaxed);
    }
    // SAFETY: a zeroed sigaction is a valid value to fill; `PREVIOUS` is written here only,
    // once, before any registration exists (so before the handler can read it).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as Handler as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let previous = std::ptr::addr_of_mut!(PREVIOUS);
        if libc::sigaction(libc::SIGBUS, &action, (*previous).as_mut_ptr()) == 0 {
            INSTALLED.store(1, Ordering::Release);
        }
    }
}

/// An `SA_SIGINFO` handler.
type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in TABLE.iter() {
        if slot.state.load(Ordering::Acquire) != LIVE {
            continue;
        }
        let (start, end) = (
            slot.start.load(Ordering::Relaxed),
            slot.end.load(Ordering::Relaxed),
        );
        if addr < start || addr >= end {
            continue;
        }
        FAULTS.fetch_add(1, Ordering::SeqCst);
        let page = PAGE.load(Ordering::Relaxed);
        let from = addr & !(page - 1);
        let to = end.div_ceil(page) * page;
        // SAFETY: `[from, to)` lies in the registered window's own mapping (which starts at
        // or before `start` on a page boundary and ends on one at or after `end`): replacing
        // its dropped pages with zero pages touches nothing else.
        let mapped = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                to - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            return;
        }
        break;
    }
    // Not ours (or the zero pages could not be mapped): what would have happened without us.
    // SAFETY: PREVIOUS was filled by `install` before any window was registered.
    unsafe {
        let previous = (*std::ptr::addr_of!(PREVIOUS)).assume_init_ref();
        let f = previous.sa_sigaction;
        if f == libc::SIG_DFL || f == libc::SIG_IGN {
            // Back to the default action: returning re-runs the access, which faults again
            // and ends the process as it would have without this handler.
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
        } else if previous.sa_flags & libc::SA_SIGINFO != 0 {
            let f: Handler = std::mem::transmute(f);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(f);
            f(sig);
        }
    }
}

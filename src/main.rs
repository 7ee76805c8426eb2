//! The `tlscap` binary: parse arguments, run the library, exit.

fn main() {
    std::process::exit(tlscap::cli::main());
}
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

//! The `tlscap` binary: parse arguments, run the library, exit.

fn main() {
    std::process::exit(tlscap::cli::main());
}

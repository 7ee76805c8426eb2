//! One direction's TCP reassembly (to be implemented).
//!
//! Tracks the next expected sequence number, holds bounded out-of-order ranges, trims
//! retransmissions and overlaps (first-seen bytes win), and reports unfillable holes as gaps.

/// Reassembles one direction of a TCP connection.
#[derive(Debug, Default)]
pub struct Reassembler {
    _private: (),
}

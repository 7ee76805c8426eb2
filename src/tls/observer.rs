//! Per-connection TLS observer (to be implemented).

use super::*;
use crate::flow::{Interest, StreamHandler};

/// Limits for the observer.
#[derive(Debug, Clone)]
pub struct ObserverConfig {
    /// Largest handshake message joined from fragments (certificate chains can be large).
    pub max_handshake_message: usize,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        ObserverConfig {
            max_handshake_message: 256 * 1024,
        }
    }
}

/// Watches one connection's two byte streams and decodes its TLS handshake.
#[derive(Debug, Default)]
pub struct TlsObserver {
    _cfg: ObserverConfig,
}

impl TlsObserver {
    /// A fresh observer.
    pub fn new(cfg: ObserverConfig) -> Self {
        TlsObserver { _cfg: cfg }
    }

    /// Ends observation and returns what was seen.
    pub fn finish(self) -> HandshakeSummary {
        todo!()
    }
}

impl StreamHandler for TlsObserver {
    fn on_data(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) -> Interest {
        let _ = (dir, data, meta);
        todo!()
    }

    fn on_gap(&mut self, dir: Direction, len: u64, meta: SegmentMeta) -> Interest {
        let _ = (dir, len, meta);
        todo!()
    }
}

//! The connection table (to be implemented).

use super::*;

/// Live connections keyed by 5-tuple.
pub struct FlowTable<H> {
    _cfg: FlowConfig,
    _h: std::marker::PhantomData<H>,
}

impl<H: StreamHandler> FlowTable<H> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            _cfg: cfg,
            _h: std::marker::PhantomData,
        }
    }

    /// Feeds one segment. `new_handler` makes the handler of a connection this segment opens
    /// (called with client and server addresses); `emit` receives every connection that ends
    /// (closed, reused, idle) as a consequence of this segment or of time passing.
    pub fn process(
        &mut self,
        meta: SegmentMeta,
        seg: &TcpSegment<'_>,
        new_handler: &mut dyn FnMut(SocketAddr, SocketAddr) -> H,
        emit: &mut dyn FnMut(Finished<H>),
    ) {
        let _ = (meta, seg, new_handler, emit);
        todo!()
    }

    /// End of capture: emits every connection still open, in index order.
    pub fn finish(self, emit: &mut dyn FnMut(Finished<H>)) {
        let _ = emit;
        todo!()
    }

    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        todo!()
    }
}

//! The observer's side of QUIC: the handshake arrives as whole messages from CRYPTO frames
//! (no records), alerts as CONNECTION_CLOSE error codes, and the QUIC stage adds its own ladder
//! steps (Version Negotiation, Retry). Every entry point is for observers made with
//! [`TlsObserver::for_quic`].

use super::{Mode, ObserverConfig, TlsObserver};
use crate::flow::{Direction, SegmentMeta};
use crate::tls::{Decryption, DecryptionStatus};

impl TlsObserver {
    /// An observer for one QUIC connection. QUIC has no TLS records to decrypt, so the key
    /// log stays with the QUIC stage.
    pub fn for_quic(cfg: ObserverConfig) -> Self {
        let mut o = TlsObserver::new(ObserverConfig {
            keylog: None,
            ..cfg
        });
        o.quic = true;
        o
    }

    /// One complete handshake message (4-byte header included) sent in `dir`; shorter
    /// input is ignored.
    pub fn quic_message(&mut self, dir: Direction, msg: &[u8], meta: SegmentMeta) {
        if msg.len() < 4 {
            return;
        }
        let st = &mut self.dirs[dir.idx()];
        st.tls_seen = true;
        if st.mode == Mode::Start {
            st.mode = Mode::Plain;
        }
        self.handshake_message(dir, msg, meta);
    }

    /// A CONNECTION_CLOSE carrying TLS alert `description` (error code 0x0100 + alert).
    pub fn quic_alert(&mut self, dir: Direction, description: u8, meta: SegmentMeta) {
        self.plain_alert(dir, 2, description, meta, " (QUIC CONNECTION_CLOSE)");
    }

    /// A packet in `dir` protected with keys past the Initial ones: Handshake
    /// (`application` false) or 0-RTT / 1-RTT (`application` true). Counted like encrypted
    /// records, so the handshake reads as done once the server sent them.
    pub fn quic_protected(&mut self, dir: Direction, application: bool) {
        let st = &mut self.dirs[dir.idx()];
        st.encrypted_records += 1;
        if application {
            st.application_data_records += 1;
        }
    }

    /// The client starts its handshake over with another QUIC version (after Version
    /// Negotiation): the server never read the first ClientHello, so the next one is the
    /// connection's (its SNI, offers and fingerprints).
    pub fn quic_restart(&mut self) {
        self.summary.client_hello = None;
    }

    /// A ladder step of the QUIC stage.
    pub fn quic_event(&mut self, dir: Direction, meta: SegmentMeta, text: impl FnOnce() -> String) {
        self.event(dir, meta, text);
    }

    /// The outcome of decrypting the connection's Handshake packets with a key log.
    pub fn quic_decryption(&mut self, status: DecryptionStatus, key_source: Option<String>) {
        self.summary.decryption = Some(Decryption { status, key_source });
    }
}

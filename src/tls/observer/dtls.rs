//! The observer's side of DTLS: the DTLS stage joins handshake fragments into whole messages
//! (already in TLS framing) and hands over the other records one by one, so a DTLS connection
//! fills the same fields as a TLS one. Every entry point is for observers made with
//! [`TlsObserver::for_dtls`].

use super::{
    Mode, ObserverConfig, RawAlert, TlsObserver, CT_ALERT, CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC, CT_HEARTBEAT,
};
use crate::flow::{Direction, SegmentMeta};

impl TlsObserver {
    /// An observer for one DTLS connection. DTLS records are not decrypted: the key log is
    /// not used.
    pub fn for_dtls(cfg: ObserverConfig) -> Self {
        TlsObserver::new(ObserverConfig {
            keylog: None,
            ..cfg
        })
    }

    /// One complete handshake message in TLS framing (4-byte header) sent in `dir`; shorter
    /// input is ignored.
    pub fn dtls_message(&mut self, dir: Direction, msg: &[u8], meta: SegmentMeta) {
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

    /// A record that is not an epoch-0 handshake fragment: `epoch` 0 is plaintext, later
    /// epochs are protected (their content type is still readable, except in DTLS 1.3's
    /// unified header, which the DTLS stage reports as application data).
    pub fn dtls_record(
        &mut self,
        dir: Direction,
        content_type: u8,
        epoch: u16,
        body: &[u8],
        meta: SegmentMeta,
    ) {
        self.dirs[dir.idx()].tls_seen = true;
        if epoch == 0 {
            match content_type {
                CT_CHANGE_CIPHER_SPEC => {
                    if self.dirs[dir.idx()].ccs.is_none() {
                        self.dirs[dir.idx()].ccs = Some(meta);
                    }
                    self.event(dir, meta, || "ChangeCipherSpec".to_string());
                    if self.ccs_encrypts(dir) {
                        self.set_encrypted(dir, meta);
                    }
                }
                CT_ALERT if body.len() == 2 && matches!(body[0], 1 | 2) => {
                    self.plain_alert(dir, body[0], body[1], meta, "");
                }
                CT_HEARTBEAT => self.heartbeat(dir, body, meta),
                _ => {}
            }
            return;
        }
        self.set_encrypted(dir, meta);
        match content_type {
            CT_ALERT => {
                self.push_alert(RawAlert::encrypted(dir, meta));
                self.event(dir, meta, || "Alert (encrypted)".to_string());
            }
            CT_APPLICATION_DATA => self.dirs[dir.idx()].application_data_records += 1,
            _ => {}
        }
        self.dirs[dir.idx()].encrypted_records += 1;
    }

    /// A ladder step of the DTLS stage.
    pub fn dtls_event(&mut self, dir: Direction, meta: SegmentMeta, text: impl FnOnce() -> String) {
        self.event(dir, meta, text);
    }
}

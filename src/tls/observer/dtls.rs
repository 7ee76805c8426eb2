//! The observer's side of DTLS: the DTLS stage joins handshake fragments into whole messages
//! (already in TLS framing) and hands over the other records one by one, so a DTLS connection
//! fills the same fields as a TLS one. Every entry point is for observers made with
//! [`TlsObserver::for_dtls`].

use super::{
    Mode, ObserverConfig, RawAlert, TlsObserver, CT_ALERT, CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC, CT_HEARTBEAT,
};
use crate::flow::{Direction, SegmentMeta};

/// What [`TlsObserver::dtls_decrypt`] made of a protected record.
#[derive(Debug, PartialEq, Eq)]
pub enum DtlsOpened {
    /// No keys for its direction (no key log, no secrets for this connection, or before the
    /// sender's ChangeCipherSpec): read it as protected.
    NoKeys,
    /// Decrypted and taken (an alert, application data), or its decryption failed (noted).
    Taken,
    /// Decrypted handshake fragments (DTLS framing), for the DTLS stage to join.
    Handshake(Vec<u8>),
    /// DTLS 1.3: keys were there but the record did not decrypt (noted in the ladder).
    Failed,
}

impl TlsObserver {
    /// An observer for one DTLS connection. DTLS ≤ 1.2 records are decrypted with the key
    /// log's secrets ([`TlsObserver::dtls_decrypt`]).
    pub fn for_dtls(cfg: ObserverConfig) -> Self {
        TlsObserver::new(cfg)
    }

    /// A protected DTLS ≤ 1.2 record (epoch > 0) decrypted with the connection's keys, which
    /// are those of TLS with the record's own epoch and sequence number in the nonce and AAD.
    #[allow(clippy::too_many_arguments)]
    pub fn dtls_decrypt(
        &mut self,
        dir: Direction,
        content_type: u8,
        version: u16,
        epoch: u16,
        seq: u64,
        body: &[u8],
        meta: SegmentMeta,
    ) -> DtlsOpened {
        let side = self.side(dir);
        let Some(dec) = self.dec.as_deref_mut().filter(|d| d.active(side)) else {
            return DtlsOpened::NoKeys;
        };
        let Ok(len) = u16::try_from(body.len()) else {
            return DtlsOpened::NoKeys;
        };
        let [v0, v1] = version.to_be_bytes();
        let [l0, l1] = len.to_be_bytes();
        let header = [content_type, v0, v1, l0, l1];
        let r = dec.decrypt_dtls(side, u64::from(epoch) << 48 | seq, header, body);
        self.dirs[dir.idx()].tls_seen = true;
        self.set_encrypted(dir, meta);
        self.dirs[dir.idx()].encrypted_records += 1;
        match r {
            Ok(Some((super::CT_HANDSHAKE, plain))) => DtlsOpened::Handshake(plain),
            Ok(Some((ct, plain))) => {
                self.plaintext(dir, ct, &plain, meta);
                DtlsOpened::Taken
            }
            Ok(None) => DtlsOpened::Taken,
            Err(reason) => {
                self.decrypted(dir, Some(content_type), Err(reason), meta);
                DtlsOpened::Taken
            }
        }
    }

    /// Whether DTLS 1.3 records sent in `dir` in the epoch with low bits `epoch_bits` can be
    /// decrypted (a key log has this connection's secrets for that epoch).
    pub fn dtls13_keys(&self, dir: Direction, epoch_bits: u16) -> bool {
        let side = self.side(dir);
        self.dec
            .as_deref()
            .is_some_and(|d| d.dtls13_active(side, epoch_bits))
    }

    /// A DTLS 1.3 record (unified header `header`, its masked sequence number at
    /// `seq` = (offset, length), epoch low bits `epoch_bits`) decrypted with the key log's
    /// traffic secrets: record number encryption removed, then the AEAD opened (RFC 9147 §4).
    /// Call only when [`TlsObserver::dtls13_keys`] says so.
    pub fn dtls13_decrypt(
        &mut self,
        dir: Direction,
        epoch_bits: u16,
        header: &[u8],
        seq: (usize, usize),
        body: &[u8],
        meta: SegmentMeta,
    ) -> DtlsOpened {
        let side = self.side(dir);
        let Some(dec) = self.dec.as_deref_mut() else {
            return DtlsOpened::NoKeys;
        };
        let r = dec.decrypt_dtls13(side, epoch_bits, header, seq, body);
        self.dirs[dir.idx()].tls_seen = true;
        self.set_encrypted(dir, meta);
        self.dirs[dir.idx()].encrypted_records += 1;
        match r {
            Ok((super::CT_HANDSHAKE, plain)) => DtlsOpened::Handshake(plain),
            Ok((ct, plain)) => {
                self.plaintext(dir, ct, &plain, meta);
                DtlsOpened::Taken
            }
            Err(reason) => {
                self.event(dir, meta, || format!("record not decrypted: {reason}"));
                DtlsOpened::Failed
            }
        }
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
                    self.decrypt_ccs(dir);
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

//! The observer's side of decryption: hands protected records to the connection's
//! [`ConnDecryptor`](crate::tls::decrypt::ConnDecryptor) and routes the plaintext back into the
//! ordinary decoding (handshake joining, alerts) or into the application-data buffer. Every
//! entry point is called only when a key log was given.

use super::super::decrypt::encrypted_extensions_alpn;
use super::super::handshake::decode_server_hello;
use super::super::{AppData, Decryption, HandshakeSummary};
use super::{
    RawAlert, TlsObserver, CT_ALERT, CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE,
};
use crate::flow::{Direction, SegmentMeta, Side};

impl TlsObserver {
    pub(super) fn side(&self, dir: Direction) -> Side {
        if dir == self.client_dir() {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// Moves the decryption outcome and application data into the summary.
    pub(super) fn finish_decryption(&mut self, s: &mut HandshakeSummary) {
        if self.swapped {
            s.finished.swap(0, 1);
        }
        if let Some(ct) = self.cleartext.take() {
            let [a, b] = *ct;
            s.app_data[Direction::ToServer.idx()] = a;
            s.app_data[Direction::ToClient.idx()] = b;
        }
        let Some(dec) = self.dec.take() else {
            return;
        };
        if let Some((status, key_source)) = dec.outcome() {
            s.decryption = Some(Decryption { status, key_source });
        }
        let [client, server] = dec.app;
        if client.bytes.is_empty() && server.bytes.is_empty() {
            return;
        }
        s.app_data[Direction::ToServer.idx()] = client;
        s.app_data[Direction::ToClient.idx()] = server;
    }

    /// Keys for `dir` exist: keep reading past the encrypted-record cap.
    pub(super) fn decrypt_wants_more(&self, dir: Direction) -> bool {
        let side = self.side(dir);
        self.dec.as_ref().is_some_and(|d| d.wants_more(side))
    }

    /// A record header in an encrypted direction. Returns true when the record is handled here
    /// (counted, and collected for decryption or skipped).
    pub(super) fn decrypt_begin(&mut self, dir: Direction, hdr: &[u8], meta: SegmentMeta) -> bool {
        let side = self.side(dir);
        let Ok(header) = <[u8; 5]>::try_from(hdr) else {
            return false;
        };
        let ct = header[0];
        if ct == CT_CHANGE_CIPHER_SPEC && self.tls13 {
            return false; // middlebox-compatibility CCS: plaintext
        }
        let Some(dec) = self.dec.as_deref_mut() else {
            return false;
        };
        if !dec.active(side) {
            return false;
        }
        let collect = dec.begin(side, header);
        let st = &mut self.dirs[dir.idx()];
        st.encrypted_records += 1;
        if !collect {
            if ct == CT_APPLICATION_DATA {
                st.application_data_records += 1;
            }
            return true;
        }
        if st.skip == 0 {
            self.decrypt_body(dir, &[], true, meta);
        }
        true
    }

    /// Body bytes of an encrypted record; `done` when the record is complete.
    pub(super) fn decrypt_body(
        &mut self,
        dir: Direction,
        data: &[u8],
        done: bool,
        meta: SegmentMeta,
    ) {
        let side = self.side(dir);
        let Some(dec) = self.dec.as_deref_mut() else {
            return;
        };
        if !dec.collecting(side) {
            return;
        }
        dec.collect(side, data);
        if !done {
            return;
        }
        let outer = dec.collecting_type(side);
        let r = dec.finish(side);
        self.decrypted(dir, outer, r, meta);
    }

    pub(super) fn decrypted(
        &mut self,
        dir: Direction,
        outer: Option<u8>,
        r: Result<Option<(u8, Vec<u8>)>, String>,
        meta: SegmentMeta,
    ) {
        match r {
            Ok(Some((ct, plain))) => self.plaintext(dir, ct, &plain, meta),
            Ok(None) => {}
            Err(reason) => {
                self.problem(format!(
                    "decryption failed at packet {}: {reason}",
                    meta.packet
                ));
                if outer == Some(CT_ALERT) {
                    self.alerts.push(RawAlert::encrypted(dir, meta));
                }
            }
        }
    }

    /// A whole protected record read on the plaintext path (TLS 1.3 client's first
    /// application_data record). Returns true when it was decrypted here.
    pub(super) fn decrypt_whole(
        &mut self,
        dir: Direction,
        record: &[u8],
        meta: SegmentMeta,
    ) -> bool {
        let side = self.side(dir);
        let (Some(hdr), Some(body)) = (record.get(..5), record.get(5..)) else {
            return false;
        };
        let Ok(header) = <[u8; 5]>::try_from(hdr) else {
            return false;
        };
        let Some(dec) = self.dec.as_deref_mut() else {
            return false;
        };
        if !dec.active(side) {
            return false;
        }
        let r = dec.decrypt(side, header, body);
        self.dirs[dir.idx()].encrypted_records += 1;
        self.decrypted(dir, Some(header[0]), r, meta);
        true
    }

    /// A plaintext ChangeCipherSpec (TLS ≤ 1.2): that side's new keys take effect.
    pub(super) fn decrypt_ccs(&mut self, dir: Direction) {
        let side = self.side(dir);
        if let Some(dec) = self.dec.as_deref_mut() {
            dec.on_ccs(side);
        }
    }

    /// Handshake facts the decryptor needs, and what only decryption shows (TLS 1.3
    /// EncryptedExtensions ALPN, Finished).
    pub(super) fn decrypt_handshake(
        &mut self,
        dir: Direction,
        msg_type: u8,
        body: &[u8],
        meta: SegmentMeta,
    ) {
        let side = self.side(dir);
        match msg_type {
            2 => {
                if let (Ok(sh), Some(dec)) = (decode_server_hello(body), self.dec.as_deref_mut()) {
                    // DTLS 1.0 and 1.2 protect records as TLS 1.1 and 1.2 do (PRF, explicit
                    // IV); only the record header differs.
                    let version = match sh.version {
                        0xfeff => 0x0302,
                        0xfefd => 0x0303,
                        v => v,
                    };
                    dec.on_server_hello(body, version, sh.cipher, &sh.extensions, sh.hello_retry);
                }
            }
            8 => {
                if let (Some(alpn), Some(sh)) = (
                    encrypted_extensions_alpn(body),
                    self.summary.server_hello.as_mut(),
                ) {
                    sh.alpn.get_or_insert(alpn);
                }
            }
            20 => {
                self.summary.finished[dir.idx()].get_or_insert(meta);
                if let Some(dec) = self.dec.as_deref_mut() {
                    dec.on_handshake(side, 20);
                }
            }
            24 => {
                if let Some(dec) = self.dec.as_deref_mut() {
                    dec.on_handshake(side, 24);
                }
            }
            _ => {}
        }
    }

    /// Routes one decrypted record.
    pub(super) fn plaintext(&mut self, dir: Direction, ct: u8, plain: &[u8], meta: SegmentMeta) {
        match ct {
            CT_CHANGE_CIPHER_SPEC => {
                self.event(dir, meta, || "ChangeCipherSpec (renegotiation)".to_string());
                self.decrypt_ccs(dir);
            }
            CT_ALERT => {
                for pair in plain.chunks_exact(2) {
                    self.plain_alert(dir, pair[0], pair[1], meta, " (decrypted)");
                }
            }
            CT_HANDSHAKE => self.handshake_fragment(dir, plain, meta),
            CT_APPLICATION_DATA => {
                self.dirs[dir.idx()].application_data_records += 1;
                let side = self.side(dir);
                if let Some(dec) = self.dec.as_deref_mut() {
                    dec.app_data(side, plain, meta);
                }
            }
            _ => {}
        }
    }

    /// Whether `dir` (stopped, not TLS) is cleartext HTTP still being collected.
    pub(super) fn cleartext_wants(&self, dir: Direction) -> bool {
        self.cleartext
            .as_ref()
            .is_some_and(|c| c[dir.idx()].bytes.len() < CLEARTEXT_CAP)
    }

    /// Collects the bytes of a direction that turned out not to be TLS, when the client's
    /// first bytes are an HTTP request (cleartext HTTP on any port).
    pub(super) fn cleartext_feed(&mut self, dir: Direction, data: &[u8], meta: SegmentMeta) {
        let mode = self.dirs[dir.idx()].mode;
        if !self.cfg.cleartext_http || !matches!(mode, super::Mode::Stopped | super::Mode::Hunt) {
            return;
        }
        if self.cleartext.is_none() {
            let client = self.dirs[self.client_dir().idx()].non_tls.as_ref();
            if !client.is_some_and(|(_, b)| starts_like_http_request(b)) {
                return;
            }
            let mut c: Box<[AppData; 2]> = Box::default();
            // The client's first bytes went to the evidence; start from them.
            for d in [Direction::ToServer, Direction::ToClient] {
                if let Some((m, b)) = &self.dirs[d.idx()].non_tls {
                    if d != dir || b.len() >= data.len() || !data.starts_with(b) {
                        c[d.idx()].packets.push((0, *m));
                        c[d.idx()].bytes.extend_from_slice(b);
                    }
                }
            }
            self.cleartext = Some(c);
        }
        let Some(c) = self.cleartext.as_deref_mut() else {
            return;
        };
        let a = &mut c[dir.idx()];
        let room = CLEARTEXT_CAP.saturating_sub(a.bytes.len());
        let n = room.min(data.len());
        if n > 0 {
            a.packets.push((a.bytes.len(), meta));
            a.bytes.extend_from_slice(&data[..n]);
        }
        a.truncated |= n < data.len();
    }
}

/// Cleartext HTTP kept per direction (request and response heads).
const CLEARTEXT_CAP: usize = 16 * 1024;

fn starts_like_http_request(b: &[u8]) -> bool {
    const METHODS: &[&[u8]] = &[
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"PATCH ",
        b"OPTIONS ",
    ];
    METHODS.iter().any(|m| b.starts_with(m))
}

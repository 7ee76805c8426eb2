//! Decryption of one connection's records with secrets from a key log.
//!
//! [`ConnDecryptor`] follows the key schedule of the connection (TLS 1.3 handshake →
//! application → key updates; TLS ≤ 1.2 keys installed at each ChangeCipherSpec, renegotiation
//! included) and turns protected records into plaintext records. It knows nothing of the
//! observer: the observer feeds it handshake facts and record bodies, and routes the plaintext
//! back into its ordinary decoding. It exists only when a key log is given, so the plaintext path
//! pays nothing.

mod protect;

use super::keylog::KeySlot;
use super::AppData;
use crate::flow::{SegmentMeta, Side};
use protect::DirKeys;
pub(crate) use protect::{hkdf_expand_label, Hash};
use std::sync::Arc;

/// Decrypted application data kept per direction for the HTTP reader.
pub(crate) const APP_DATA_CAP: usize = 64 * 1024;
/// After the application-data budget is spent, records up to this size are still decrypted
/// (TLS 1.3 hides alerts and key updates behind the application_data type; they are small).
const SMALL_RECORD: usize = 256;

/// Outcome of decryption for one connection, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecryptionStatus {
    /// Records were decrypted.
    Ok,
    /// The key log has no secrets for this connection's client random.
    NoKey,
    /// Secrets were found but decryption failed (reason given).
    Failed(String),
}

fn idx(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

/// Per-connection decryption state.
#[derive(Debug)]
pub(crate) struct ConnDecryptor {
    keylog: Arc<KeySlot>,
    client_random: Option<Vec<u8>>,
    server_random: Option<Vec<u8>>,
    early_data_offered: bool,
    tls13: bool,
    /// DTLS 1.3: records name their epoch, so `keys` (handshake, epoch 2) and `app_keys`
    /// (epoch 3) both stay installed and each record picks its own.
    dtls13: bool,
    /// Current keys per side (client, server).
    keys: [Option<DirKeys>; 2],
    /// TLS ≤ 1.2: keys waiting for that side's ChangeCipherSpec.
    pending: [Option<DirKeys>; 2],
    /// TLS 1.3: application keys installed after that side's Finished.
    app_keys: [Option<DirKeys>; 2],
    /// TLS 1.3: that side's Finished was seen (its handshake keys are retired).
    finished: [bool; 2],
    /// Record being collected per side: header and body so far.
    coll: [Option<([u8; 5], Vec<u8>)>; 2],
    /// Decrypted application data per side.
    pub(crate) app: [AppData; 2],
    status: Option<DecryptionStatus>,
    key_source: Option<String>,
    /// Records decrypted.
    pub(crate) decrypted: u64,
    /// A client record decrypted (0-RTT data can only come before it).
    client_decrypted: bool,
}

impl ConnDecryptor {
    pub(crate) fn new(keylog: Arc<KeySlot>) -> Self {
        ConnDecryptor {
            keylog,
            client_random: None,
            server_random: None,
            early_data_offered: false,
            tls13: false,
            dtls13: false,
            keys: [None, None],
            pending: [None, None],
            app_keys: [None, None],
            finished: [false; 2],
            coll: [None, None],
            app: [AppData::default(), AppData::default()],
            status: None,
            key_source: None,
            decrypted: 0,
            client_decrypted: false,
        }
    }

    /// The status and key source for the summary (None when no ServerHello was seen).
    pub(crate) fn outcome(&self) -> Option<(DecryptionStatus, Option<String>)> {
        self.status.clone().map(|s| (s, self.key_source.clone()))
    }

    fn fail(&mut self, reason: String) {
        if !matches!(self.status, Some(DecryptionStatus::Failed(_))) {
            self.status = Some(DecryptionStatus::Failed(reason));
        }
        self.keys = [None, None];
        self.pending = [None, None];
        self.app_keys = [None, None];
        self.coll = [None, None];
    }

    /// A ClientHello: its random selects the secrets (the latest one, for renegotiation).
    pub(crate) fn on_client_hello(&mut self, random: &[u8], extensions: &[u16]) {
        self.client_random = Some(random.to_vec());
        // early_data (42): 0-RTT records under keys we do not have may precede the handshake's.
        self.early_data_offered |= extensions.contains(&42);
    }

    /// A ServerHello (raw body) with its decoded version, cipher and extensions.
    pub(crate) fn on_server_hello(
        &mut self,
        body: &[u8],
        version: u16,
        cipher: u16,
        extensions: &[u16],
        hello_retry: bool,
    ) {
        if hello_retry {
            return;
        }
        self.server_random = body.get(2..34).map(<[u8]>::to_vec);
        let tls13 = super::is_tls13(version);
        self.tls13 = tls13;
        self.dtls13 = version == super::DTLS13;
        let Some(cr) = self.client_random.clone() else {
            return;
        };
        let log = self.keylog.get();
        if log.is_empty() {
            // No secrets at all (a pcapng without Decryption Secrets Blocks): say nothing.
            return;
        }
        let Some(secrets) = log.get(&cr).cloned() else {
            if self.status.is_none() {
                self.status = Some(DecryptionStatus::NoKey);
            }
            return;
        };
        let source = log.source_of(&secrets).to_string();
        let Some(suite) = protect::suite(cipher) else {
            self.key_source = Some(source);
            self.fail(format!(
                "cipher suite {} is not supported for decryption",
                super::names::cipher_name(cipher)
            ));
            return;
        };
        if tls13 {
            let (Some(chs), Some(shs)) = (&secrets.client_handshake, &secrets.server_handshake)
            else {
                if self.status.is_none() {
                    self.status = Some(DecryptionStatus::NoKey);
                }
                return;
            };
            self.key_source = Some(source);
            let mk = |s: &Vec<u8>| DirKeys::tls13(suite, version, s);
            match (mk(chs), mk(shs)) {
                (Some(c), Some(s)) => {
                    self.keys = [Some(c), Some(s)];
                    self.app_keys = [
                        secrets.client_traffic_0.as_ref().and_then(mk),
                        secrets.server_traffic_0.as_ref().and_then(mk),
                    ];
                }
                _ => self.fail("handshake secrets do not fit the cipher suite".into()),
            }
            return;
        }
        let (Some(ms), Some(sr)) = (&secrets.master_secret, &self.server_random) else {
            if self.status.is_none() {
                self.status = Some(DecryptionStatus::NoKey);
            }
            return;
        };
        self.key_source = Some(source);
        // encrypt_then_mac (22) applies to CBC suites only.
        let etm = extensions.contains(&22);
        match DirKeys::tls12(suite, version, ms, &cr, sr, etm) {
            Some((c, s)) => self.pending = [Some(c), Some(s)],
            None => self.fail("could not derive keys from the master secret".into()),
        }
    }

    /// A ChangeCipherSpec from `side` (TLS ≤ 1.2): its pending keys take effect.
    pub(crate) fn on_ccs(&mut self, side: Side) {
        if self.tls13 {
            return;
        }
        if let Some(k) = self.pending[idx(side)].take() {
            self.keys[idx(side)] = Some(k);
        }
    }

    /// A decrypted handshake message from `side` that changes keys (TLS 1.3 Finished and
    /// KeyUpdate).
    pub(crate) fn on_handshake(&mut self, side: Side, msg_type: u8) {
        if !self.tls13 || self.dtls13 {
            return;
        }
        let i = idx(side);
        match msg_type {
            20 if !self.finished[i] => {
                self.finished[i] = true;
                self.keys[i] = self.app_keys[i].take();
            }
            24 => {
                // KeyUpdate: the sender's next traffic secret.
                self.keys[i] = self.keys[i].as_ref().and_then(DirKeys::update);
            }
            _ => {}
        }
    }

    /// Whether records from `side` can be decrypted now.
    pub(crate) fn active(&self, side: Side) -> bool {
        self.keys[idx(side)].is_some()
    }

    /// Whether the observer should keep reading `side` past its usual encrypted-record cap.
    pub(crate) fn wants_more(&self, side: Side) -> bool {
        self.active(side) || self.pending[idx(side)].is_some()
    }

    /// A record header from `side` under keys: true when its body should be collected and
    /// decrypted, false when it is skipped (its sequence number is still used up).
    pub(crate) fn begin(&mut self, side: Side, header: [u8; 5]) -> bool {
        let i = idx(side);
        let Some(keys) = self.keys[i].as_mut() else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let in_handshake = self.tls13 && !self.finished[i];
        let budget_left = self.app[i].bytes.len() < APP_DATA_CAP;
        let want = header[0] != 23 || in_handshake || budget_left || len <= SMALL_RECORD;
        if !want && keys.can_skip() {
            keys.skip();
            return false;
        }
        self.coll[i] = Some((header, Vec::with_capacity(len)));
        true
    }

    /// More body bytes of the record being collected from `side`.
    pub(crate) fn collect(&mut self, side: Side, data: &[u8]) {
        if let Some((_, body)) = self.coll[idx(side)].as_mut() {
            body.extend_from_slice(data);
        }
    }

    /// The outer content type of the record being collected from `side`.
    pub(crate) fn collecting_type(&self, side: Side) -> Option<u8> {
        self.coll[idx(side)].as_ref().map(|(h, _)| h[0])
    }

    /// Whether a record from `side` is being collected.
    pub(crate) fn collecting(&self, side: Side) -> bool {
        self.coll[idx(side)].is_some()
    }

    /// Decrypts the collected record of `side`. `Ok(None)` when the record was dropped
    /// silently (0-RTT data we have no key for).
    pub(crate) fn finish(&mut self, side: Side) -> Result<Option<(u8, Vec<u8>)>, String> {
        let i = idx(side);
        let Some((header, body)) = self.coll[i].take() else {
            return Ok(None);
        };
        self.decrypt(side, header, &body)
    }

    /// Decrypts one whole record from `side`.
    pub(crate) fn decrypt(
        &mut self,
        side: Side,
        header: [u8; 5],
        body: &[u8],
    ) -> Result<Option<(u8, Vec<u8>)>, String> {
        let i = idx(side);
        let Some(keys) = self.keys[i].as_mut() else {
            return Ok(None);
        };
        match keys.decrypt(&header, body) {
            Ok(r) => {
                self.decrypted += 1;
                self.client_decrypted |= side == Side::Client;
                if self.status.is_none() || self.status == Some(DecryptionStatus::NoKey) {
                    self.status = Some(DecryptionStatus::Ok);
                }
                Ok(Some(r))
            }
            Err(_)
                if self.tls13
                    && side == Side::Client
                    && !self.finished[i]
                    && self.early_data_offered
                    && !self.client_decrypted =>
            {
                // 0-RTT data under the early traffic secret: skip it, keep the sequence number.
                if let Some(k) = self.keys[i].as_mut() {
                    k.seq = k.seq.saturating_sub(1);
                }
                Ok(None)
            }
            Err(e) => {
                let who = if side == Side::Client {
                    "client"
                } else {
                    "server"
                };
                let reason = format!("{who} record {}: {e}", keys.seq);
                self.fail(reason.clone());
                Err(reason)
            }
        }
    }

    /// Decrypts one whole DTLS record from `side`: `seq` is its epoch and sequence number
    /// (`epoch << 48 | seq`), which DTLS carries in each record (records may be lost or
    /// reordered) where TLS counts them.
    pub(crate) fn decrypt_dtls(
        &mut self,
        side: Side,
        seq: u64,
        header: [u8; 5],
        body: &[u8],
    ) -> Result<Option<(u8, Vec<u8>)>, String> {
        if let Some(keys) = self.keys[idx(side)].as_mut() {
            keys.seq = seq;
        }
        self.decrypt(side, header, body)
    }

    /// Whether DTLS 1.3 records of `side` in the epoch whose low bits are `epoch_bits` can be
    /// decrypted: 2 is the handshake, 3 the first application epoch (0-RTT's 1 and the
    /// epochs after a KeyUpdate have no keys here).
    pub(crate) fn dtls13_active(&self, side: Side, epoch_bits: u16) -> bool {
        self.dtls13_keys(side, epoch_bits).is_some()
    }

    fn dtls13_keys(&self, side: Side, epoch_bits: u16) -> Option<&DirKeys> {
        if !self.dtls13 {
            return None;
        }
        match epoch_bits {
            2 => self.keys[idx(side)].as_ref(),
            3 => self.app_keys[idx(side)].as_ref(),
            _ => None,
        }
    }

    /// Decrypts one DTLS 1.3 record from `side` (see [`DirKeys::decrypt_dtls13`]): the inner
    /// content type and plaintext. A record that does not authenticate is counted and its
    /// reason kept, but does not end decryption: a datagram may be mangled or misread alone.
    pub(crate) fn decrypt_dtls13(
        &mut self,
        side: Side,
        epoch_bits: u16,
        header: &[u8],
        (seq_at, seq_len): (usize, usize),
        body: &[u8],
    ) -> Result<(u8, Vec<u8>), String> {
        let keys = match (self.dtls13, epoch_bits) {
            (true, 2) => self.keys[idx(side)].as_mut(),
            (true, 3) => self.app_keys[idx(side)].as_mut(),
            _ => None,
        };
        let Some(keys) = keys else {
            return Err("no keys for this epoch".into());
        };
        match keys.decrypt_dtls13(header, seq_at, seq_len, body) {
            Ok((ct, plain, _)) => {
                self.decrypted += 1;
                self.client_decrypted |= side == Side::Client;
                if self.status.is_none() || self.status == Some(DecryptionStatus::NoKey) {
                    self.status = Some(DecryptionStatus::Ok);
                }
                Ok((ct, plain))
            }
            Err(e) => {
                let who = if side == Side::Client {
                    "client"
                } else {
                    "server"
                };
                let reason = format!("{who} DTLS 1.3 record (epoch {epoch_bits}): {e}");
                if self.decrypted == 0 {
                    self.status = Some(DecryptionStatus::Failed(reason.clone()));
                }
                Err(reason)
            }
        }
    }

    /// Keeps decrypted application data of `side` (bounded).
    pub(crate) fn app_data(&mut self, side: Side, data: &[u8], meta: SegmentMeta) {
        let a = &mut self.app[idx(side)];
        let room = APP_DATA_CAP.saturating_sub(a.bytes.len());
        if room == 0 {
            a.truncated = true;
            return;
        }
        let n = room.min(data.len());
        a.packets.push((a.bytes.len(), meta));
        a.bytes.extend_from_slice(&data[..n]);
        a.truncated |= n < data.len();
    }
}

/// Decodes a TLS 1.3 Certificate body (request context, then entries of certificate +
/// extensions) into DER certificates.
pub(crate) fn decode_certificate13(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let err = || "malformed TLS 1.3 Certificate".to_string();
    let ctx_len = usize::from(*body.first().ok_or_else(err)?);
    let rest = body.get(1 + ctx_len..).ok_or_else(err)?;
    let list_len = super::handshake::be_u24(rest).ok_or_else(err)?;
    let mut list = rest.get(3..3 + list_len).ok_or_else(err)?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let n = super::handshake::be_u24(list).ok_or_else(err)?;
        let cert = list.get(3..3 + n).ok_or_else(err)?;
        let ext_at = 3 + n;
        let ext_len = list
            .get(ext_at..ext_at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or_else(err)?;
        out.push(cert.to_vec());
        list = list.get(ext_at + 2 + ext_len..).ok_or_else(err)?;
    }
    Ok(out)
}

/// The ALPN protocol in a TLS 1.3 EncryptedExtensions body.
pub(crate) fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let total = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    let mut exts = body.get(2..2 + total)?;
    while exts.len() >= 4 {
        let t = u16::from_be_bytes([exts[0], exts[1]]);
        let n = usize::from(u16::from_be_bytes([exts[2], exts[3]]));
        let data = exts.get(4..4 + n)?;
        if t == 16 {
            // protocol_name_list: u16 length, then u8-length names; the server picks one.
            let name_len = usize::from(*data.get(2)?);
            let name = data.get(3..3 + name_len)?;
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        exts = &exts[4 + n..];
    }
    None
}

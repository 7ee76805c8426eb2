//! Record protection: cipher suite table, key derivation (TLS 1.3 HKDF-Expand-Label, TLS ≤ 1.2
//! PRF and key block) and record decryption (AEAD and CBC + HMAC). The primitives come from
//! RustCrypto; only the protocol glue (labels, nonces, sequence numbers, padding) is here.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use cbc::cipher::{block_padding::NoPadding, BlockDecryptMut, KeyIvInit};
use hmac::{Hmac, Mac as _};
use sha2::{Sha256, Sha384};

/// Hash of a suite's PRF / HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    pub(crate) fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// Record MAC of a CBC or NULL suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacAlg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    fn len(self) -> usize {
        match self {
            MacAlg::Md5 => 16,
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// Bulk cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Ccm,
    Aes256Ccm,
    Aes128Ccm8,
    Aes256Ccm8,
    Aes128Cbc,
    Aes256Cbc,
    Null,
}

impl Bulk {
    fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Ccm | Bulk::Aes128Ccm8 | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm
            | Bulk::Aes256Ccm
            | Bulk::Aes256Ccm8
            | Bulk::Aes256Cbc
            | Bulk::ChaCha20Poly1305 => 32,
            Bulk::Null => 0,
        }
    }

    fn tag_len(self) -> usize {
        match self {
            Bulk::Aes128Ccm8 | Bulk::Aes256Ccm8 => 8,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc | Bulk::Null => 0,
            _ => 16,
        }
    }

    fn is_cbc(self) -> bool {
        matches!(self, Bulk::Aes128Cbc | Bulk::Aes256Cbc)
    }

    fn is_aead(self) -> bool {
        !self.is_cbc() && self != Bulk::Null
    }
}

/// What a cipher suite needs for decryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suite {
    pub(crate) bulk: Bulk,
    /// Record MAC (CBC and NULL suites only).
    pub(crate) mac: Option<MacAlg>,
    /// PRF hash (TLS 1.2) / HKDF hash (TLS 1.3).
    pub(crate) hash: Hash,
}

/// The suites tlscap can decrypt; `None` for the others (RC4, 3DES, Camellia, ARIA, ...).
pub(crate) fn suite(id: u16) -> Option<Suite> {
    use Bulk::*;
    use Hash::*;
    let aead = |bulk, hash| {
        Some(Suite {
            bulk,
            mac: None,
            hash,
        })
    };
    let cbc = |bulk, mac: MacAlg| {
        let hash = if mac == MacAlg::Sha384 {
            Sha384
        } else {
            Sha256
        };
        Some(Suite {
            bulk,
            mac: Some(mac),
            hash,
        })
    };
    match id {
        // TLS 1.3
        0x1301 => aead(Aes128Gcm, Sha256),
        0x1302 => aead(Aes256Gcm, Sha384),
        0x1303 => aead(ChaCha20Poly1305, Sha256),
        0x1304 => aead(Aes128Ccm, Sha256),
        0x1305 => aead(Aes128Ccm8, Sha256),
        // TLS 1.2 GCM (RSA, DHE, ECDHE, PSK variants)
        0x009c | 0x009e | 0x00a0 | 0x00a2 | 0x00a4 | 0x00a6 | 0x00a8 | 0x00aa | 0x00ac | 0xc02b
        | 0xc02d | 0xc02f | 0xc031 | 0xd001 => aead(Aes128Gcm, Sha256),
        0x009d | 0x009f | 0x00a1 | 0x00a3 | 0x00a5 | 0x00a7 | 0x00a9 | 0x00ab | 0x00ad | 0xc02c
        | 0xc02e | 0xc030 | 0xc032 | 0xd002 => aead(Aes256Gcm, Sha384),
        // ChaCha20-Poly1305 (RFC 7905)
        0xcca8..=0xccae => aead(ChaCha20Poly1305, Sha256),
        // CCM (RFC 6655, 7251)
        0xc09c | 0xc09e | 0xc0a4 | 0xc0a6 | 0xc0ac | 0xd005 => aead(Aes128Ccm, Sha256),
        0xc09d | 0xc09f | 0xc0a5 | 0xc0a7 | 0xc0ad => aead(Aes256Ccm, Sha256),
        0xc0a0 | 0xc0a2 | 0xc0a8 | 0xc0aa | 0xc0ae | 0xd003 => aead(Aes128Ccm8, Sha256),
        0xc0a1 | 0xc0a3 | 0xc0a9 | 0xc0ab | 0xc0af => aead(Aes256Ccm8, Sha256),
        // CBC with HMAC-SHA1
        0x002f | 0x0030 | 0x0031 | 0x0032 | 0x0033 | 0x0034 | 0x008c | 0x0090 | 0x0094 | 0xc004
        | 0xc009 | 0xc00e | 0xc013 | 0xc018 | 0xc035 => cbc(Aes128Cbc, MacAlg::Sha1),
        0x0035 | 0x0036 | 0x0037 | 0x0038 | 0x0039 | 0x003a | 0x008d | 0x0091 | 0x0095 | 0xc005
        | 0xc00a | 0xc00f | 0xc014 | 0xc019 | 0xc036 => cbc(Aes256Cbc, MacAlg::Sha1),
        // CBC with HMAC-SHA256 / SHA384
        0x003c | 0x003e | 0x003f | 0x0040 | 0x0067 | 0x006c | 0x00ae | 0x00b2 | 0x00b6 | 0xc023
        | 0xc025 | 0xc027 | 0xc029 | 0xc037 => cbc(Aes128Cbc, MacAlg::Sha256),
        0x003d | 0x0068 | 0x0069 | 0x006a | 0x006b | 0x006d => cbc(Aes256Cbc, MacAlg::Sha256),
        0x00af | 0x00b3 | 0x00b7 | 0xc024 | 0xc026 | 0xc028 | 0xc02a | 0xc038 => {
            cbc(Aes256Cbc, MacAlg::Sha384)
        }
        // NULL encryption (integrity only)
        0x0001 => cbc(Null, MacAlg::Md5),
        0x0002 | 0x002c | 0x002d | 0x002e | 0xc001 | 0xc006 | 0xc00b | 0xc010 | 0xc015 | 0xc039 => {
            cbc(Null, MacAlg::Sha1)
        }
        0x003b | 0x00b0 | 0x00b4 | 0x00b8 | 0xc03a => cbc(Null, MacAlg::Sha256),
        0x00b1 | 0x00b5 | 0x00b9 | 0xc03b => cbc(Null, MacAlg::Sha384),
        _ => None,
    }
}

fn hmac_parts(alg: MacAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    macro_rules! run {
        ($h:ty) => {{
            // HMAC accepts keys of any length: new_from_slice cannot fail.
            let Ok(mut m) = <Hmac<$h> as hmac::Mac>::new_from_slice(key) else {
                return Vec::new();
            };
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        MacAlg::Md5 => run!(md5::Md5),
        MacAlg::Sha1 => run!(sha1::Sha1),
        MacAlg::Sha256 => run!(Sha256),
        MacAlg::Sha384 => run!(Sha384),
    }
}

/// P_hash of RFC 5246 §5.
fn p_hash(alg: MacAlg, secret: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 48);
    let mut a = hmac_parts(alg, secret, &[seed]);
    while out.len() < len && !a.is_empty() {
        out.extend(hmac_parts(alg, secret, &[&a, seed]));
        a = hmac_parts(alg, secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// The TLS PRF: TLS 1.2 P_SHA256/P_SHA384 (RFC 5246 §5), TLS 1.0/1.1 P_MD5 ⊕ P_SHA1
/// (RFC 2246 §5).
pub(crate) fn prf(
    version: u16,
    hash: Hash,
    secret: &[u8],
    label: &[u8],
    seed: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut ls = label.to_vec();
    ls.extend_from_slice(seed);
    if version >= 0x0303 {
        let alg = match hash {
            Hash::Sha256 => MacAlg::Sha256,
            Hash::Sha384 => MacAlg::Sha384,
        };
        return p_hash(alg, secret, &ls, len);
    }
    let half = secret.len().div_ceil(2);
    let s1 = &secret[..half];
    let s2 = &secret[secret.len() - half..];
    let md5 = p_hash(MacAlg::Md5, s1, &ls, len);
    let sha = p_hash(MacAlg::Sha1, s2, &ls, len);
    md5.iter().zip(sha.iter()).map(|(a, b)| a ^ b).collect()
}

/// HKDF-Expand-Label of RFC 8446 §7.1 (`prefix` is `tls13 `; drafts before 20 used
/// `TLS 1.3, `).
pub(crate) fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    prefix: &[u8],
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    let mut info = Vec::with_capacity(4 + prefix.len() + label.len() + context.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(u8::try_from(prefix.len() + label.len()).ok()?);
    info.extend_from_slice(prefix);
    info.extend_from_slice(label);
    info.push(u8::try_from(context.len()).ok()?);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    let ok = match hash {
        Hash::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
        Hash::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
    };
    ok.then_some(out)
}

/// A keyed bulk cipher.
enum Cipher {
    Aes128Gcm(Box<aes_gcm::Aes128Gcm>),
    Aes256Gcm(Box<aes_gcm::Aes256Gcm>),
    ChaCha(Box<chacha20poly1305::ChaCha20Poly1305>),
    Aes128Ccm(Box<ccm::Ccm<aes::Aes128, ccm::consts::U16, ccm::consts::U12>>),
    Aes256Ccm(Box<ccm::Ccm<aes::Aes256, ccm::consts::U16, ccm::consts::U12>>),
    Aes128Ccm8(Box<ccm::Ccm<aes::Aes128, ccm::consts::U8, ccm::consts::U12>>),
    Aes256Ccm8(Box<ccm::Ccm<aes::Aes256, ccm::consts::U8, ccm::consts::U12>>),
    /// CBC keeps the raw key: a decryptor is made per record with that record's IV.
    Cbc(Vec<u8>),
    Null,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(..)")
    }
}

impl Cipher {
    fn new(bulk: Bulk, key: &[u8]) -> Option<Cipher> {
        Some(match bulk {
            Bulk::Aes128Gcm => {
                Cipher::Aes128Gcm(Box::new(aes_gcm::Aes128Gcm::new_from_slice(key).ok()?))
            }
            Bulk::Aes256Gcm => {
                Cipher::Aes256Gcm(Box::new(aes_gcm::Aes256Gcm::new_from_slice(key).ok()?))
            }
            Bulk::ChaCha20Poly1305 => Cipher::ChaCha(Box::new(
                chacha20poly1305::ChaCha20Poly1305::new_from_slice(key).ok()?,
            )),
            Bulk::Aes128Ccm => Cipher::Aes128Ccm(Box::new(ccm::Ccm::new_from_slice(key).ok()?)),
            Bulk::Aes256Ccm => Cipher::Aes256Ccm(Box::new(ccm::Ccm::new_from_slice(key).ok()?)),
            Bulk::Aes128Ccm8 => Cipher::Aes128Ccm8(Box::new(ccm::Ccm::new_from_slice(key).ok()?)),
            Bulk::Aes256Ccm8 => Cipher::Aes256Ccm8(Box::new(ccm::Ccm::new_from_slice(key).ok()?)),
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => Cipher::Cbc(key.to_vec()),
            Bulk::Null => Cipher::Null,
        })
    }

    fn open(&self, nonce: &[u8; 12], aad: &[u8], msg: &[u8]) -> Option<Vec<u8>> {
        let p = Payload { msg, aad };
        let n = aes_gcm::Nonce::from_slice(nonce);
        match self {
            Cipher::Aes128Gcm(c) => c.decrypt(n, p).ok(),
            Cipher::Aes256Gcm(c) => c.decrypt(n, p).ok(),
            Cipher::ChaCha(c) => c.decrypt(n, p).ok(),
            Cipher::Aes128Ccm(c) => c.decrypt(n, p).ok(),
            Cipher::Aes256Ccm(c) => c.decrypt(n, p).ok(),
            Cipher::Aes128Ccm8(c) => c.decrypt(n, p).ok(),
            Cipher::Aes256Ccm8(c) => c.decrypt(n, p).ok(),
            Cipher::Cbc(_) | Cipher::Null => None,
        }
    }

    /// CBC-decrypts whole blocks in place (no padding removal).
    fn cbc_decrypt(&self, iv: &[u8], buf: &mut [u8]) -> Option<()> {
        let Cipher::Cbc(key) = self else {
            return None;
        };
        match key.len() {
            16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(buf)
                .ok()
                .map(|_| ()),
            32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
                .ok()?
                .decrypt_padded_mut::<NoPadding>(buf)
                .ok()
                .map(|_| ()),
            _ => None,
        }
    }
}

/// Why a record could not be decrypted.
pub(crate) type Failure = &'static str;

/// DTLS 1.3 record number encryption key (RFC 9147 §4.2.3): the mask over the sequence
/// number is AES-ECB of the first 16 ciphertext bytes for AES suites, ChaCha20 keyed with
/// them (counter = bytes 0..4, nonce = bytes 4..16) for ChaCha20-Poly1305. The same
/// construction as QUIC's header protection.
enum SnKey {
    Aes128(Box<aes::Aes128>),
    Aes256(Box<aes::Aes256>),
    ChaCha([u8; 32]),
}

impl std::fmt::Debug for SnKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnKey(..)")
    }
}

impl SnKey {
    fn new(bulk: Bulk, key: &[u8]) -> Option<SnKey> {
        use aes::cipher::KeyInit as _;
        Some(match bulk {
            Bulk::Aes128Gcm | Bulk::Aes128Ccm | Bulk::Aes128Ccm8 => {
                SnKey::Aes128(Box::new(aes::Aes128::new_from_slice(key).ok()?))
            }
            Bulk::Aes256Gcm | Bulk::Aes256Ccm | Bulk::Aes256Ccm8 => {
                SnKey::Aes256(Box::new(aes::Aes256::new_from_slice(key).ok()?))
            }
            Bulk::ChaCha20Poly1305 => SnKey::ChaCha(key.try_into().ok()?),
            Bulk::Aes128Cbc | Bulk::Aes256Cbc | Bulk::Null => return None,
        })
    }

    /// The first two bytes of the mask for a record whose ciphertext starts with `sample`.
    fn mask(&self, sample: &[u8; 16]) -> [u8; 2] {
        use aes::cipher::BlockEncrypt;
        let mut out = [0u8; 2];
        match self {
            SnKey::Aes128(k) => {
                let mut block = (*sample).into();
                k.encrypt_block(&mut block);
                out.copy_from_slice(&block[..2]);
            }
            SnKey::Aes256(k) => {
                let mut block = (*sample).into();
                k.encrypt_block(&mut block);
                out.copy_from_slice(&block[..2]);
            }
            SnKey::ChaCha(k) => {
                use chacha20::cipher::{KeyIvInit as _, StreamCipher, StreamCipherSeek};
                let counter = u32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                let mut c = chacha20::ChaCha20::new(k.into(), sample[4..].into());
                c.seek(u64::from(counter) * 64);
                c.apply_keystream(&mut out);
            }
        }
        out
    }
}

/// DTLS 1.3's version number in its hellos.
const DTLS13: u16 = 0xfefc;

/// One direction's record protection state.
#[derive(Debug)]
pub(crate) struct DirKeys {
    suite: Suite,
    cipher: Cipher,
    /// TLS 1.3 / ChaCha: the 12-byte IV; TLS 1.2 GCM/CCM: the 4-byte salt; CBC TLS 1.0: the
    /// running IV (last ciphertext block).
    iv: Vec<u8>,
    mac_key: Vec<u8>,
    /// Records decrypted (or skipped) with these keys: the record sequence number.
    pub(crate) seq: u64,
    version: u16,
    /// TLS 1.3: the current traffic secret (for KeyUpdate).
    secret: Vec<u8>,
    /// TLS 1.3 drafts before 25 authenticate no record header.
    empty_aad: bool,
    /// HKDF label prefix (TLS 1.3).
    label_prefix: &'static [u8],
    /// encrypt_then_mac negotiated (CBC suites).
    etm: bool,
    /// DTLS 1.3: the record number encryption key.
    sn: Option<SnKey>,
}

impl DirKeys {
    /// TLS 1.3 keys from a traffic secret.
    pub(crate) fn tls13(suite: Suite, version: u16, secret: &[u8]) -> Option<DirKeys> {
        // Drafts before 20 used the "TLS 1.3, " label prefix.
        let draft = (version >> 8 == 0x7f).then_some(version & 0xff);
        // DTLS 1.3 labels its keys "dtls13" (RFC 9147 §5.9), with no space.
        let label_prefix: &'static [u8] = match draft {
            Some(d) if d < 20 => b"TLS 1.3, ",
            _ if version == DTLS13 => b"dtls13",
            _ => b"tls13 ",
        };
        let key = hkdf_expand_label(
            suite.hash,
            secret,
            label_prefix,
            b"key",
            b"",
            suite.bulk.key_len(),
        )?;
        let iv = hkdf_expand_label(suite.hash, secret, label_prefix, b"iv", b"", 12)?;
        let sn = if version == DTLS13 {
            let k = hkdf_expand_label(
                suite.hash,
                secret,
                label_prefix,
                b"sn",
                b"",
                suite.bulk.key_len(),
            )?;
            Some(SnKey::new(suite.bulk, &k)?)
        } else {
            None
        };
        Some(DirKeys {
            suite,
            cipher: Cipher::new(suite.bulk, &key)?,
            iv,
            mac_key: Vec::new(),
            seq: 0,
            version,
            secret: secret.to_vec(),
            empty_aad: draft.is_some_and(|d| d < 25),
            label_prefix,
            etm: false,
            sn,
        })
    }

    /// TLS 1.3 KeyUpdate: the next generation of traffic secret (RFC 8446 §7.2).
    pub(crate) fn update(&self) -> Option<DirKeys> {
        let next = hkdf_expand_label(
            self.suite.hash,
            &self.secret,
            self.label_prefix,
            b"traffic upd",
            b"",
            self.suite.hash.len(),
        )?;
        DirKeys::tls13(self.suite, self.version, &next)
    }

    /// TLS ≤ 1.2 keys for both directions (client, server) from the master secret.
    pub(crate) fn tls12(
        suite: Suite,
        version: u16,
        master: &[u8],
        client_random: &[u8],
        server_random: &[u8],
        etm: bool,
    ) -> Option<(DirKeys, DirKeys)> {
        let mac_len = if suite.bulk.is_aead() {
            0
        } else {
            suite.mac.map(|m| m.len()).unwrap_or(0)
        };
        let key_len = suite.bulk.key_len();
        let iv_len = match suite.bulk {
            Bulk::ChaCha20Poly1305 => 12,
            b if b.is_aead() => 4,
            b if b.is_cbc() => 16,
            _ => 0,
        };
        let mut seed = server_random.to_vec();
        seed.extend_from_slice(client_random);
        let kb = prf(
            version,
            suite.hash,
            master,
            b"key expansion",
            &seed,
            2 * (mac_len + key_len + iv_len),
        );
        let mut parts = kb.chunks(1).map(|c| c[0]);
        let mut take = |n: usize| -> Vec<u8> { parts.by_ref().take(n).collect() };
        let (cm, sm) = (take(mac_len), take(mac_len));
        let (ck, sk) = (take(key_len), take(key_len));
        let (civ, siv) = (take(iv_len), take(iv_len));
        let make = |mac_key: Vec<u8>, key: Vec<u8>, iv: Vec<u8>| {
            Some(DirKeys {
                suite,
                cipher: Cipher::new(suite.bulk, &key)?,
                iv,
                mac_key,
                seq: 0,
                version,
                secret: Vec::new(),
                empty_aad: false,
                label_prefix: b"",
                etm,
                sn: None,
            })
        };
        Some((make(cm, ck, civ)?, make(sm, sk, siv)?))
    }

    /// TLS 1.3: this keys' version is 1.3 (the inner content type ends the plaintext).
    fn is_tls13(&self) -> bool {
        self.version == 0x0304 || self.version == DTLS13 || self.version >> 8 == 0x7f
    }

    /// Whether skipping a record without decrypting it keeps later records decryptable
    /// (false only for TLS 1.0 CBC, whose IV is the previous record's last block).
    pub(crate) fn can_skip(&self) -> bool {
        !(self.suite.bulk.is_cbc() && self.version <= 0x0301)
    }

    /// Accounts for a record that was not decrypted.
    pub(crate) fn skip(&mut self) {
        self.seq = self.seq.wrapping_add(1);
    }

    fn nonce_xor_seq(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        for (i, b) in n.iter_mut().enumerate() {
            *b = self.iv.get(i).copied().unwrap_or(0);
        }
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Decrypts one record body. `header` is the 5-byte record header. Returns the content type
    /// (the inner one for TLS 1.3) and the plaintext.
    pub(crate) fn decrypt(
        &mut self,
        header: &[u8; 5],
        body: &[u8],
    ) -> Result<(u8, Vec<u8>), Failure> {
        let r = if self.is_tls13() {
            self.open13(header, body)
        } else if self.suite.bulk.is_aead() {
            self.open12_aead(header, body)
        } else {
            self.open12_mac(header, body)
        };
        self.seq = self.seq.wrapping_add(1);
        r
    }

    /// Decrypts one DTLS 1.3 record (RFC 9147 §4): `header` is its unified header as on the
    /// wire, whose masked sequence number (`seq_len` bytes from `seq_at`) is unmasked here
    /// and expanded to the full 64-bit number closest to the next one expected. The header
    /// with the unmasked number is the additional data; the number alone (no epoch) goes
    /// into the nonce. Returns the inner content type, the plaintext and the record number.
    pub(crate) fn decrypt_dtls13(
        &mut self,
        header: &[u8],
        seq_at: usize,
        seq_len: usize,
        body: &[u8],
    ) -> Result<(u8, Vec<u8>, u64), Failure> {
        let sn = self.sn.as_ref().ok_or("not DTLS 1.3 keys")?;
        let sample: &[u8; 16] = body
            .get(..16)
            .and_then(|s| s.try_into().ok())
            .ok_or("record too short for its sequence number mask")?;
        let mask = sn.mask(sample);
        let mut aad = header.to_vec();
        let masked = aad
            .get_mut(seq_at..seq_at + seq_len)
            .filter(|_| matches!(seq_len, 1 | 2))
            .ok_or("malformed record header")?;
        let mut low = 0u64;
        for (b, m) in masked.iter_mut().zip(mask) {
            *b ^= m;
            low = low << 8 | u64::from(*b);
        }
        let seq = expand_seq(self.seq, low, 8 * seq_len as u32);
        let expected = self.seq;
        self.seq = seq;
        let r = self.open13(&aad, body);
        // Reordered or repeated records must not move the expectation back.
        self.seq = if r.is_ok() {
            expected.max(seq.saturating_add(1))
        } else {
            expected
        };
        r.map(|(ct, plain)| (ct, plain, seq))
    }

    fn open13(&self, header: &[u8], body: &[u8]) -> Result<(u8, Vec<u8>), Failure> {
        let aad: &[u8] = if self.empty_aad { &[] } else { header };
        let mut plain = self
            .cipher
            .open(&self.nonce_xor_seq(), aad, body)
            .ok_or("record authentication failed (wrong key?)")?;
        // TLSInnerPlaintext: content, content type, zero padding.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        let ct = plain.pop().ok_or("TLS 1.3 record without a content type")?;
        Ok((ct, plain))
    }

    fn aad12(&self, header: &[u8; 5], len: usize) -> Result<[u8; 13], Failure> {
        let len = u16::try_from(len).map_err(|_| "record too long")?;
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8..11].copy_from_slice(&header[..3]);
        aad[11..].copy_from_slice(&len.to_be_bytes());
        Ok(aad)
    }

    fn open12_aead(&self, header: &[u8; 5], body: &[u8]) -> Result<(u8, Vec<u8>), Failure> {
        let tag = self.suite.bulk.tag_len();
        let (nonce, ct) = if self.suite.bulk == Bulk::ChaCha20Poly1305 {
            (self.nonce_xor_seq(), body)
        } else {
            // GCM / CCM: 4-byte salt from the key block, 8-byte explicit nonce in the record.
            let explicit = body
                .get(..8)
                .ok_or("record shorter than its explicit nonce")?;
            let mut n = [0u8; 12];
            n[..4].copy_from_slice(self.iv.get(..4).ok_or("bad IV")?);
            n[4..].copy_from_slice(explicit);
            (n, &body[8..])
        };
        let plain_len = ct
            .len()
            .checked_sub(tag)
            .ok_or("record shorter than its tag")?;
        let aad = self.aad12(header, plain_len)?;
        let plain = self
            .cipher
            .open(&nonce, &aad, ct)
            .ok_or("record authentication failed (wrong key?)")?;
        Ok((header[0], plain))
    }

    fn check_mac(&self, header: &[u8; 5], content: &[u8], mac: &[u8]) -> Result<(), Failure> {
        let alg = self.suite.mac.ok_or("no MAC")?;
        let aad = self.aad12(header, content.len())?;
        let want = hmac_parts(alg, &self.mac_key, &[&aad, content]);
        // Not constant time on purpose: this is an offline check, no oracle to protect.
        if want != mac {
            return Err("record MAC mismatch (wrong key?)");
        }
        Ok(())
    }

    fn open12_mac(&mut self, header: &[u8; 5], body: &[u8]) -> Result<(u8, Vec<u8>), Failure> {
        let mac_len = self.suite.mac.map(|m| m.len()).unwrap_or(0);
        if self.suite.bulk == Bulk::Null {
            let split = body
                .len()
                .checked_sub(mac_len)
                .ok_or("record shorter than its MAC")?;
            let (content, mac) = body.split_at(split);
            self.check_mac(header, content, mac)?;
            return Ok((header[0], content.to_vec()));
        }
        let explicit_iv = self.version >= 0x0302;
        if self.etm {
            // encrypt_then_mac (RFC 7366): MAC over the ciphertext (IV included).
            let split = body
                .len()
                .checked_sub(mac_len)
                .ok_or("record shorter than its MAC")?;
            let (ct, mac) = body.split_at(split);
            self.check_mac(header, ct, mac)?;
            let plain = self.cbc(ct, explicit_iv)?;
            let content = strip_padding(&plain)?;
            return Ok((header[0], content.to_vec()));
        }
        let plain = self.cbc(body, explicit_iv)?;
        let unpadded = strip_padding(&plain)?;
        let split = unpadded
            .len()
            .checked_sub(mac_len)
            .ok_or("record shorter than its MAC")?;
        let (content, mac) = unpadded.split_at(split);
        self.check_mac(header, content, mac)?;
        Ok((header[0], content.to_vec()))
    }

    /// CBC-decrypts `ct` (explicit IV first from TLS 1.1 on; chained IV in TLS 1.0).
    fn cbc(&mut self, ct: &[u8], explicit_iv: bool) -> Result<Vec<u8>, Failure> {
        let (iv, data) = if explicit_iv {
            let iv = ct.get(..16).ok_or("record shorter than its IV")?;
            (iv.to_vec(), &ct[16..])
        } else {
            (self.iv.clone(), ct)
        };
        if data.is_empty() || data.len() % 16 != 0 {
            return Err("CBC record is not a whole number of blocks");
        }
        if !explicit_iv {
            self.iv = data[data.len() - 16..].to_vec();
        }
        let mut buf = data.to_vec();
        self.cipher
            .cbc_decrypt(&iv, &mut buf)
            .ok_or("CBC decryption failed")?;
        Ok(buf)
    }
}

/// Removes TLS CBC padding (the last byte is the padding length; every padding byte equals it).
/// The full record number whose low `bits` are `low`, closest to `expected` (RFC 9147 §4.2.2,
/// as QUIC expands packet numbers).
fn expand_seq(expected: u64, low: u64, bits: u32) -> u64 {
    let win = 1u64 << bits;
    let candidate = (expected & !(win - 1)) | low;
    if candidate.saturating_add(win / 2) <= expected {
        candidate.saturating_add(win)
    } else if candidate > expected.saturating_add(win / 2) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

fn strip_padding(plain: &[u8]) -> Result<&[u8], Failure> {
    let &pad = plain.last().ok_or("empty record")?;
    let cut = plain
        .len()
        .checked_sub(usize::from(pad) + 1)
        .ok_or("bad CBC padding (wrong key?)")?;
    if plain[cut..].iter().any(|&b| b != pad) {
        return Err("bad CBC padding (wrong key?)");
    }
    Ok(&plain[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    /// RFC 8448 §3 (Simple 1-RTT Handshake), values typed from the published trace.
    const C_HS_TRAFFIC: &str = "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f \
                                3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21";
    const S_HS_TRAFFIC: &str = "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 \
                                e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38";

    #[test]
    fn rfc8448_traffic_keys_and_ivs() {
        let ek = |s: &str, label: &[u8], n| {
            hkdf_expand_label(Hash::Sha256, &h(s), b"tls13 ", label, b"", n).unwrap()
        };
        // "{server} derive write traffic keys for handshake data"
        assert_eq!(
            ek(S_HS_TRAFFIC, b"key", 16),
            h("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(
            ek(S_HS_TRAFFIC, b"iv", 12),
            h("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        );
        // "{client} derive write traffic keys for handshake data"
        assert_eq!(
            ek(C_HS_TRAFFIC, b"key", 16),
            h("db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01")
        );
        assert_eq!(
            ek(C_HS_TRAFFIC, b"iv", 12),
            h("5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f")
        );
    }

    #[test]
    fn rfc8448_client_finished_record_decrypts() {
        // RFC 8448 §3 "{client} send handshake record", complete record (58 octets).
        let record = h(
            "17 03 03 00 35 75 ec 4d c2 38 cc e6 0b 29 80 44 a7 1e 21 9c 56 cc 77 b0 \
                        51 7f e9 b9 3c 7a 4b fc 44 d8 7f 38 f8 03 38 ac 98 fc 46 de b3 84 bd 1c \
                        ae ac ab 68 67 d7 26 c4 05 46",
        );
        let mut keys = DirKeys::tls13(suite(0x1301).unwrap(), 0x0304, &h(C_HS_TRAFFIC)).unwrap();
        let hdr: [u8; 5] = record[..5].try_into().unwrap();
        let (ct, plain) = keys.decrypt(&hdr, &record[5..]).unwrap();
        assert_eq!(ct, 22);
        // The client Finished message: type 20, 32 bytes of verify_data.
        assert_eq!(plain.len(), 36);
        assert_eq!(&plain[..4], &[0x14, 0x00, 0x00, 0x20]);
        assert_eq!(keys.seq, 1);
        // A wrong sequence number must fail authentication.
        assert!(keys.decrypt(&hdr, &record[5..]).is_err());
    }

    // Hand-picked numbers: the expansion rule itself (RFC 9147 §4.2.2 leaves the choice
    // of "closest" to the receiver; this is QUIC's).
    #[test]
    fn record_numbers_expand_to_the_closest() {
        assert_eq!(expand_seq(0, 0, 8), 0);
        assert_eq!(expand_seq(5, 3, 8), 3);
        assert_eq!(expand_seq(250, 2, 8), 258);
        assert_eq!(expand_seq(258, 250, 8), 250);
        assert_eq!(expand_seq(0x1_0000, 0xffff, 16), 0xffff);
        assert_eq!(expand_seq(0x1_fff0, 0x0005, 16), 0x2_0005);
    }

    #[test]
    fn cbc_padding_rules() {
        // Hand-built: padding length 2 with matching bytes, and a mismatching one.
        assert_eq!(strip_padding(&[1, 2, 3, 2, 2, 2]).unwrap(), &[1, 2, 3]);
        assert!(strip_padding(&[1, 2, 3, 1, 2]).is_err());
        assert!(strip_padding(&[9]).is_err());
    }
}

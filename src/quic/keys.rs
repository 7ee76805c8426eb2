//! QUIC packet protection (RFC 9001 §5, RFC 9369 §3.3): Initial secrets from the client's
//! Destination Connection ID, keys from a TLS traffic secret, header protection removal and
//! payload decryption. The primitives are RustCrypto's (hkdf, aes, aes-gcm, chacha20,
//! chacha20poly1305); only the protocol glue is here.

use super::wire::V2;
use crate::tls::HkdfHash as Hash;
use aes::cipher::BlockEncrypt;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use chacha20::cipher::{KeyIvInit, StreamCipher};
use sha2::Sha256;

/// The Initial salt of a version (RFC 9001 §5.2, RFC 9369 §3.3.1, and the drafts' salts as
/// Wireshark and nDPI use them). None: a version whose Initial protection is unknown.
fn initial_salt(version: u32) -> Option<[u8; 20]> {
    let hex: &str = match version {
        // draft-33 and draft-34 already used v1's salt.
        0x0000_0001 | 0xff00_0021..=0xff00_0022 => "38762cf7f55934b34d179ae6a4c80cadccbb7f0a",
        V2 => "0dede3def700a6db819381be6e269dcbf9bd2ed9",
        0xff00_001d..=0xff00_0020 => "afbfec289993d24c9e9786f19c6111e04390a899",
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => {
            "c3eef712c72ebb5a11a7d2432bb46365bef9f502"
        }
        0xff00_0016 | 0xface_b001 => "7fbcdb0e7c66bbe9193a96cd21519ebd7a02644a",
        // Versions reserved to force Version Negotiation (0x?a?a?a?a): clients protect their
        // Initial with draft-29's salt (Wireshark and nDPI read them so).
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => "afbfec289993d24c9e9786f19c6111e04390a899",
        _ => return None,
    };
    hex::decode(hex).ok()?.try_into().ok()
}

/// Whether Initial packets of this version can be read.
pub fn known_version(version: u32) -> bool {
    initial_salt(version).is_some()
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
fn expand_label(hash: Hash, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    crate::tls::hkdf_expand_label(hash, secret, b"tls13 ", label, &[], len)
}

/// The packet protection AEAD.
enum Sealer {
    Aes128(Box<aes_gcm::Aes128Gcm>),
    Aes256(Box<aes_gcm::Aes256Gcm>),
    ChaCha(Box<chacha20poly1305::ChaCha20Poly1305>),
}

/// The header protection cipher (RFC 9001 §5.4.3, §5.4.4).
enum HeaderKey {
    Aes128(Box<aes::Aes128>),
    Aes256(Box<aes::Aes256>),
    ChaCha([u8; 32]),
}

/// Keys protecting one direction of one packet number space.
pub struct PacketKeys {
    sealer: Sealer,
    iv: [u8; 12],
    hp: HeaderKey,
}

impl std::fmt::Debug for PacketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PacketKeys(..)")
    }
}

/// Which endpoint's Initial keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The client's packets.
    Client,
    /// The server's packets.
    Server,
}

/// A decrypted packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The full packet number.
    pub pn: u64,
    /// The frames.
    pub payload: Vec<u8>,
}

impl PacketKeys {
    /// The Initial keys of `sender` for a connection whose client chose `dcid`.
    pub fn initial(version: u32, dcid: &[u8], sender: Sender) -> Option<PacketKeys> {
        let salt = initial_salt(version)?;
        let (initial, _) = hkdf::Hkdf::<Sha256>::extract(Some(&salt), dcid);
        let label: &[u8] = match sender {
            Sender::Client => b"client in",
            Sender::Server => b"server in",
        };
        let secret = expand_label(Hash::Sha256, &initial, label, 32)?;
        Self::from_secret(version, 0x1301, &secret)
    }

    /// Keys from a TLS 1.3 traffic secret of cipher suite `suite` (RFC 9001 §5.1).
    pub fn from_secret(version: u32, suite: u16, secret: &[u8]) -> Option<PacketKeys> {
        let (hash, key_len) = match suite {
            0x1301 => (Hash::Sha256, 16),
            0x1302 => (Hash::Sha384, 32),
            0x1303 => (Hash::Sha256, 32),
            _ => return None,
        };
        let (lk, li, lh): (&[u8], &[u8], &[u8]) = if version == V2 {
            (b"quicv2 key", b"quicv2 iv", b"quicv2 hp")
        } else {
            (b"quic key", b"quic iv", b"quic hp")
        };
        let key = expand_label(hash, secret, lk, key_len)?;
        let iv: [u8; 12] = expand_label(hash, secret, li, 12)?.try_into().ok()?;
        let hp = expand_label(hash, secret, lh, key_len)?;
        let (sealer, hp) = match suite {
            0x1301 => (
                Sealer::Aes128(Box::new(aes_gcm::Aes128Gcm::new_from_slice(&key).ok()?)),
                HeaderKey::Aes128(Box::new(aes::Aes128::new_from_slice(&hp).ok()?)),
            ),
            0x1302 => (
                Sealer::Aes256(Box::new(aes_gcm::Aes256Gcm::new_from_slice(&key).ok()?)),
                HeaderKey::Aes256(Box::new(aes::Aes256::new_from_slice(&hp).ok()?)),
            ),
            _ => (
                Sealer::ChaCha(Box::new(
                    chacha20poly1305::ChaCha20Poly1305::new_from_slice(&key).ok()?,
                )),
                HeaderKey::ChaCha(hp.try_into().ok()?),
            ),
        };
        Some(PacketKeys { sealer, iv, hp })
    }

    /// The header protection mask for a 16-byte sample.
    fn mask(&self, sample: &[u8; 16]) -> [u8; 5] {
        let mut out = [0u8; 5];
        match &self.hp {
            HeaderKey::Aes128(k) => {
                let mut block = (*sample).into();
                k.encrypt_block(&mut block);
                out.copy_from_slice(&block[..5]);
            }
            HeaderKey::Aes256(k) => {
                let mut block = (*sample).into();
                k.encrypt_block(&mut block);
                out.copy_from_slice(&block[..5]);
            }
            HeaderKey::ChaCha(k) => {
                // RFC 9001 §5.4.4: counter = sample[0..4] (little endian), nonce = sample[4..16].
                let counter = u32::from_le_bytes([sample[0], sample[1], sample[2], sample[3]]);
                let mut c = chacha20::ChaCha20::new(k.into(), sample[4..].into());
                use chacha20::cipher::StreamCipherSeek;
                c.seek(u64::from(counter) * 64);
                c.apply_keystream(&mut out);
            }
        }
        out
    }

    /// Removes header protection and decrypts the packet `packet[..packet_len]` whose packet
    /// number starts at `pn_offset`. `largest` is the largest packet number decrypted so far
    /// in this space (to expand the truncated one). None when the packet is cut short or does
    /// not authenticate.
    pub fn open(
        &self,
        packet: &[u8],
        pn_offset: usize,
        packet_len: usize,
        largest: Option<u64>,
    ) -> Option<Opened> {
        let packet = packet.get(..packet_len)?;
        let sample: &[u8; 16] = packet.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
        let mask = self.mask(sample);
        let first = packet[0];
        let first = if first & 0x80 != 0 {
            first ^ (mask[0] & 0x0f)
        } else {
            first ^ (mask[0] & 0x1f)
        };
        let pn_len = usize::from(first & 3) + 1;
        let mut header = packet.get(..pn_offset + pn_len)?.to_vec();
        header[0] = first;
        let mut truncated = 0u64;
        for i in 0..pn_len {
            header[pn_offset + i] ^= mask[1 + i];
            truncated = (truncated << 8) | u64::from(header[pn_offset + i]);
        }
        let pn = expand_pn(largest, truncated, pn_len * 8);
        let mut nonce = self.iv;
        for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let payload = Payload {
            msg: &packet[pn_offset + pn_len..],
            aad: &header,
        };
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        let payload = match &self.sealer {
            Sealer::Aes128(c) => c.decrypt(nonce, payload),
            Sealer::Aes256(c) => c.decrypt(nonce, payload),
            Sealer::ChaCha(c) => c.decrypt(nonce, payload),
        }
        .ok()?;
        Some(Opened { pn, payload })
    }
}

/// RFC 9000 §A.3: the full packet number closest to the one expected.
fn expand_pn(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 §A.3: the server's Initial (an RFC test vector, not a capture).
    const RFC9001_SERVER_INITIAL: &str = "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc42158407dd074ee";

    #[test]
    fn rfc9001_server_initial_decrypts() {
        let pkt = hex::decode(RFC9001_SERVER_INITIAL).unwrap();
        let h = super::super::wire::long_header(&pkt).unwrap();
        let dcid = hex::decode("8394c8f03e515708").unwrap();
        let keys = PacketKeys::initial(1, &dcid, Sender::Server).unwrap();
        let opened = keys.open(&pkt, h.pn_offset, h.packet_len, None).unwrap();
        assert_eq!(opened.pn, 1);
        assert_eq!(
            hex::encode(&opened.payload[..12]),
            "02000000000600405a020000"
        );
        // A flipped ciphertext bit fails authentication; every cut is refused.
        let mut bad = pkt.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(keys.open(&bad, h.pn_offset, h.packet_len, None).is_none());
        for cut in 0..pkt.len() {
            assert!(keys
                .open(&pkt[..cut], h.pn_offset, h.packet_len, None)
                .is_none());
        }
    }

    /// RFC 9369 §A.3: the v2 server Initial.
    #[test]
    fn rfc9369_server_initial_decrypts() {
        let pkt = hex::decode("dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca84bed8521e2e140").unwrap();
        let h = super::super::wire::long_header(&pkt).unwrap();
        assert_eq!(h.kind, super::super::wire::LongType::Initial);
        let dcid = hex::decode("8394c8f03e515708").unwrap();
        let keys = PacketKeys::initial(V2, &dcid, Sender::Server).unwrap();
        let opened = keys.open(&pkt, h.pn_offset, h.packet_len, None).unwrap();
        assert_eq!(opened.pn, 1);
        assert_eq!(hex::encode(&opened.payload[..6]), "020000000006");
    }

    /// RFC 9001 §A.5: ChaCha20-Poly1305 short header packet.
    #[test]
    fn rfc9001_chacha_short_header_decrypts() {
        let secret =
            hex::decode("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
                .unwrap();
        let keys = PacketKeys::from_secret(1, 0x1303, &secret).unwrap();
        let pkt = hex::decode("4cfe4189655e5cd55c41f69080575d7999c25a5bfb").unwrap();
        let opened = keys.open(&pkt, 1, pkt.len(), Some(654_360_563)).unwrap();
        assert_eq!(opened.pn, 654_360_564);
        assert_eq!(opened.payload, vec![0x01]);
    }

    #[test]
    fn packet_number_expansion() {
        // RFC 9000 §A.3 example.
        assert_eq!(expand_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
        assert_eq!(expand_pn(None, 0, 8), 0);
    }
}

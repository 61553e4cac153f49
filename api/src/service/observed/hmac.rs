//! HMAC-SHA256 (RFC 2104) over `sha2`, and the check of a `generic-hmac` `X-Signature` header.
//!
//! Written here rather than pulled in as a crate: it is a dozen lines over the hash we already
//! depend on, and the RFC 4231 vectors below pin it down.

use sha2::{Digest, Sha256};

use crate::service::tokens::constant_time_eq;

const BLOCK: usize = 64;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether `header` (`sha256=<hex>`, as notification-controller's `generic-hmac` provider
/// sends it) signs `body` under `key`. The comparison takes the same time however much of a
/// forged signature is right.
pub fn signature_matches(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let expected: String = hmac_sha256(key, body).iter().map(|b| format!("{b:02x}")).collect();
    constant_time_eq(expected.as_bytes(), hex.to_ascii_lowercase().as_bytes())
}

/// The header value a sender computes: `sha256=<hex>`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let hex: String = hmac_sha256(key, body).iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc_4231_vectors_match() {
        // Test case 1: a 20-byte key.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2: a short key.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signatures_are_checked_whole() {
        let header = signature(b"k", b"{}");
        assert!(signature_matches(b"k", b"{}", &header));
        assert!(signature_matches(
            b"k",
            b"{}",
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!signature_matches(b"k", b"{ }", &header));
        assert!(!signature_matches(b"other", b"{}", &header));
        assert!(!signature_matches(b"k", b"{}", header.trim_start_matches("sha256=")));
        assert!(!signature_matches(b"k", b"{}", &header[..header.len() - 1]));
    }
}

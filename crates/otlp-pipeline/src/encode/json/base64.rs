//! Base64 for `bytesValue`: small enough to keep in-house rather than add a
//! dependency. Writes the standard alphabet with padding, as protobuf's JSON
//! mapping does; reads the standard and the URL-safe alphabet, padded or not,
//! as protobuf's JSON parsers do.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks bytes outside both alphabets in [`DECODE`].
const BAD: u8 = 0xff;

/// Sextet of each input byte; both `+`/`-` and `/`/`_` are accepted.
const DECODE: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t[b'-' as usize] = 62;
    t[b'_' as usize] = 63;
    t
};

/// Appends the padded standard base64 of `src`.
pub(super) fn encode(src: &[u8], out: &mut Vec<u8>) {
    out.reserve(src.len().div_ceil(3) * 4);
    let mut chunks = src.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[ALPHABET[(n >> 18) as usize & 63], ALPHABET[(n >> 12) as usize & 63], b'=', b'=']);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

/// Decodes base64 in either alphabet, with or without padding; `None` on a
/// byte outside the alphabet, misplaced padding or an impossible length.
pub(super) fn decode(src: &[u8]) -> Option<Vec<u8>> {
    let body = match src {
        [rest @ .., b'=', b'='] if src.len().is_multiple_of(4) => rest,
        [rest @ .., b'='] if src.len().is_multiple_of(4) => rest,
        _ => src,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut chunks = body.chunks_exact(4);
    for c in &mut chunks {
        let n = sextets(c)?;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // 2 or 3 sextets carry 1 or 2 bytes; the spare low bits are ignored,
        // as Go's and protobuf's lenient decoders do.
        let n = sextets(rest)? << (6 * (4 - rest.len()));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8];
        out.extend_from_slice(&bytes[..rest.len() - 1]);
    }
    Some(out)
}

/// Packs up to four sextets into the low 24 bits, first one highest.
fn sextets(c: &[u8]) -> Option<u32> {
    c.iter().try_fold(0u32, |n, &b| match DECODE[usize::from(b)] {
        BAD => None,
        v => Some(n << 6 | u32::from(v)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        for len in 0..40usize {
            let src: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut enc = Vec::new();
            encode(&src, &mut enc);
            assert_eq!(enc.len(), len.div_ceil(3) * 4);
            assert_eq!(decode(&enc).as_deref(), Some(&src[..]), "len {len}");
            let unpadded: Vec<u8> = enc.iter().copied().filter(|&b| b != b'=').collect();
            assert_eq!(decode(&unpadded).as_deref(), Some(&src[..]));
            let url: Vec<u8> = unpadded
                .iter()
                .map(|&b| match b {
                    b'+' => b'-',
                    b'/' => b'_',
                    b => b,
                })
                .collect();
            assert_eq!(decode(&url).as_deref(), Some(&src[..]));
        }
        let mut enc = Vec::new();
        encode(b"foobar", &mut enc);
        assert_eq!(enc, b"Zm9vYmFy");
        enc.clear();
        encode(b"\xfb\xff", &mut enc);
        assert_eq!(enc, b"+/8=");
        for bad in [&b"A"[..], b"AB=C", b"A===", b"====", b"AB*D", b"ABCDE", b"AB\nCD", b"=AB"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }
}

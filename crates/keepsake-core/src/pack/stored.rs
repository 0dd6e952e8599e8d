//! Gzip members and zstd frames that hold their data uncompressed, for files that do not
//! compress (weights). Encoders asked for "no compression" still copy every byte through their
//! own buffers; these write the caller's buffer out as it is, with the format's block headers
//! between, in one vectored write. Any gzip or zstd reader reads them (Keepsake's Go reader too).

use std::io::{IoSlice, Write};

/// Deflate's stored blocks carry at most this many bytes each (RFC 1951 3.2.4).
const DEFLATE_BLOCK: usize = 65_535;
/// zstd's raw blocks: at most the window, which these frames declare as 128 KiB (RFC 8878).
const ZSTD_BLOCK: usize = 128 * 1024;
/// Blocks sent per vectored write: enough for a 1 MiB chunk in one call.
const BLOCKS_PER_WRITE: usize = 32;

/// One gzip member of stored deflate blocks.
pub struct StoredGzip<W: Write> {
    out: W,
    crc: flate2::Crc,
}

impl<W: Write> StoredGzip<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        // No name, no mtime, "unknown" OS: what flate2 writes too.
        out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
        Ok(StoredGzip {
            out,
            crc: flate2::Crc::new(),
        })
    }

    /// Ends the member: an empty final block, then the CRC-32 and the length modulo 2^32.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(&[1, 0, 0, 0xff, 0xff])?;
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.sum().to_le_bytes());
        trailer[4..].copy_from_slice(&self.crc.amount().to_le_bytes());
        self.out.write_all(&trailer)?;
        Ok(self.out)
    }
}

impl<W: Write> Write for StoredGzip<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let data = &buf[..buf.len().min(DEFLATE_BLOCK * BLOCKS_PER_WRITE)];
        let headers: Vec<[u8; 5]> = data
            .chunks(DEFLATE_BLOCK)
            .map(|block| {
                let [lo, hi] = (block.len() as u16).to_le_bytes();
                [0, lo, hi, !lo, !hi]
            })
            .collect();
        write_blocks(&mut self.out, &headers, data, DEFLATE_BLOCK)?;
        self.crc.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// One zstd frame of raw blocks, with the content checksum zstd readers verify.
pub struct RawZstd<W: Write> {
    out: W,
    hash: xxhash_rust::xxh64::Xxh64,
}

impl<W: Write> RawZstd<W> {
    pub fn new(mut out: W) -> std::io::Result<Self> {
        // Magic; a descriptor with only the checksum flag; a 128 KiB window (log 17 = 10 + 7).
        out.write_all(&[0x28, 0xb5, 0x2f, 0xfd, 0x04, 7 << 3])?;
        Ok(RawZstd {
            out,
            hash: xxhash_rust::xxh64::Xxh64::new(0),
        })
    }

    /// Ends the frame: an empty last raw block, then the low 32 bits of the XXH64 checksum.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.write_all(&[1, 0, 0])?;
        self.out
            .write_all(&(self.hash.digest() as u32).to_le_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for RawZstd<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let data = &buf[..buf.len().min(ZSTD_BLOCK * BLOCKS_PER_WRITE)];
        let headers: Vec<[u8; 3]> = data
            .chunks(ZSTD_BLOCK)
            .map(|block| {
                // Not last (bit 0), raw (bits 1-2 zero), the size in bits 3-23.
                let [a, b, c, _] = ((block.len() as u32) << 3).to_le_bytes();
                [a, b, c]
            })
            .collect();
        write_blocks(&mut self.out, &headers, data, ZSTD_BLOCK)?;
        self.hash.update(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Writes each block's header followed by the block, all of them or an error.
fn write_blocks<W: Write, const N: usize>(
    out: &mut W,
    headers: &[[u8; N]],
    data: &[u8],
    block: usize,
) -> std::io::Result<()> {
    let mut slices: Vec<IoSlice> = Vec::with_capacity(2 * headers.len());
    for (header, chunk) in headers.iter().zip(data.chunks(block)) {
        slices.push(IoSlice::new(header));
        slices.push(IoSlice::new(chunk));
    }
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7919 % 251) as u8).collect()
    }

    #[test]
    fn stored_gzip_reads_back_with_a_gzip_reader() {
        for len in [0, 1, 65_535, 65_536, 3 * 1024 * 1024 + 17] {
            let data = sample(len);
            let mut w = StoredGzip::new(Vec::new()).unwrap();
            // Uneven writes: blocks split across calls and calls larger than one write takes.
            for part in data.chunks(700_001) {
                w.write_all(part).unwrap();
            }
            let bytes = w.finish().unwrap();
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "length {len}");
        }
    }

    #[test]
    fn raw_zstd_reads_back_and_its_checksum_is_verified() {
        for len in [0, 1, 131_072, 131_073, 5 * 1024 * 1024 + 3] {
            let data = sample(len);
            let mut w = RawZstd::new(Vec::new()).unwrap();
            for part in data.chunks(1_000_003) {
                w.write_all(part).unwrap();
            }
            let mut bytes = w.finish().unwrap();
            assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), data, "length {len}");
            if len > 0 {
                // A flipped byte in the data fails the checksum.
                bytes[9] ^= 1; // the first byte of data, after the frame and block headers
                assert!(zstd::decode_all(&bytes[..]).is_err(), "length {len}");
            }
        }
    }
}

//! Snapshots and tarballs: which files a `path` covers (`select`), packing them into Keepsake's
//! tarball layout (`write`, with `stored` blocks for what does not compress), and unpacking
//! safely (`unpack`: nothing is ever written outside the target directory). No storage, no git.

mod select;
mod stored;
mod unpack;
mod write;

pub use select::{collect, files_size, FileEntry};
pub use unpack::{decoder, list_entries, read_entry, unpack};
pub use write::{write_tarball, write_tarball_from_memory, write_tarball_hashing};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// Readable by Keepsake 0.4.2.
    Gzip,
    Zstd,
}

impl Codec {
    pub fn extension(self) -> &'static str {
        match self {
            Codec::Gzip => ".tar.gz",
            Codec::Zstd => ".tar.zst",
        }
    }

    pub fn from_name(s: &str) -> Option<Codec> {
        match s {
            "gzip" | "gz" => Some(Codec::Gzip),
            "zstd" | "zst" => Some(Codec::Zstd),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zstd => "zstd",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::Path;

    use super::*;
    use crate::error::Error;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn rels(entries: &[FileEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.rel.as_str()).collect()
    }

    #[test]
    fn ignore_rules_like_keepsake() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(
            r,
            ".keepsakeignore",
            "*.log\n!keep.log\n/build\ndocs/**/*.md\ncache/\n",
        );
        for f in [
            "a.log",
            "keep.log",
            "sub/s.log",
            "build/x",
            "sub/build/y",
            "docs/top.md",
            "docs/a/b/x.md",
            "cache/c",
            "sub/cache/c",
            ".env",
            ".git/HEAD",
            "venv/pyvenv.cfg",
            "venv/lib.py",
            "src/m.py",
        ] {
            write(r, f, "x");
        }
        let got = collect(r, ".", &[]).unwrap();
        assert_eq!(
            rels(&got),
            [
                ".env",
                ".keepsakeignore",
                "keep.log",
                "src/m.py",
                "sub/build/y"
            ]
        );
        assert_eq!(rels(&collect(r, "./src/", &[]).unwrap()), ["src/m.py"]);
        assert!(matches!(
            collect(r, "missing", &[]),
            Err(Error::NoFilesMatched { .. })
        ));
        assert!(collect(r, "../x", &[]).is_err());
        assert!(collect(r, "/etc", &[]).is_err());
    }

    #[test]
    fn round_trip_keeps_modes_and_filters_by_path() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        write(&r, "run.sh", "#!/bin/sh\n");
        crate::fs::set_mode(&r.join("run.sh"), 0o755).unwrap();
        write(&r, "d/a", "a");
        write(&r, "d/sub/s", "s");
        write(&r, "d2/x", "x");
        for codec in [Codec::Gzip, Codec::Zstd] {
            let entries = collect(&r, ".", &[]).unwrap();
            let tarball = write_tarball(&entries, "abc", codec, Vec::new()).unwrap();
            let out = d.path().join(format!("out-{}", codec.name()));
            let files = unpack(&tarball[..], "t", &out, None, u64::MAX).unwrap();
            assert_eq!(files, ["d/a", "d/sub/s", "d2/x", "run.sh"]);
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(out.join("run.sh"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o755
            );
            let only = d.path().join(format!("only-{}", codec.name()));
            assert_eq!(
                unpack(&tarball[..], "t", &only, Some("d"), u64::MAX).unwrap(),
                ["d/a", "d/sub/s"]
            );
            let mut sink = Vec::new();
            assert!(read_entry(&tarball[..], "t", "d/sub/s", &mut sink).unwrap());
            assert_eq!(sink, b"s");
        }
    }

    #[test]
    fn hashing_while_packing_hashes_the_picked_files_only_and_packs_the_same() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        write(&r, "a.txt", "small\n");
        let big: Vec<u8> = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(r.join("big.bin"), &big).unwrap();
        write(&r, "c.txt", "c");
        let entries = collect(&r, ".", &[]).unwrap();
        assert_eq!(rels(&entries), ["a.txt", "big.bin", "c.txt"]);
        let plain = write_tarball(&entries, "id", Codec::Gzip, Vec::new()).unwrap();
        let (hashed, hashes) =
            write_tarball_hashing(&entries, &|i| i != 2, "id", Codec::Gzip, Vec::new()).unwrap();
        assert_eq!(plain, hashed);
        assert_eq!(
            hashes,
            [
                Some(blake3::hash(b"small\n").to_hex().to_string()),
                Some(blake3::hash(&big).to_hex().to_string()),
                None
            ]
        );
    }

    #[test]
    fn gzip_stores_incompressible_files_and_compresses_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        let mut x: u64 = 1;
        let noise: Vec<u8> = (0..(3 << 20))
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        write(&r, "a.txt", "small text\n");
        std::fs::write(r.join("weights.bin"), &noise).unwrap();
        write(&r, "z.log.txt", &"the same line again\n".repeat(200_000));
        let entries = collect(&r, ".", &[]).unwrap();
        let tarball = write_tarball(&entries, "id", Codec::Gzip, Vec::new()).unwrap();
        let text_size = 20 * 200_000;
        // The noise is stored as it is (a few bytes of framing per 64 KiB), the text compressed.
        assert!(
            tarball.len() > noise.len() && tarball.len() < noise.len() + text_size / 10,
            "{}",
            tarball.len()
        );
        let out = d.path().join("out");
        assert_eq!(
            unpack(&tarball[..], "t", &out, None, u64::MAX).unwrap(),
            ["a.txt", "weights.bin", "z.log.txt"]
        );
        assert_eq!(std::fs::read(out.join("weights.bin")).unwrap(), noise);
        // zstd: the noise in raw blocks of a frame of its own, the text compressed.
        let zst = write_tarball(&entries, "id", Codec::Zstd, Vec::new()).unwrap();
        assert!(
            zst.len() > noise.len() && zst.len() < noise.len() + text_size / 10,
            "{}",
            zst.len()
        );
        let out_z = d.path().join("out-z");
        assert_eq!(
            unpack(&zst[..], "t", &out_z, None, u64::MAX).unwrap(),
            ["a.txt", "weights.bin", "z.log.txt"]
        );
        assert_eq!(std::fs::read(out_z.join("weights.bin")).unwrap(), noise);
        assert_eq!(
            std::fs::read(out_z.join("z.log.txt")).unwrap(),
            std::fs::read(r.join("z.log.txt")).unwrap()
        );
        // Several gzip members, read back as one stream by a plain multi-member reader.
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&tarball[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert!(plain.len() > noise.len() + text_size);
    }

    fn hostile(name: &str, kind: tar::EntryType, link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(if link.is_some() { 0 } else { 1 });
        h.set_mode(0o644);
        // Written raw so that the tar crate's own path checks do not stop us making a bad archive.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        let data: &[u8] = if link.is_some() { b"" } else { b"x" };
        b.append(&h, data).unwrap();
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn refuses_escaping_entries() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("dest");
        for (name, kind, link) in [
            ("id/../../evil", tar::EntryType::Regular, None),
            ("/abs/evil", tar::EntryType::Regular, None),
            ("id/link", tar::EntryType::Symlink, Some("/etc/passwd")),
            ("id/hard", tar::EntryType::Link, Some("../../x")),
            ("id/dev", tar::EntryType::Char, None),
        ] {
            let err = unpack(
                &hostile(name, kind, link)[..],
                "bad.tar.gz",
                &dest,
                None,
                u64::MAX,
            )
            .unwrap_err();
            assert!(matches!(err, Error::UnsafeEntry { .. }), "{name}: {err}");
        }
        assert!(!d.path().join("evil").exists());
        assert!(std::fs::read_dir(&dest)
            .map(|mut r| r.next().is_none())
            .unwrap_or(true));
    }

    #[test]
    fn listing_reads_headers_and_refuses_what_unpack_refuses() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("p");
        write(&r, "w/a.bin", &"a".repeat(3000));
        write(&r, "w/sub/b", "bb");
        let entries = collect(&r, "w", &[]).unwrap();
        let tarball = write_tarball(&entries, "abc", Codec::Gzip, Vec::new()).unwrap();
        assert_eq!(
            list_entries(&tarball[..], "t", u64::MAX).unwrap(),
            [("w/a.bin".to_string(), 3000), ("w/sub/b".to_string(), 2)]
        );
        // Sizes are held to the record: a header claiming more is refused, not listed.
        let err = list_entries(&tarball[..], "t", 3001).unwrap_err();
        assert!(
            err.to_string().contains("more than the 3001 bytes"),
            "{err}"
        );
        for (name, kind, link) in [
            ("id/../../evil", tar::EntryType::Regular, None),
            ("/abs/evil", tar::EntryType::Regular, None),
            ("id/link", tar::EntryType::Symlink, Some("/etc/passwd")),
        ] {
            let err =
                list_entries(&hostile(name, kind, link)[..], "bad.tar.gz", u64::MAX).unwrap_err();
            assert!(matches!(err, Error::UnsafeEntry { .. }), "{name}: {err}");
        }
    }
}

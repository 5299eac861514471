//! Allocation flamegraphs: a DHAT profile's call stacks folded for inferno.
//!
//! A DHAT profile (`dhatFileVersion` 2: what dhat-rs writes as
//! `profiles/dhat-<name>.json`, and what `valgrind --tool=dhat` and
//! iai-callgrind's DHAT write) holds one program point per allocation stack,
//! with what was allocated there. Each program point's stack is folded root
//! first, its frames cleaned like the CPU folder's (`src/flame/fold.rs`: no
//! address, no `file:line`, `;` kept out of names), and the allocator's own
//! frames at the top are trimmed, so that the leaf is the call that allocated
//! (`alloc::vec::...` under our function, or our function itself). Three
//! weights give three flamegraphs: blocks allocated (`tbk`), bytes allocated
//! (`tb`) and bytes still live at exit (`eb`, t-end), each summing exactly to
//! the profile's totals.
//!
//! [`write_flamegraphs`] draws them beside the profile with the CPU
//! flamegraphs' helpers (`src/flame/write.rs`), and with an older profile the
//! differential ones, as `otlp-lab flame --diff` does.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::flame::{FlameError, Folded, Labels, differential_svg, flamegraph_svg, sanitize};

/// The part of a DHAT profile the folding reads; other fields are ignored.
#[derive(Clone, Debug, Deserialize)]
pub struct DhatProfile {
    /// Format version: 2 is the only one there is.
    #[serde(rename = "dhatFileVersion")]
    pub version: u64,
    /// `rust-heap` (dhat-rs), `heap` (valgrind), `rust-ad-hoc`, `copy`, `ad-hoc`.
    pub mode: String,
    /// The command that was profiled.
    #[serde(default)]
    pub cmd: String,
    /// Program points: one per allocation stack.
    pub pps: Vec<ProgramPoint>,
    /// Frame table: the strings the program points' `fs` index.
    pub ftbl: Vec<String>,
}

/// One program point of a [`DhatProfile`].
#[derive(Clone, Debug, Deserialize)]
pub struct ProgramPoint {
    /// Bytes allocated here in all.
    pub tb: u64,
    /// Blocks allocated here in all.
    pub tbk: u64,
    /// Bytes allocated here and still live at the end (t-end); absent outside
    /// heap mode.
    #[serde(default)]
    pub eb: u64,
    /// Blocks of `eb`.
    #[serde(default)]
    pub ebk: u64,
    /// The stack as indices into `ftbl`, innermost first.
    pub fs: Vec<usize>,
}

/// What an allocation flamegraph weighs its stacks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// Blocks allocated (`tbk`).
    Blocks,
    /// Bytes allocated (`tb`).
    Bytes,
    /// Bytes still live at exit (`eb`).
    Live,
}

impl Weight {
    /// The three, in the order their files are written.
    pub const ALL: [Weight; 3] = [Weight::Blocks, Weight::Bytes, Weight::Live];

    /// The word in the file names (`dhat-<name>.<word>.svg`).
    pub const fn name(self) -> &'static str {
        match self {
            Weight::Blocks => "blocks",
            Weight::Bytes => "bytes",
            Weight::Live => "live",
        }
    }

    /// What the counts are, in the tooltips.
    const fn unit(self) -> &'static str {
        match self {
            Weight::Blocks => "blocks",
            Weight::Bytes | Weight::Live => "bytes",
        }
    }

    /// What the flamegraph weighs, in its title.
    const fn what(self) -> &'static str {
        match self {
            Weight::Blocks => "heap blocks allocated",
            Weight::Bytes => "heap bytes allocated",
            Weight::Live => "heap bytes still live at exit (t-end)",
        }
    }

    /// This weight of one program point.
    pub const fn of(self, pp: &ProgramPoint) -> u64 {
        match self {
            Weight::Blocks => pp.tbk,
            Weight::Bytes => pp.tb,
            Weight::Live => pp.eb,
        }
    }
}

/// Why a DHAT profile could not be folded or drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AllocFlameError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The file is not a DHAT profile's JSON.
    #[error("{}: not a DHAT profile (the JSON dhat-rs or `valgrind --tool=dhat` writes): {source}", path.display())]
    NotDhat {
        /// The file.
        path: PathBuf,
        /// What serde found.
        #[source]
        source: serde_json::Error,
    },
    /// A DHAT format other than version 2.
    #[error("{}: DHAT file version {version}; only version 2 is known", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `dhatFileVersion`.
        version: u64,
    },
    /// A program point names a frame the frame table lacks.
    #[error("{}: program point {pp} names frame {frame}, but `ftbl` has {frames} frames", path.display())]
    Frame {
        /// The file.
        path: PathBuf,
        /// Index of the program point in `pps`.
        pp: usize,
        /// The frame index it holds.
        frame: usize,
        /// Length of `ftbl`.
        frames: usize,
    },
    /// inferno could not draw.
    #[error(transparent)]
    Draw(#[from] FlameError),
}

impl DhatProfile {
    /// Reads and checks the DHAT profile at `path`.
    pub fn read(path: &Path) -> Result<DhatProfile, AllocFlameError> {
        let text = fs::read_to_string(path).map_err(|source| AllocFlameError::Io { path: path.to_owned(), source })?;
        DhatProfile::parse(path, &text)
    }

    /// Parses and checks the text of a DHAT profile (`path` names it in errors).
    pub fn parse(path: &Path, text: &str) -> Result<DhatProfile, AllocFlameError> {
        let profile: DhatProfile =
            serde_json::from_str(text).map_err(|source| AllocFlameError::NotDhat { path: path.to_owned(), source })?;
        if profile.version != 2 {
            return Err(AllocFlameError::Version { path: path.to_owned(), version: profile.version });
        }
        let frames = profile.ftbl.len();
        for (pp, point) in profile.pps.iter().enumerate() {
            if let Some(&frame) = point.fs.iter().find(|&&f| f >= frames) {
                return Err(AllocFlameError::Frame { path: path.to_owned(), pp, frame, frames });
            }
        }
        Ok(profile)
    }

    /// A program point's frames as the file holds them, innermost first
    /// (indices were checked by [`DhatProfile::parse`]).
    pub fn frames<'a>(&'a self, pp: &'a ProgramPoint) -> impl Iterator<Item = &'a str> {
        pp.fs.iter().map(|&f| self.ftbl[f].as_str())
    }

    /// A program point's folded stack: root first, frames cleaned
    /// ([`clean_frame`]), the allocator's frames at the top trimmed
    /// ([`is_allocator_frame`]); `[unknown]` for a stack without frames.
    pub fn stack(&self, pp: &ProgramPoint) -> String {
        let frames: Vec<String> =
            self.frames(pp).filter(|f| *f != "[root]").map(clean_frame).filter(|f| !f.is_empty()).collect();
        // The innermost frames are the allocator's; the first one that is
        // not is the allocating call. A stack of nothing but allocator frames
        // keeps its outermost one.
        let keep = frames.iter().position(|f| !is_allocator_frame(f)).unwrap_or(frames.len().saturating_sub(1));
        let mut kept = frames[keep.min(frames.len())..].to_vec();
        if kept.is_empty() {
            return "[unknown]".to_owned();
        }
        kept.reverse();
        kept.join(";")
    }

    /// The folded stacks weighed by `weight` (stacks that weigh nothing are left out).
    pub fn fold(&self, weight: Weight) -> Folded {
        Folded::from_weighted(self.pps.iter().map(|pp| (self.stack(pp), weight.of(pp))))
    }

    /// The profile's total of `weight` over its program points.
    pub fn total(&self, weight: Weight) -> u64 {
        self.pps.iter().map(|pp| weight.of(pp)).sum()
    }
}

/// A frame's function name: dhat-rs writes `0xADDR: name (file:line:col)`,
/// valgrind `0xADDR: name (file:line)` or `(in /lib/object.so)`; both keep
/// the name only, with `;` and line breaks replaced as the CPU folder does.
pub fn clean_frame(frame: &str) -> String {
    let mut name = frame.trim();
    if let Some((addr, rest)) = name.split_once(": ")
        && addr.strip_prefix("0x").is_some_and(|hex| !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
    {
        name = rest;
    }
    if name.ends_with(')')
        && let Some(at) = name.rfind(" (")
    {
        name = &name[..at];
    }
    sanitize(name.trim())
}

/// Whether a cleaned frame belongs to the allocator rather than to the code
/// that allocates: Rust's allocation entry points (`alloc::alloc::*`,
/// `__rg_alloc`, `__rust_alloc`, `__rdl_alloc`), a `GlobalAlloc`
/// implementation (dhat's, and the counting wrapper of
/// `src/bin/otlp-lab-heap.rs`), dhat itself, valgrind's replacements of the
/// C and C++ allocation functions, and the short names valgrind gives the
/// inlined Rust entry points (`alloc`, `alloc_impl`, `exchange_malloc`, ...:
/// its inline info carries no path).
pub fn is_allocator_frame(name: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "alloc::alloc::",
        "<alloc::alloc::",
        "std::alloc::",
        "__rg_",
        "__rust_",
        "__rdl_",
        "dhat::",
        "<dhat::",
        "otlp_lab_heap::heap_alloc::",
    ];
    const C_ALLOCATORS: [&str; 8] =
        ["malloc", "calloc", "realloc", "memalign", "posix_memalign", "aligned_alloc", "valloc", "__libc_memalign"];
    const INLINED: [&str; 9] = [
        "alloc",
        "alloc_zeroed",
        "alloc_impl",
        "alloc_impl_runtime",
        "exchange_malloc",
        "allocate",
        "allocate_zeroed",
        "grow",
        "grow_impl",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
        || name.contains(" as core::alloc::global::GlobalAlloc>::")
        || C_ALLOCATORS.contains(&name)
        || INLINED.contains(&name)
        || name.starts_with("operator new")
}

/// Where the files of the profile at `profile` go: beside it, named after it
/// without `.json` (`profiles/dhat-x.json` → `profiles/dhat-x`).
fn base(profile: &Path) -> (PathBuf, String) {
    let dir = profile.parent().map(Path::to_owned).unwrap_or_default();
    let file = profile.file_name().map_or_else(|| "dhat".to_owned(), |n| n.to_string_lossy().into_owned());
    let stem = file.strip_suffix(".json").unwrap_or(&file).to_owned();
    (dir, stem)
}

/// Writes the allocation flamegraphs of the profile read from `path`, beside
/// it: `<stem>.blocks.svg`, `.bytes.svg`, `.live.svg` and their `.folded`
/// texts; with `old` (another profile and its path) also
/// `<stem>-diff.<weight>.svg` and `.folded` (`stack old new` lines, the old
/// counts scaled to this profile's total, as `otlp-lab flame --diff`). A
/// weight with nothing to draw (no bytes live at exit, say) gets its
/// `.folded` (empty) but no SVG, and `note` says so. Returns the paths written.
pub fn write_flamegraphs(
    path: &Path,
    profile: &DhatProfile,
    old: Option<(&Path, &DhatProfile)>,
    note: &mut dyn FnMut(&str),
) -> Result<Vec<PathBuf>, AllocFlameError> {
    let (dir, stem) = base(path);
    let mut written = Vec::new();
    let mut put = |file: PathBuf, bytes: &[u8]| -> Result<(), AllocFlameError> {
        fs::write(&file, bytes).map_err(|source| AllocFlameError::Io { path: file.clone(), source })?;
        written.push(file);
        Ok(())
    };
    // A stale SVG of an earlier profile must not pass for this one's.
    let forget = |file: &Path| match fs::remove_file(file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(AllocFlameError::Io { path: file.to_owned(), source: e }),
        _ => Ok(()),
    };
    for weight in Weight::ALL {
        let folded = profile.fold(weight);
        let name = weight.name();
        let unit = weight.unit();
        put(dir.join(format!("{stem}.{name}.folded")), folded.to_string().as_bytes())?;
        let svg = dir.join(format!("{stem}.{name}.svg"));
        if folded.is_empty() {
            forget(&svg)?;
            note(&format!("{stem}: no {} in the profile: no {}", weight.what(), svg.display()));
        } else {
            let labels = Labels {
                title: format!("{stem}: {} ({} {unit})", weight.what(), folded.samples()),
                subtitle: Some(format!(
                    "{} stacks from {} program points of {}; allocator frames trimmed, the leaf is the allocating call",
                    folded.stacks(),
                    profile.pps.len(),
                    profile.mode
                )),
                count_name: unit,
                palette: Some(inferno::flamegraph::color::Palette::Basic(
                    inferno::flamegraph::color::BasicPalette::Mem,
                )),
            };
            put(svg.clone(), &flamegraph_svg(&folded, &labels, &svg)?)?;
        }
        let Some((old_path, old)) = old else { continue };
        let saved = old.fold(weight);
        let diff_svg = dir.join(format!("{stem}-diff.{name}.svg"));
        let diff_folded = dir.join(format!("{stem}-diff.{name}.folded"));
        if folded.is_empty() || saved.is_empty() {
            forget(&diff_svg)?;
            forget(&diff_folded)?;
            note(&format!("{stem}: no {} in one of the two profiles: no {}", weight.what(), diff_svg.display()));
            continue;
        }
        let (_, old_stem) = base(old_path);
        let labels = Labels {
            title: format!("{stem} vs {old_stem}: {} ({} {unit})", weight.what(), folded.samples()),
            subtitle: Some(format!(
                "widths: {stem}; red: more {unit} than in {old_stem} ({} {unit}, scaled to this total), blue: fewer",
                saved.samples()
            )),
            count_name: unit,
            palette: None,
        };
        let (text, svg) = differential_svg(&saved, &folded, &labels, &diff_svg)?;
        put(diff_folded, text.as_bytes())?;
        put(diff_svg, &svg)?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile as dhat-rs writes one (its frame strings and field names),
    /// with two program points whose stacks clean to the same one.
    const PROFILE: &str = r#"{
"dhatFileVersion":2,"mode":"rust-heap","verb":"Allocated","bklt":true,"bkacc":false,
"tu":"µs","Mtu":"s","tuth":10,"cmd":"otlp-lab-heap run x","pid":7,"tg":5,"te":9,
"pps":[
 {"tb":4096,"tbk":2,"tl":10,"mb":4096,"mbk":2,"gb":0,"gbk":0,"eb":0,"ebk":0,"fs":[1,2,3,4]},
 {"tb":100,"tbk":5,"tl":10,"mb":20,"mbk":1,"gb":0,"gbk":0,"eb":20,"ebk":1,"fs":[5,2,6,4]},
 {"tb":64,"tbk":1,"tl":10,"mb":64,"mbk":1,"gb":0,"gbk":0,"eb":64,"ebk":1,"fs":[7,8,4]},
 {"tb":8,"tbk":3,"tl":10,"mb":8,"mbk":1,"gb":0,"gbk":0,"eb":0,"ebk":0,"fs":[1]}
],
"ftbl":[
 "[root]",
 "0x55d0c0a1b2c3: alloc::alloc::alloc (alloc/src/alloc.rs:94:9)",
 "0x55d0c0a1b2d0: alloc::raw_vec::RawVecInner<A>::with_capacity_in (alloc/src/raw_vec/mod.rs:405:15)",
 "0x55d0c0a1b2e0: otlp_pipeline::encode::direct::Encoder::traces (crates/otlp-pipeline/src/encode/direct.rs:120:5)",
 "0x55d0c0a1b2f0: otlp_lab_heap::main (src/bin/otlp-lab-heap.rs:300:5)",
 "0x55d0c0a1b3c3: <alloc::alloc::Global as core::alloc::Allocator>::allocate (alloc/src/alloc.rs:241:9)",
 "0x55d0c0a1b4e0: otlp_pipeline::encode::direct::Encoder::traces (crates/otlp-pipeline/src/encode/direct.rs:131:9)",
 "0x55d0c0a1b500: __rg_alloc (???:0:0)",
 "0x55d0c0a1b510: <[u8; 16] as otlp_lab::Fill>::fill (src/lib.rs:1:1)"
]
}"#;

    fn profile() -> DhatProfile {
        DhatProfile::parse(Path::new("dhat-x.json"), PROFILE).expect("a DHAT profile")
    }

    #[test]
    fn frames_lose_their_address_location_and_semicolons() {
        assert_eq!(
            clean_frame("0x55d0: otlp_pipeline::encode::direct::Encoder::traces (crates/x.rs:120:5)"),
            "otlp_pipeline::encode::direct::Encoder::traces"
        );
        assert_eq!(clean_frame("0x4C2E0EF: malloc (in /usr/libexec/valgrind/vgpreload_dhat-amd64-linux.so)"), "malloc");
        assert_eq!(clean_frame("0x10869B: main (test.c:15)"), "main");
        assert_eq!(clean_frame("0x1: <[u8; 16] as x::Y>::z (???:0:0)"), "<[u8: 16] as x::Y>::z");
        assert_eq!(clean_frame("no address here"), "no address here");
        assert!(is_allocator_frame("<alloc::alloc::Global as core::alloc::Allocator>::allocate"));
        assert!(is_allocator_frame("<otlp_lab_heap::heap_alloc::Counting as core::alloc::global::GlobalAlloc>::alloc"));
        assert!(is_allocator_frame("malloc") && is_allocator_frame("operator new[](unsigned long)"));
        assert!(is_allocator_frame("alloc") && is_allocator_frame("alloc_impl_runtime"), "valgrind's inlined names");
        assert!(!is_allocator_frame("alloc::raw_vec::finish_grow") && !is_allocator_frame("mallocx_user"));
        assert!(!is_allocator_frame("otlp_pipeline::encode::budget::Meter::grow") && !is_allocator_frame("allocs"));
    }

    #[test]
    fn stacks_fold_root_first_without_the_allocator_weighed_by_the_profile() {
        let p = profile();
        let traces = "otlp_lab_heap::main;otlp_pipeline::encode::direct::Encoder::traces";
        let raw_vec = "alloc::raw_vec::RawVecInner<A>::with_capacity_in";
        // `;` in a name becomes `:`, as in the CPU folder; `<` sorts before letters.
        let fill = "otlp_lab_heap::main;<[u8: 16] as otlp_lab::Fill>::fill";
        // Points 0 and 1 differ only in their allocator frame and line: one stack.
        assert_eq!(
            p.fold(Weight::Blocks).to_string(),
            format!("alloc::alloc::alloc 3\n{fill} 1\n{traces};{raw_vec} 7\n")
        );
        assert_eq!(
            p.fold(Weight::Bytes).to_string(),
            format!("alloc::alloc::alloc 8\n{fill} 64\n{traces};{raw_vec} 4196\n")
        );
        assert_eq!(p.fold(Weight::Live).to_string(), format!("{fill} 64\n{traces};{raw_vec} 20\n"));
        for w in Weight::ALL {
            assert_eq!(p.fold(w).samples(), p.total(w), "{w:?}");
        }
        assert_eq!((p.total(Weight::Blocks), p.total(Weight::Bytes), p.total(Weight::Live)), (11, 4268, 84));
    }

    #[test]
    fn what_is_not_a_dhat_profile_is_an_error_naming_the_file() {
        let path = Path::new("some/file.json");
        for text in ["", "not json", "{}", r#"{"traceEvents":[]}"#, "[1,2]"] {
            let err = DhatProfile::parse(path, text).expect_err(text).to_string();
            assert!(err.starts_with("some/file.json: not a DHAT profile"), "{err}");
        }
        let v3 = PROFILE.replace("\"dhatFileVersion\":2", "\"dhatFileVersion\":3");
        let err = DhatProfile::parse(path, &v3).expect_err("version 3").to_string();
        assert_eq!(err, "some/file.json: DHAT file version 3; only version 2 is known");
        let bad = PROFILE.replace("\"fs\":[7,8,4]", "\"fs\":[7,99,4]");
        let err = DhatProfile::parse(path, &bad).expect_err("frame 99").to_string();
        assert_eq!(err, "some/file.json: program point 2 names frame 99, but `ftbl` has 9 frames");
        let err = DhatProfile::read(Path::new("/nonexistent/dhat.json")).expect_err("missing").to_string();
        assert!(err.starts_with("/nonexistent/dhat.json: "), "{err}");
    }

    #[test]
    fn the_flamegraphs_and_the_diff_are_written_beside_the_profile() {
        let dir = std::env::temp_dir().join(format!("otlp-lab-alloc-flame-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("dhat-x.json");
        let p = profile();
        let mut notes = Vec::new();
        let written =
            write_flamegraphs(&path, &p, Some((path.as_path(), &p)), &mut |n| notes.push(n.to_owned())).expect("drawn");
        let names: Vec<String> =
            written.iter().map(|w| w.file_name().expect("a file").to_string_lossy().into_owned()).collect();
        for w in ["blocks", "bytes", "live"] {
            for f in [format!("dhat-x.{w}.svg"), format!("dhat-x.{w}.folded"), format!("dhat-x-diff.{w}.svg")] {
                assert!(names.contains(&f), "{f} not in {names:?}");
            }
            // The same profile on both sides: every stack weighs the same in both.
            let diff = fs::read_to_string(dir.join(format!("dhat-x-diff.{w}.folded"))).expect("diff text");
            assert!(!diff.is_empty());
            for line in diff.lines() {
                let mut f = line.rsplitn(3, ' ');
                let (new, old) = (f.next().expect("new"), f.next().expect("old"));
                assert_eq!(old, new, "{line}");
            }
        }
        assert!(notes.is_empty(), "{notes:?}");
        let svg = fs::read_to_string(dir.join("dhat-x.blocks.svg")).expect("svg");
        assert!(
            svg.contains("otlp_pipeline::encode::direct::Encoder::traces") && svg.contains("heap blocks allocated")
        );
        // Nothing live at exit: no live SVG, and a note saying so.
        let mut none = p.clone();
        for pp in &mut none.pps {
            pp.eb = 0;
        }
        let written = write_flamegraphs(&path, &none, None, &mut |n| notes.push(n.to_owned())).expect("drawn");
        assert!(!dir.join("dhat-x.live.svg").exists() && written.contains(&dir.join("dhat-x.live.folded")));
        assert_eq!(fs::read_to_string(dir.join("dhat-x.live.folded")).expect("folded"), "");
        assert!(notes.len() == 1 && notes[0].contains("no heap bytes still live at exit"), "{notes:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}

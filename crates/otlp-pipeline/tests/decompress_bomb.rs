//! Decompression bombs stop at the limit without expanding: a gzip and a zstd
//! stream of 1 GiB of zeros, decompressed with a 16 MiB limit, fail with
//! `TooLarge` while the Rust heap peaks under 20 MiB. The same process then
//! checks that steady-state compression and decompression allocate nothing.
//!
//! A binary of its own because it installs dhat's global allocator, with one
//! `#[test]` because dhat's counts are process-wide. dhat sees Rust
//! allocations only: zstd's C contexts (and their window, capped by
//! `ZSTD_WINDOW_LOG_MAX`) are not in these figures.

use std::io::Write;
use std::time::Instant;

use otlp_pipeline::compress::{CompressError, Compression, Compressor, Decompressor};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// What the bombs expand to.
const BOMB_LEN: usize = 1 << 30;
/// Zeros written per encoder call, so the test never holds the bomb's output.
const CHUNK: usize = 1 << 20;
/// The receiver-style output limit.
const LIMIT: usize = 16 << 20;
/// The limit plus room for the compressed bombs and codec state; holding the
/// bomb's output would take 1 GiB.
const HEAP_BUDGET: usize = 20 << 20;

/// Feeds `BOMB_LEN` zeros to a streaming encoder, one chunk at a time.
fn feed_zeros(encoder: &mut impl Write) {
    let zeros = vec![0_u8; CHUNK];
    for _ in 0..BOMB_LEN / CHUNK {
        encoder.write_all(&zeros).expect("encoder accepts the chunk");
    }
}

fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    feed_zeros(&mut encoder);
    let bomb = encoder.finish().expect("gzip bomb");
    // ISIZE, the last four bytes, records the expanded length mod 2^32.
    assert_eq!(bomb[bomb.len() - 4..], ((BOMB_LEN % (1 << 32)) as u32).to_le_bytes());
    bomb
}

fn zstd_bomb() -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).expect("zstd encoder");
    feed_zeros(&mut encoder);
    encoder.finish().expect("zstd bomb")
}

/// Deterministic text resembling encoded spans, for the steady-state check.
fn payload(len: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(len + 64);
    let mut idx = 0_u64;
    while data.len() < len {
        write!(
            data,
            "GET /api/users/{idx} shop.example.com 200 span={:016x};",
            idx.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
        .expect("writing to a Vec");
        idx += 1;
    }
    data.truncate(len);
    data
}

#[test]
fn bombs_stop_at_the_limit_and_steady_state_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let started = Instant::now();
    let bombs = [(Compression::GZIP_DEFAULT, gzip_bomb()), (Compression::ZSTD_DEFAULT, zstd_bomb())];
    eprintln!("bombs built in {:?}", started.elapsed());
    let mut decompressor = Decompressor::new();
    for (codec, bomb) in &bombs {
        assert!(bomb.len() < 2 << 20, "{codec} bomb is {} bytes", bomb.len());
        let mut out = Vec::new();
        let started = Instant::now();
        let result = decompressor.decompress(*codec, bomb, &mut out, LIMIT);
        eprintln!("{codec} bomb stopped in {:?}", started.elapsed());
        assert!(matches!(result, Err(CompressError::TooLarge { limit: LIMIT })), "{codec}: {result:?}");
        assert!(out.is_empty(), "{codec}: output discarded on error");
        assert!(out.capacity() <= LIMIT + 1, "{codec}: output grew to {} bytes", out.capacity());
    }
    let peak = dhat::HeapStats::get().max_bytes;
    eprintln!("bombs: gzip {} bytes, zstd {} bytes; heap peak {peak} bytes", bombs[0].1.len(), bombs[1].1.len());
    assert!(peak < HEAP_BUDGET, "heap peaked at {peak} bytes, budget {HEAP_BUDGET}");
    drop(bombs);

    // Steady state: after one warm-up call per codec and level, with buffers
    // of enough capacity, neither direction touches the Rust heap.
    let input = payload(64 << 10);
    let mut compressor = Compressor::new();
    for codec in [Compression::ZSTD_DEFAULT, Compression::Zstd { level: 3 }, Compression::GZIP_DEFAULT] {
        let mut compressed = Vec::with_capacity(codec.max_compressed_len(input.len()));
        let mut restored = Vec::with_capacity(input.len() + 1);
        compressor.compress(codec, &input, &mut compressed).expect("warm-up compress");
        decompressor.decompress(codec, &compressed, &mut restored, input.len()).expect("warm-up decompress");
        let before = dhat::HeapStats::get();
        for _ in 0..10 {
            compressed.clear();
            compressor.compress(codec, &input, &mut compressed).expect("compress");
            restored.clear();
            decompressor.decompress(codec, &compressed, &mut restored, input.len()).expect("decompress");
            assert!(restored == input, "{codec}: round trip");
        }
        let after = dhat::HeapStats::get();
        assert_eq!(after.total_blocks, before.total_blocks, "{codec}: steady state allocated");
    }
}

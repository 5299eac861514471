//! The integer and enum-name parsers, [`super::RetryKey`] and the string cache.

use super::scalars::{digits, parse_integer, severity_name, span_kind_name};
use super::str_cache::ARENA_MAX_STR;

use super::*;

#[test]
fn integers_and_names() {
    assert_eq!(parse_integer("0"), Some(0));
    for n in [1u64, 12345678, 123456789, 1_700_000_000_001_250_000, 9_999_999_999_999_999_999, u64::MAX] {
        assert_eq!(parse_integer(&n.to_string()), Some(n.into()), "{n}");
    }
    for bad in ["12345678/", "1234567:", "1700000000001250x00", "17000000/0001250000", "1234567 "] {
        assert_eq!(parse_integer(bad), None, "{bad:?}");
    }
    assert_eq!(parse_integer("-12"), Some(-12));
    assert_eq!(parse_integer("18446744073709551615"), Some(u64::MAX.into()));
    assert_eq!(parse_integer("99999999999999999999"), Some(99_999_999_999_999_999_999));
    assert_eq!(parse_integer("1e3"), Some(1000));
    assert_eq!(parse_integer("123456789012345678901234"), Some(123_456_789_012_345_678_901_234));
    assert_eq!(parse_integer("5.0"), Some(5));
    for bad in ["", "-", "1.5", "0x10", "inf", "NaN", "1e30", " 1", "1 ", "--1", "1e40"] {
        assert_eq!(parse_integer(bad), None, "{bad:?}");
    }
    assert_eq!(severity_name("SEVERITY_NUMBER_INFO"), Some(9));
    assert_eq!(severity_name("SEVERITY_NUMBER_WARN3"), Some(15));
    assert_eq!(severity_name("SEVERITY_NUMBER_FATAL4"), Some(24));
    assert_eq!(severity_name("SEVERITY_NUMBER_INFO5"), None);
    assert_eq!(severity_name("INFO"), None);
    assert_eq!(span_kind_name("SPAN_KIND_CLIENT"), Some(3));
    let mut k = RetryKey::new();
    assert_eq!(k.name("observed_time_unix_nano"), "observed_time_unix_nano");
    assert!(k.next("observed_time_unix_nano"));
    assert_eq!(k.name("observed_time_unix_nano"), "observedTimeUnixNano");
    assert!(!k.next("observed_time_unix_nano"), "one retry only");
    assert!(!RetryKey::new().next("traceId"));
}

#[test]
fn digits_of_every_length() {
    for len in 1..=21 {
        let all: String = (0..len).map(|i| char::from(b'1' + (i % 9) as u8)).collect();
        let want = all.parse::<u64>().ok().filter(|_| len <= 19);
        assert_eq!(digits(all.as_bytes()), want, "{all}");
        assert_eq!(parse_integer(&all), all.parse::<i128>().ok(), "{all}");
        assert_eq!(parse_i64(&format!("-{all}")), format!("-{all}").parse::<i64>().ok(), "-{all}");
        assert_eq!(parse_i64(&all), all.parse::<i64>().ok(), "{all}");
        for bad in 0..len {
            for c in [b'/', b':', b' ', b'a', b'.', 0x80] {
                let mut b = all.clone().into_bytes();
                b[bad] = c;
                assert_eq!(digits(&b), None, "{b:?}");
            }
        }
    }
    assert_eq!(digits(b""), None);
    assert_eq!(digits(b"0000000000000000000"), Some(0));
    assert_eq!(digits(b"9999999999999999999"), Some(9_999_999_999_999_999_999));
    assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
    assert_eq!(parse_i64("9223372036854775808"), None);
    assert_eq!(parse_i64("+7"), Some(7));
}

#[test]
fn hinted_lookups_never_return_another_string() {
    let mut c = StrCache::new(0);
    let words = ["http.method", "GET", "POST", "a", "", "https://x/1", "https://x/2", "user:1", "user:12"];
    let mut hints = [0u16; 3];
    for round in 0..4 {
        for (i, w) in words.iter().cycle().skip(round).take(20).enumerate() {
            let s = c.get_hinted(w, &mut hints[i % hints.len()]);
            assert_eq!(s, *w);
        }
    }
    // A hint that is out of range, or names a slot holding another
    // string, only costs the usual lookup.
    let mut hint = u16::MAX;
    assert_eq!(c.get_hinted("GET", &mut hint), "GET");
    assert_eq!(c.get_hinted("GE", &mut hint), "GE");
    assert_eq!(c.get_hinted("", &mut hint), "");
}

#[test]
fn cache_shares_recurring_strings_only() {
    let mut c = StrCache::new(0);
    let words = ["", "a", "ab", "abc", "abcd", "abcdefg", "abcdefgh", "user:1", "user:2", "https://x/1", "https://x/2"];
    for round in 0..3 {
        for w in words {
            let s = c.get(w);
            assert_eq!(s, w);
            let again = c.get(w);
            if round > 0 && !w.is_empty() {
                assert_eq!(again.as_ptr(), s.as_ptr(), "{w:?} is shared from the second sighting on");
            }
        }
    }
    let one_off = c.get("seen once");
    let other = c.get("seen twice");
    assert_eq!(other.as_ptr(), one_off[one_off.len()..].as_ptr(), "one-off strings share a chunk");
    let long = "x".repeat(ARENA_MAX_STR + 1);
    assert_eq!(c.get(&long), long.as_str());
}

//! The OTLP/JSON simd-json parser against the serde_json walk, as
//! crates/otlp-pipeline/tests/it/json.rs compares them.

use std::fmt::Debug;

use bytes::Bytes;
use otlp_pipeline::encode::json::{self, JsonError};
use otlp_pipeline::encode::{DecodeBudget, EncodeError, decode, direct};
use otlp_pipeline::model::{LogsData, MetricsData, TracesData};

use crate::{first_difference, same, shown};

/// One signal's JSON and protobuf codecs.
struct Codecs<T> {
    what: &'static str,
    simd: fn(&mut [u8]) -> Result<T, JsonError>,
    within: fn(&mut [u8], DecodeBudget) -> Result<T, JsonError>,
    serde: fn(&[u8]) -> Result<T, JsonError>,
    write: fn(&T, &mut Vec<u8>),
    encode: fn(&T, &mut Vec<u8>) -> usize,
    decode: fn(&Bytes) -> Result<T, EncodeError>,
}

pub(crate) fn traces(data: &[u8]) {
    check(
        data,
        &Codecs::<TracesData> {
            what: "traces",
            simd: json::parse_traces,
            within: json::parse_traces_within,
            serde: json::parse_traces_serde,
            write: json::write_traces,
            encode: direct::encode_traces,
            decode: decode::decode_traces,
        },
    );
}

pub(crate) fn metrics(data: &[u8]) {
    check(
        data,
        &Codecs::<MetricsData> {
            what: "metrics",
            simd: json::parse_metrics,
            within: json::parse_metrics_within,
            serde: json::parse_metrics_serde,
            write: json::write_metrics,
            encode: direct::encode_metrics,
            decode: decode::decode_metrics,
        },
    );
}

pub(crate) fn logs(data: &[u8]) {
    check(
        data,
        &Codecs::<LogsData> {
            what: "logs",
            simd: json::parse_logs,
            within: json::parse_logs_within,
            serde: json::parse_logs_serde,
            write: json::write_logs,
            encode: direct::encode_logs,
            decode: decode::decode_logs,
        },
    );
}

/// The budget the `_within` parser gets (see `decode::budget_for`).
fn budget_for(data: &[u8]) -> DecodeBudget {
    let shift = data.last().map_or(0, |b| b % 12);
    DecodeBudget::bytes(data.len().saturating_mul(1 << shift))
}

/// A model's JSON as a `serde_json::Value`, doubles rounded to 12
/// significant digits: serde_json's default float parsing is not round-trip
/// exact (simd-json's is), so the two parsers may read a double one ulp apart.
fn rounded<T>(model: &T, write: fn(&T, &mut Vec<u8>)) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().expect("an f64 number");
                *v = serde_json::Value::String(format!("{x:.11e}"));
            }
            serde_json::Value::Array(xs) => xs.iter_mut().for_each(walk),
            serde_json::Value::Object(m) => m.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut out = Vec::new();
    write(model, &mut out);
    let mut v = serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("the JSON writer wrote invalid JSON ({e}): {}", String::from_utf8_lossy(&out)));
    walk(&mut v);
    v
}

fn check<T: PartialEq + Debug>(data: &[u8], c: &Codecs<T>) {
    let what = c.what;
    let doc = || String::from_utf8_lossy(data).into_owned();
    let simd = (c.simd)(&mut data.to_vec());
    let serde = (c.serde)(data);
    match (&simd, &serde) {
        (Ok(a), Ok(b)) => {
            let (ja, jb) = (rounded(a, c.write), rounded(b, c.write));
            assert!(ja == jb, "{what}: the parsers read different models from {}:\n simd  {ja}\n serde {jb}", doc());
        }
        (Err(_), Err(_)) => {}
        _ => panic!("{what}: the parsers disagree on {} ({}): {simd:?} vs {serde:?}", doc(), shown(data)),
    }

    match ((c.within)(&mut data.to_vec(), budget_for(data)), &simd) {
        (Ok(a), Ok(b)) => assert!(same(&a, b), "{what}: the budgeted parse differs on {}", doc()),
        (Err(e), _) if e.over_budget().is_some() => {}
        (Err(_), Err(_)) => {}
        (within, _) => panic!("{what}: under a budget {within:?}, without one {simd:?}, on {}", doc()),
    }

    let Ok(model) = simd else { return };
    // Written back as JSON, it parses to the same model.
    let mut text = Vec::new();
    (c.write)(&model, &mut text);
    match (c.simd)(&mut text.clone()) {
        Ok(back) => assert!(
            same(&back, &model),
            "{what}: written back as JSON, the model of {} changes:{}",
            doc(),
            first_difference(&format!("{back:?}"), &format!("{model:?}"))
        ),
        Err(e) => {
            panic!("{what}: the JSON written for {} does not parse: {e}\n{}", doc(), String::from_utf8_lossy(&text))
        }
    }
    // And through protobuf too: JSON and protobuf describe the same message.
    let mut wire = Vec::new();
    (c.encode)(&model, &mut wire);
    match (c.decode)(&Bytes::from(wire)) {
        Ok(back) => assert!(
            same(&back, &model),
            "{what}: through protobuf, the model of {} changes:{}",
            doc(),
            first_difference(&format!("{back:?}"), &format!("{model:?}"))
        ),
        Err(e) => panic!("{what}: the protobuf encoding of the model of {} does not decode: {e}", doc()),
    }
}

//! What a run measures: export latency, CPU and peak RSS, items per signal,
//! and one run's figures.

use super::*;

/// Export latency per request, in microseconds, shared by the export tasks
/// (ours through [`ExportObserver`], the SDK's through a wrapping exporter).
/// One lock and one record per request; recording never allocates.
#[derive(Debug)]
pub struct LatencyRecorder {
    histogram: Mutex<Histogram<u64>>,
}

/// Largest latency the histogram tracks (longer ones are clamped to it): one minute.
const LATENCY_MAX_US: u64 = 60_000_000;

impl LatencyRecorder {
    /// An empty recorder (1 µs to 60 s, three significant digits).
    pub fn new() -> Self {
        let h = Histogram::new_with_bounds(1, LATENCY_MAX_US, 3).expect("static bounds are valid");
        LatencyRecorder { histogram: Mutex::new(h) }
    }

    /// Records one request's latency.
    pub fn record(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).clamp(1, LATENCY_MAX_US);
        self.histogram.lock().unwrap_or_else(PoisonError::into_inner).saturating_record(us);
    }

    /// Percentiles of what was recorded.
    pub fn summary(&self) -> LatencySummary {
        let h = self.histogram.lock().unwrap_or_else(PoisonError::into_inner);
        let q = |q: f64| if h.is_empty() { 0.0 } else { h.value_at_quantile(q) as f64 };
        LatencySummary {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: if h.is_empty() { 0.0 } else { h.max() as f64 },
            count: h.len(),
        }
    }
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl ExportObserver for LatencyRecorder {
    fn exported(&self, _request: &ExportRequest, _result: &ExportResult, elapsed: Duration) {
        self.record(elapsed);
    }
}

/// Export latency percentiles, microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
    /// Requests timed.
    pub count: u64,
}

/// CPU seconds and peak RSS of this process so far.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// User CPU seconds.
    pub user_s: f64,
    /// System CPU seconds.
    pub system_s: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

impl Usage {
    /// `getrusage(RUSAGE_SELF)`: every thread of the process.
    pub fn now() -> Usage {
        let ru = getrusage_self();
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        // Linux reports ru_maxrss in KiB.
        Usage {
            user_s: secs(ru.ru_utime),
            system_s: secs(ru.ru_stime),
            peak_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024,
        }
    }
}

#[allow(unsafe_code)]
fn getrusage_self() -> libc::rusage {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: an all-zero rusage is a valid value (plain integers), and
    // getrusage only writes a complete rusage through the pointer, which
    // points at memory we own for the duration of the call.
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    }
}

/// Items per signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// Spans.
    pub spans: u64,
    /// Metric data points (SDK: measurements recorded).
    pub points: u64,
    /// Log records.
    pub logs: u64,
}

impl Signals {
    /// All items.
    pub fn total(self) -> u64 {
        self.spans + self.points + self.logs
    }

    pub(crate) fn plus(self, o: Signals) -> Signals {
        Signals { spans: self.spans + o.spans, points: self.points + o.points, logs: self.logs + o.logs }
    }

    fn to_json(self) -> Value {
        json!({"spans": self.spans, "points": self.points, "logs": self.logs})
    }

    fn from_json(v: &Value) -> Option<Signals> {
        Some(Signals { spans: v["spans"].as_u64()?, points: v["points"].as_u64()?, logs: v["logs"].as_u64()? })
    }
}

/// One implementation's run of one step: a row of `runs` in the result file.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Which exporter.
    pub implementation: Implementation,
    /// The step.
    pub spec: StepSpec,
    /// Wall time from the first offer to the end of the exporter's shutdown.
    pub duration_s: f64,
    /// Items offered, per signal.
    pub offered: Signals,
    /// Items delivered, per signal: confirmed by the loopback receiver, or
    /// the exporter's own exported count for another endpoint.
    pub delivered: Signals,
    /// What the exporter says it exported (before the receiver's confirmation).
    pub exported: u64,
    /// Dropped items by reason; they add up to `offered − delivered`.
    pub dropped: BTreeMap<String, u64>,
    /// Export latency per request.
    pub latency: LatencySummary,
    /// The exporter process's CPU and peak RSS.
    pub usage: Usage,
    /// The loopback receiver's CPU seconds (user, system) during the run,
    /// measured in the parent; `None` for another endpoint.
    pub receiver_cpu_s: Option<(f64, f64)>,
    /// Offers actually made per second (open loop: below the rate when the
    /// generator could not keep up and ticks were skipped).
    pub offered_per_s: f64,
    /// Export requests made.
    pub requests: u64,
    /// What the numbers mean where it is not obvious.
    pub notes: Vec<String>,
}

impl RunResult {
    /// Delivered items per second.
    pub fn items_per_s(&self) -> f64 {
        self.delivered.total() as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans per second.
    pub fn spans_per_s(&self) -> f64 {
        self.delivered.spans as f64 / self.duration_s.max(1e-9)
    }

    /// Delivered spans and log records per second: the items both
    /// implementations export one by one (the SDK folds metric
    /// measurements into a few aggregated points, ours sends every point),
    /// hence the basis of the comparison with the SDK.
    pub fn spans_logs_per_s(&self) -> f64 {
        (self.delivered.spans + self.delivered.logs) as f64 / self.duration_s.max(1e-9)
    }

    /// All dropped items.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// CPU seconds (user + system) of the exporter per million delivered items.
    pub fn cpu_s_per_million(&self) -> f64 {
        (self.usage.user_s + self.usage.system_s) * 1e6 / self.delivered.total().max(1) as f64
    }

    /// The run as the contract's JSON object (with extra fields).
    pub fn to_json(&self) -> Value {
        let s = &self.spec;
        let l = &self.latency;
        let mut v = json!({
            "implementation": self.implementation.name(),
            "step": s.step,
            "protocol": s.protocol.to_string(),
            "compression": codec_name(s.compression),
            "workers": s.workers,
            "offered_rate": s.rate,
            "duration_s": self.duration_s,
            "offered": self.offered.total(),
            "delivered": self.delivered.total(),
            "items_per_s": self.items_per_s(),
            "dropped": self.dropped,
            "dropped_total": self.dropped_total(),
            "latency_us": {"p50": l.p50, "p90": l.p90, "p99": l.p99, "p999": l.p999, "max": l.max, "count": l.count},
            "cpu_user_s": self.usage.user_s,
            "cpu_system_s": self.usage.system_s,
            "peak_rss_bytes": self.usage.peak_rss_bytes,
            "batch": s.batch,
            "max_concurrent_exports": s.exports,
            "queue_capacity": s.queue,
            "step_duration_s": s.duration.as_secs_f64(),
            "offered_per_signal": self.offered.to_json(),
            "delivered_per_signal": self.delivered.to_json(),
            "exported": self.exported,
            "spans_per_s": self.spans_per_s(),
            "offered_per_s": self.offered_per_s,
            "requests": self.requests,
            "cpu_s_per_million_items": self.cpu_s_per_million(),
            "notes": self.notes,
        });
        if let Some((user, system)) = self.receiver_cpu_s {
            v["receiver_cpu_user_s"] = json!(user);
            v["receiver_cpu_system_s"] = json!(system);
        }
        v
    }

    /// Reads back what [`RunResult::to_json`] wrote (a child's output).
    pub fn from_json(v: &Value) -> Result<RunResult, String> {
        let f = |k: &str| v[k].as_f64().ok_or_else(|| format!("missing number `{k}`"));
        let u = |k: &str| v[k].as_u64().ok_or_else(|| format!("missing count `{k}`"));
        let st = |k: &str| v[k].as_str().ok_or_else(|| format!("missing string `{k}`"));
        let implementation = match st("implementation")? {
            "otlp-lab" => Implementation::Ours,
            "official-sdk" => Implementation::Sdk,
            other => return Err(format!("unknown implementation `{other}`")),
        };
        let protocol = st("protocol")?.parse::<Protocol>().map_err(|e| e.to_string())?;
        let compression = st("compression")?.parse::<Compression>().map_err(|e| e.to_string())?;
        let l = &v["latency_us"];
        let lf = |k: &str| l[k].as_f64().ok_or_else(|| format!("missing latency `{k}`"));
        let dropped = v["dropped"]
            .as_object()
            .ok_or("missing `dropped`")?
            .iter()
            .map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)).ok_or_else(|| format!("bad count for drop reason `{k}`")))
            .collect::<Result<_, _>>()?;
        let signals = |k: &str| Signals::from_json(&v[k]).ok_or_else(|| format!("missing `{k}`"));
        Ok(RunResult {
            implementation,
            spec: StepSpec {
                step: st("step")?.to_owned(),
                protocol,
                compression,
                workers: u("workers")?,
                batch: usize::try_from(u("batch")?).map_err(|e| e.to_string())?,
                exports: usize::try_from(u("max_concurrent_exports")?).map_err(|e| e.to_string())?,
                // Results written before the setting existed ran with the default.
                queue: match v.get("queue_capacity") {
                    None => PipelineConfig::default().queue_capacity,
                    Some(_) => usize::try_from(u("queue_capacity")?).map_err(|e| e.to_string())?,
                },
                rate: v["offered_rate"].as_f64(),
                duration: Duration::from_secs_f64(f("step_duration_s")?),
            },
            duration_s: f("duration_s")?,
            offered: signals("offered_per_signal")?,
            delivered: signals("delivered_per_signal")?,
            exported: u("exported")?,
            dropped,
            latency: LatencySummary {
                p50: lf("p50")?,
                p90: lf("p90")?,
                p99: lf("p99")?,
                p999: lf("p999")?,
                max: lf("max")?,
                count: l["count"].as_u64().ok_or("missing latency `count`")?,
            },
            usage: Usage {
                user_s: f("cpu_user_s")?,
                system_s: f("cpu_system_s")?,
                peak_rss_bytes: u("peak_rss_bytes")?,
            },
            receiver_cpu_s: None,
            offered_per_s: f("offered_per_s")?,
            requests: u("requests")?,
            notes: v["notes"]
                .as_array()
                .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        })
    }
}

//! `LogsData` and the messages below it: validators that accept what
//! `decode/logs.rs` accepts, in the same order of checks, and the views.

use super::common::{ResourceView, ScopeView, attributes, last_str};
use super::{AnyValueView, Checker, Fields, KeyValueView, List, Merged, Stretch};
use crate::encode::decode::common::{PendingValue, opt_span_id, opt_trace_id};
use crate::encode::decode::reader::fields;
use crate::encode::decode::{Message, R, RECURSION_LIMIT, within};
use crate::encode::{DecodeBudget, EncodeError, Field};
use crate::model::{LogRecord, ResourceLogs, ScopeLogs, Severity, SpanId, TraceId};

/// A validated `ExportLogsServiceRequest` (or `LogsData`) body.
#[derive(Clone, Copy, Debug)]
pub struct LogsView<'a> {
    body: &'a [u8],
    records: usize,
    model: usize,
}

impl<'a> LogsView<'a> {
    /// Validates `body` in one pass, allocating nothing: `Ok` exactly when
    /// [`decode_logs`](crate::encode::decode::decode_logs) would decode it,
    /// else the error that decoder reports.
    pub fn new(body: &'a [u8]) -> Result<Self, EncodeError> {
        Self::new_within(body, DecodeBudget::UNLIMITED)
    }

    /// As [`LogsView::new`], and refuses with [`EncodeError::OverBudget`] a
    /// valid body whose model would take more than `budget`
    /// ([`LogsView::model_bytes`]): what a receiver that never builds the
    /// model uses to refuse a body that is small on the wire and huge once
    /// decoded. The decoder under the same budget
    /// ([`decode_logs_within`](crate::encode::decode::decode_logs_within)) also
    /// charges its vectors' spare room, so near the limit it may refuse a
    /// body this accepts, never the reverse.
    pub fn new_within(body: &'a [u8], budget: DecodeBudget) -> Result<Self, EncodeError> {
        let mut c = Checker::new(body);
        let (end, depth) = (body.len(), RECURSION_LIMIT);
        let mut records = 0;
        fields!(c, end, depth, Message::LogsData, |tag, wt| {
            1 => c.check_resource_logs(wt, end, depth, &mut records),
        });
        let model = c.finish(budget)?;
        Ok(LogsView { body, records, model })
    }

    /// The heap bytes the model of this body takes at least: every element
    /// of every repeated field at the size of its model type (strings and
    /// bytes are slices of the body and cost nothing). Counted by
    /// validation: free.
    pub fn model_bytes(&self) -> usize {
        self.model
    }

    /// The number of log records (counted by validation: free).
    pub fn log_record_count(&self) -> usize {
        self.records
    }

    /// The `ResourceLogs`, in order.
    pub fn resource_logs(&self) -> List<'a, ResourceLogsView<'a>> {
        List::new(Merged::plain(self.body), 1, ResourceLogsView)
    }

    /// Every log record, resource by resource, scope by scope.
    pub fn log_records(&self) -> impl Iterator<Item = LogRecordView<'a>> + use<'a> {
        self.resource_logs().into_iter().flat_map(|r| r.scope_logs()).flat_map(|s| s.log_records())
    }
}

impl Checker<'_> {
    fn check_resource_logs(&mut self, wt: u8, end: usize, depth: u32, records: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ResourceLogs>(1);
        fields!(self, end, depth, Message::ResourceLogs, |tag, wt| {
            1 => self.check_resource(wt, end, depth),
            2 => self.check_scope_logs(wt, end, depth, records),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    fn check_scope_logs(&mut self, wt: u8, end: usize, depth: u32, records: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ScopeLogs>(1);
        fields!(self, end, depth, Message::ScopeLogs, |tag, wt| {
            1 => self.check_scope(wt, end, depth),
            2 => self.check_log_record(wt, end, depth).map(|()| *records += 1),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    fn check_log_record(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<LogRecord>(1);
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        let (mut body, mut held) = (PendingValue::default(), 0);
        fields!(self, end, depth, Message::LogRecord, |tag, wt| {
            1 => self.fixed64(wt, end).map(drop),
            2 => self.int32(wt, end).map(drop),
            3 => self.check_string(wt, end),
            5 => self.message(wt, end, depth).and_then(|(e, d)| self.check_any_value(e, d, &mut body, &mut held)),
            6 => self.check_key_value(wt, end, depth),
            7 => self.uint32(wt, end).map(drop),
            8 => self.fixed32(wt, end).map(drop),
            9 => self.bytes(wt, end).map(|b| tid = b),
            10 => self.bytes(wt, end).map(|b| sid = b),
            11 => self.fixed64(wt, end).map(drop),
            12 => self.check_string(wt, end),
        });
        body.finish(&mut self.defer)?;
        opt_trace_id(tid)?;
        opt_span_id(sid, Field::SpanId)?;
        Ok(())
    }
}

/// A `ResourceLogs`.
#[derive(Clone, Copy, Debug)]
pub struct ResourceLogsView<'a>(&'a [u8]);

impl<'a> ResourceLogsView<'a> {
    /// The resource.
    pub fn resource(&self) -> ResourceView<'a> {
        ResourceView::new(self.0, 1)
    }

    /// The `ScopeLogs`, in order.
    pub fn scope_logs(&self) -> List<'a, ScopeLogsView<'a>> {
        List::new(Merged::plain(self.0), 2, ScopeLogsView)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `ScopeLogs`.
#[derive(Clone, Copy, Debug)]
pub struct ScopeLogsView<'a>(&'a [u8]);

impl<'a> ScopeLogsView<'a> {
    /// The instrumentation scope.
    pub fn scope(&self) -> ScopeView<'a> {
        ScopeView::new(self.0, 1)
    }

    /// The log records, in order.
    pub fn log_records(&self) -> List<'a, LogRecordView<'a>> {
        List::new(Merged::plain(self.0), 2, LogRecordView::new)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `LogRecord`: its scalar fields read in one pass when the view is made,
/// its attributes read when iterated.
#[derive(Clone, Copy, Debug)]
pub struct LogRecordView<'a> {
    /// Where the attributes lie in the record's body.
    attrs: &'a [u8],
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `observed_time_unix_nano`.
    pub observed_time_unix_nano: u64,
    /// `severity_number`.
    pub severity_number: Severity,
    /// `severity_text`.
    pub severity_text: &'a str,
    /// `body` (`None` when the field is absent).
    pub body: Option<AnyValueView<'a>>,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `flags`.
    pub flags: u32,
    /// `trace_id` (`None` when empty).
    pub trace_id: Option<TraceId>,
    /// `span_id` (`None` when empty).
    pub span_id: Option<SpanId>,
    /// `event_name`.
    pub event_name: &'a str,
}

impl<'a> LogRecordView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut r = LogRecordView {
            attrs: &[],
            time_unix_nano: 0,
            observed_time_unix_nano: 0,
            severity_number: Severity::default(),
            severity_text: "",
            body: None,
            dropped_attributes_count: 0,
            flags: 0,
            trace_id: None,
            span_id: None,
            event_name: "",
        };
        let mut bodies = 0;
        let mut first: &[u8] = &[];
        let mut attrs = Stretch::default();
        let mut fields = Fields::new(body);
        while let Some((at, tag, v)) = fields.next_at() {
            match tag {
                1 => r.time_unix_nano = v.u64(),
                2 => r.severity_number = Severity(v.i32()),
                3 => r.severity_text = v.str(),
                5 => {
                    bodies += 1;
                    first = v.bytes();
                }
                6 => attrs.add(at, fields.pos()),
                7 => r.dropped_attributes_count = v.u32(),
                8 => r.flags = v.u32(),
                9 => r.trace_id = TraceId::from_slice(v.bytes()),
                10 => r.span_id = SpanId::from_slice(v.bytes()),
                11 => r.observed_time_unix_nano = v.u64(),
                12 => r.event_name = v.str(),
                _ => {}
            }
        }
        r.attrs = attrs.of(body);
        r.body = match bodies {
            0 => None,
            1 => Some(AnyValueView::element(first)),
            _ => Some(AnyValueView::merged(Merged::plain(body).sub(5, 0))),
        };
        r
    }

    /// The record's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.attrs), 6)
    }
}

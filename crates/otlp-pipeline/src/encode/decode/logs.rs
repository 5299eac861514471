//! `LogsData` and the messages below it.

use bytes::Bytes;

use super::common::{PendingValue, opt_span_id, opt_trace_id};
use super::reader::{Decoder, fields};
use super::{DecodeBudget, EncodeError, Field, Message, R, RECURSION_LIMIT, within};
use crate::model::*;

/// Decodes an `ExportLogsServiceRequest` (or `LogsData`)
/// from a request body, without a memory budget
/// ([`decode_logs_within`] with [`DecodeBudget::UNLIMITED`]); strings and
/// bytes in the result share `body`.
pub fn decode_logs(body: &Bytes) -> Result<LogsData, EncodeError> {
    decode_logs_within(body, DecodeBudget::UNLIMITED)
}

/// Decodes an `ExportLogsServiceRequest` (or `LogsData`)
/// from a request body, allocating at most `budget` for the model (failing
/// with [`EncodeError::OverBudget`] before it would go over); strings and
/// bytes in the result share `body`.
pub fn decode_logs_within(body: &Bytes, budget: DecodeBudget) -> Result<LogsData, EncodeError> {
    Decoder::new(body, budget).logs()
}

impl Decoder<'_> {
    /// The whole request, from the start of the body.
    pub(super) fn logs(&mut self) -> R<LogsData> {
        let d = self;
        let (end, depth) = (d.body.len(), RECURSION_LIMIT);
        let mut out = LogsData::default();
        fields!(d, end, depth, Message::LogsData, |tag, wt| {
            1 => d.resource_logs(wt, end, depth).and_then(|x| d.push(&mut out.resource_logs, x)),
        });
        Ok(out)
    }

    pub(super) fn resource_logs(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceLogs> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceLogs::default();
        fields!(self, end, depth, Message::ResourceLogs, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_logs(wt, end, depth).and_then(|x| self.push(&mut out.scope_logs, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn scope_logs(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeLogs> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeLogs::default();
        let [records] = self.count_fields(end, [2]);
        self.reserve(&mut out.log_records, records)?;
        fields!(self, end, depth, Message::ScopeLogs, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.log_record(wt, end, depth).and_then(|x| self.push(&mut out.log_records, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn log_record(&mut self, wt: u8, end: usize, depth: u32) -> R<LogRecord> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut r = LogRecord::default();
        let [attributes] = self.count_fields(end, [6]);
        self.reserve(&mut r.attributes, attributes)?;
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        let mut body = PendingValue::default();
        fields!(self, end, depth, Message::LogRecord, |tag, wt| {
            1 => self.fixed64(wt, end).map(|x| r.time_unix_nano = x),
            2 => self.int32(wt, end).map(|x| r.severity_number = Severity(x)),
            3 => self.string(wt, end).map(|x| r.severity_text = x),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                let value = r.body.get_or_insert(AnyValue::Empty);
                self.any_value(e, d, value, &mut body)
            }),
            6 => self.key_value(wt, end, depth, &mut r.attributes),
            7 => self.uint32(wt, end).map(|x| r.dropped_attributes_count = x),
            8 => self.fixed32(wt, end).map(|x| r.flags = x),
            9 => self.bytes(wt, end).map(|b| tid = b),
            10 => self.bytes(wt, end).map(|b| sid = b),
            11 => self.fixed64(wt, end).map(|x| r.observed_time_unix_nano = x),
            12 => self.string(wt, end).map(|x| r.event_name = x),
        });
        self.finish_value(body)?;
        r.trace_id = opt_trace_id(tid)?;
        r.span_id = opt_span_id(sid, Field::SpanId)?;
        Ok(r)
    }
}

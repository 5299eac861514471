//! `TracesData` and the messages below it.

use bytes::Bytes;

use super::common::{opt_span_id, span_id, trace_id};
use super::reader::{Decoder, fields};
use super::{DecodeBudget, EncodeError, Field, Message, R, RECURSION_LIMIT, within};
use crate::model::*;

/// Decodes an `ExportTraceServiceRequest` (or `TracesData`: same wire shape)
/// from a request body, without a memory budget
/// ([`decode_traces_within`] with [`DecodeBudget::UNLIMITED`]); strings and
/// bytes in the result share `body`.
pub fn decode_traces(body: &Bytes) -> Result<TracesData, EncodeError> {
    decode_traces_within(body, DecodeBudget::UNLIMITED)
}

/// Decodes an `ExportTraceServiceRequest` (or `TracesData`: same wire shape)
/// from a request body, allocating at most `budget` for the model (failing
/// with [`EncodeError::OverBudget`] before it would go over); strings and
/// bytes in the result share `body`.
pub fn decode_traces_within(body: &Bytes, budget: DecodeBudget) -> Result<TracesData, EncodeError> {
    Decoder::new(body, budget).traces()
}

impl Decoder<'_> {
    /// The whole request, from the start of the body.
    pub(super) fn traces(&mut self) -> R<TracesData> {
        let d = self;
        let (end, depth) = (d.body.len(), RECURSION_LIMIT);
        let mut out = TracesData::default();
        fields!(d, end, depth, Message::TracesData, |tag, wt| {
            1 => d.resource_spans(wt, end, depth).and_then(|x| d.push(&mut out.resource_spans, x)),
        });
        Ok(out)
    }

    pub(super) fn resource_spans(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceSpans> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceSpans::default();
        fields!(self, end, depth, Message::ResourceSpans, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_spans(wt, end, depth).and_then(|x| self.push(&mut out.scope_spans, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn scope_spans(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeSpans> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeSpans::default();
        let [spans] = self.count_fields(end, [2]);
        self.reserve(&mut out.spans, spans)?;
        fields!(self, end, depth, Message::ScopeSpans, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.span(wt, end, depth).and_then(|x| self.push(&mut out.spans, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn span(&mut self, wt: u8, end: usize, depth: u32) -> R<Span> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut s = Span::default();
        let [attributes, events, links] = self.count_fields(end, [9, 11, 13]);
        self.reserve(&mut s.attributes, attributes)?;
        self.reserve(&mut s.events, events)?;
        self.reserve(&mut s.links, links)?;
        let (mut tid, mut sid, mut pid): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let mut kind = 0;
        let (mut code, mut message) = (0, Str::EMPTY);
        fields!(self, end, depth, Message::Span, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.string(wt, end).map(|x| s.trace_state = x),
            4 => self.bytes(wt, end).map(|b| pid = b),
            5 => self.string(wt, end).map(|x| s.name = x),
            6 => self.int32(wt, end).map(|x| kind = x),
            7 => self.fixed64(wt, end).map(|x| s.start_time_unix_nano = x),
            8 => self.fixed64(wt, end).map(|x| s.end_time_unix_nano = x),
            9 => self.key_value(wt, end, depth, &mut s.attributes),
            10 => self.uint32(wt, end).map(|x| s.dropped_attributes_count = x),
            11 => self.event(wt, end, depth).and_then(|x| self.push(&mut s.events, x)),
            12 => self.uint32(wt, end).map(|x| s.dropped_events_count = x),
            13 => self.link(wt, end, depth).and_then(|x| self.push(&mut s.links, x)),
            14 => self.uint32(wt, end).map(|x| s.dropped_links_count = x),
            15 => self.status(wt, end, depth, &mut code, &mut message),
            16 => self.fixed32(wt, end).map(|x| s.flags = x),
        });
        s.trace_id = trace_id(tid)?;
        s.span_id = span_id(sid, Field::SpanId)?;
        s.parent_span_id = opt_span_id(pid, Field::ParentSpanId)?;
        s.kind = SpanKind::from_i32(kind);
        s.status = Status { code: StatusCode::from_i32(code), message };
        Ok(s)
    }

    /// Merges a `Status` into its code and message.
    pub(super) fn status(&mut self, wt: u8, end: usize, depth: u32, code: &mut i32, message: &mut Str) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::Status, |tag, wt| {
            2 => self.string(wt, end).map(|x| *message = x),
            3 => self.int32(wt, end).map(|x| *code = x),
        });
        Ok(())
    }

    pub(super) fn event(&mut self, wt: u8, end: usize, depth: u32) -> R<Event> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut e = Event::default();
        let [attributes] = self.count_fields(end, [3]);
        self.reserve(&mut e.attributes, attributes)?;
        fields!(self, end, depth, Message::Event, |tag, wt| {
            1 => self.fixed64(wt, end).map(|x| e.time_unix_nano = x),
            2 => self.string(wt, end).map(|x| e.name = x),
            3 => self.key_value(wt, end, depth, &mut e.attributes),
            4 => self.uint32(wt, end).map(|x| e.dropped_attributes_count = x),
        });
        Ok(e)
    }

    pub(super) fn link(&mut self, wt: u8, end: usize, depth: u32) -> R<Link> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut l = Link::default();
        let [attributes] = self.count_fields(end, [4]);
        self.reserve(&mut l.attributes, attributes)?;
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        fields!(self, end, depth, Message::Link, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.string(wt, end).map(|x| l.trace_state = x),
            4 => self.key_value(wt, end, depth, &mut l.attributes),
            5 => self.uint32(wt, end).map(|x| l.dropped_attributes_count = x),
            6 => self.fixed32(wt, end).map(|x| l.flags = x),
        });
        l.trace_id = trace_id(tid)?;
        l.span_id = span_id(sid, Field::SpanId)?;
        Ok(l)
    }
}

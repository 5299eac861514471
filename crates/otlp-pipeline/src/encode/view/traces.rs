//! `TracesData` and the messages below it: validators that accept what
//! `decode/traces.rs` accepts, in the same order of checks, and the views.

use super::common::{ResourceView, ScopeView, attributes, last_str};
use super::{Checker, Fields, KeyValueView, List, Merged, Stretch};
use crate::encode::decode::common::{opt_span_id, span_id, trace_id};
use crate::encode::decode::reader::{LEN, fields};
use crate::encode::decode::{Message, R, RECURSION_LIMIT, within};
use crate::encode::{DecodeBudget, EncodeError, Field};
use crate::model::{Event, Link, ResourceSpans, ScopeSpans, Span, SpanId, SpanKind, StatusCode, TraceId};

/// A validated `ExportTraceServiceRequest` (or `TracesData`) body.
#[derive(Clone, Copy, Debug)]
pub struct TracesView<'a> {
    body: &'a [u8],
    spans: usize,
    model: usize,
}

impl<'a> TracesView<'a> {
    /// Validates `body` in one pass, allocating nothing: `Ok` exactly when
    /// [`decode_traces`](crate::encode::decode::decode_traces) would decode
    /// it, else the error that decoder reports.
    pub fn new(body: &'a [u8]) -> Result<Self, EncodeError> {
        Self::new_within(body, DecodeBudget::UNLIMITED)
    }

    /// As [`TracesView::new`], and refuses with [`EncodeError::OverBudget`] a
    /// valid body whose model would take more than `budget`
    /// ([`TracesView::model_bytes`]): what a receiver that never builds the
    /// model uses to refuse a body that is small on the wire and huge once
    /// decoded. The decoder under the same budget
    /// ([`decode_traces_within`](crate::encode::decode::decode_traces_within)) also
    /// charges its vectors' spare room, so near the limit it may refuse a
    /// body this accepts, never the reverse.
    pub fn new_within(body: &'a [u8], budget: DecodeBudget) -> Result<Self, EncodeError> {
        let mut c = Checker::new(body);
        let (end, depth) = (body.len(), RECURSION_LIMIT);
        let mut spans = 0;
        fields!(c, end, depth, Message::TracesData, |tag, wt| {
            1 => c.check_resource_spans(wt, end, depth, &mut spans),
        });
        let model = c.finish(budget)?;
        Ok(TracesView { body, spans, model })
    }

    /// The heap bytes the model of this body takes at least: every element
    /// of every repeated field at the size of its model type (strings and
    /// bytes are slices of the body and cost nothing). Counted by
    /// validation: free.
    pub fn model_bytes(&self) -> usize {
        self.model
    }

    /// The number of spans (counted by validation: free).
    pub fn span_count(&self) -> usize {
        self.spans
    }

    /// The `ResourceSpans`, in order.
    pub fn resource_spans(&self) -> List<'a, ResourceSpansView<'a>> {
        List::new(Merged::plain(self.body), 1, ResourceSpansView)
    }

    /// Every span, resource by resource, scope by scope.
    pub fn spans(&self) -> impl Iterator<Item = SpanView<'a>> + use<'a> {
        self.resource_spans().into_iter().flat_map(|r| r.scope_spans()).flat_map(|s| s.spans())
    }
}

/// The length-delimited field with one-byte `key` and length at `p` of
/// `body`, if that is what lies there: its value and the position after it.
#[inline(always)]
fn head_len(body: &[u8], p: usize, key: u8) -> Option<(&[u8], usize)> {
    match body.get(p..)? {
        [k, n, rest @ ..] if *k == key && *n < 0x80 => rest.get(..usize::from(*n)).map(|v| (v, p + 2 + v.len())),
        _ => None,
    }
}

impl<'a> Checker<'a> {
    fn check_resource_spans(&mut self, wt: u8, end: usize, depth: u32, spans: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ResourceSpans>(1);
        fields!(self, end, depth, Message::ResourceSpans, |tag, wt| {
            1 => self.check_resource(wt, end, depth),
            2 => self.check_scope_spans(wt, end, depth, spans),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    fn check_scope_spans(&mut self, wt: u8, end: usize, depth: u32, spans: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ScopeSpans>(1);
        fields!(self, end, depth, Message::ScopeSpans, |tag, wt| {
            1 => self.check_scope(wt, end, depth),
            2 => self.check_span(wt, end, depth).map(|()| *spans += 1),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    fn check_span(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<Span>(1);
        let [mut tid, mut sid, mut pid] = self.span_head(end);
        // The attributes that follow the head, as the loop would check them,
        // without a key to decode and dispatch on for each.
        while self.buf[..end].get(self.pos) == Some(&0x4a) {
            self.pos += 1;
            self.check_key_value(LEN, end, depth).map_err(|e| within(e, Message::Span, 9))?;
        }
        fields!(self, end, depth, Message::Span, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.check_string(wt, end),
            4 => self.bytes(wt, end).map(|b| pid = b),
            5 => self.check_string(wt, end),
            6 => self.int32(wt, end).map(drop),
            7 => self.fixed64(wt, end).map(drop),
            8 => self.fixed64(wt, end).map(drop),
            9 => self.check_key_value(wt, end, depth),
            10 => self.uint32(wt, end).map(drop),
            11 => self.check_event(wt, end, depth),
            12 => self.uint32(wt, end).map(drop),
            13 => self.check_link(wt, end, depth),
            14 => self.uint32(wt, end).map(drop),
            15 => self.check_status(wt, end, depth),
            16 => self.fixed32(wt, end).map(drop),
        });
        trace_id(tid)?;
        span_id(sid, Field::SpanId)?;
        opt_span_id(pid, Field::ParentSpanId)?;
        Ok(())
    }

    /// The head of a span as encoders write it, fields 1 to 8 in order
    /// (any may be missing) with one-byte keys and lengths, read without
    /// the field loop, which goes on from where this stops. Each field taken
    /// is one the loop would take as it stands, with no error and nothing
    /// to keep but an id (a string only if UTF-8); a field of any other
    /// shape is left to the loop. Returns the trace, span and parent span
    /// ids met (empty if not).
    #[inline(always)]
    fn span_head(&mut self, end: usize) -> [&'a [u8]; 3] {
        use crate::simd::validate_utf8;
        let buf: &'a [u8] = self.buf;
        let body = &buf[..end];
        let mut ids: [&'a [u8]; 3] = [&[]; 3];
        let mut p = self.pos;
        if let Some((v, q)) = head_len(body, p, 0x0a) {
            (ids[0], p) = (v, q);
        }
        if let Some((v, q)) = head_len(body, p, 0x12) {
            (ids[1], p) = (v, q);
        }
        if let Some((v, q)) = head_len(body, p, 0x1a)
            && validate_utf8(v)
        {
            p = q;
        }
        if let Some((v, q)) = head_len(body, p, 0x22) {
            (ids[2], p) = (v, q);
        }
        if let Some((v, q)) = head_len(body, p, 0x2a)
            && validate_utf8(v)
        {
            p = q;
        }
        // kind: a one-byte varint; then the start and end times (fixed64).
        if let Some([0x30, k, ..]) = body.get(p..)
            && *k < 0x80
        {
            p += 2;
        }
        if let Some([0x39, ..]) = body.get(p..p + 9) {
            p += 9;
        }
        if let Some([0x41, ..]) = body.get(p..p + 9) {
            p += 9;
        }
        self.pos = p;
        ids
    }

    fn check_status(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::Status, |tag, wt| {
            2 => self.check_string(wt, end),
            3 => self.int32(wt, end).map(drop),
        });
        Ok(())
    }

    fn check_event(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<Event>(1);
        fields!(self, end, depth, Message::Event, |tag, wt| {
            1 => self.fixed64(wt, end).map(drop),
            2 => self.check_string(wt, end),
            3 => self.check_key_value(wt, end, depth),
            4 => self.uint32(wt, end).map(drop),
        });
        Ok(())
    }

    fn check_link(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<Link>(1);
        let (mut tid, mut sid): (&[u8], &[u8]) = (&[], &[]);
        fields!(self, end, depth, Message::Link, |tag, wt| {
            1 => self.bytes(wt, end).map(|b| tid = b),
            2 => self.bytes(wt, end).map(|b| sid = b),
            3 => self.check_string(wt, end),
            4 => self.check_key_value(wt, end, depth),
            5 => self.uint32(wt, end).map(drop),
            6 => self.fixed32(wt, end).map(drop),
        });
        trace_id(tid)?;
        span_id(sid, Field::SpanId)?;
        Ok(())
    }
}

/// A `ResourceSpans`.
#[derive(Clone, Copy, Debug)]
pub struct ResourceSpansView<'a>(&'a [u8]);

impl<'a> ResourceSpansView<'a> {
    /// The resource.
    pub fn resource(&self) -> ResourceView<'a> {
        ResourceView::new(self.0, 1)
    }

    /// The `ScopeSpans`, in order.
    pub fn scope_spans(&self) -> List<'a, ScopeSpansView<'a>> {
        List::new(Merged::plain(self.0), 2, ScopeSpansView)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `ScopeSpans`.
#[derive(Clone, Copy, Debug)]
pub struct ScopeSpansView<'a>(&'a [u8]);

impl<'a> ScopeSpansView<'a> {
    /// The instrumentation scope.
    pub fn scope(&self) -> ScopeView<'a> {
        ScopeView::new(self.0, 1)
    }

    /// The spans, in order.
    pub fn spans(&self) -> List<'a, SpanView<'a>> {
        List::new(Merged::plain(self.0), 2, SpanView::new)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `Span`: its scalar fields read in one pass when the view is made, its
/// repeated fields read when iterated.
#[derive(Clone, Copy, Debug)]
pub struct SpanView<'a> {
    /// Where the attributes, events and links lie in the span's body.
    attrs: &'a [u8],
    events: &'a [u8],
    links: &'a [u8],
    /// `trace_id`.
    pub trace_id: TraceId,
    /// `span_id`.
    pub span_id: SpanId,
    /// `parent_span_id` (`None` when empty).
    pub parent_span_id: Option<SpanId>,
    /// `trace_state`.
    pub trace_state: &'a str,
    /// `name`.
    pub name: &'a str,
    /// `kind`.
    pub kind: SpanKind,
    /// `start_time_unix_nano`.
    pub start_time_unix_nano: u64,
    /// `end_time_unix_nano`.
    pub end_time_unix_nano: u64,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `dropped_events_count`.
    pub dropped_events_count: u32,
    /// `dropped_links_count`.
    pub dropped_links_count: u32,
    /// `status.code`.
    pub status_code: StatusCode,
    /// `status.message`.
    pub status_message: &'a str,
    /// `flags`.
    pub flags: u32,
}

impl<'a> SpanView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut s = SpanView {
            attrs: &[],
            events: &[],
            links: &[],
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            parent_span_id: None,
            trace_state: "",
            name: "",
            kind: SpanKind::default(),
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            dropped_links_count: 0,
            status_code: StatusCode::default(),
            status_message: "",
            flags: 0,
        };
        let (mut tid, mut sid, mut pid): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut kind, mut code) = (0, 0);
        let mut lists = [Stretch::default(); 3];
        let mut fields = Fields::new(body);
        while let Some((at, tag, v)) = fields.next_at() {
            match tag {
                1 => tid = v.bytes(),
                2 => sid = v.bytes(),
                3 => s.trace_state = v.str(),
                4 => pid = v.bytes(),
                5 => s.name = v.str(),
                6 => kind = v.i32(),
                7 => s.start_time_unix_nano = v.u64(),
                8 => s.end_time_unix_nano = v.u64(),
                9 => lists[0].add(at, fields.pos()),
                10 => s.dropped_attributes_count = v.u32(),
                11 => lists[1].add(at, fields.pos()),
                13 => lists[2].add(at, fields.pos()),
                12 => s.dropped_events_count = v.u32(),
                14 => s.dropped_links_count = v.u32(),
                // Each occurrence merges into the status.
                15 => {
                    for (tag, v) in Fields::new(v.bytes()) {
                        match tag {
                            2 => s.status_message = v.str(),
                            3 => code = v.i32(),
                            _ => {}
                        }
                    }
                }
                16 => s.flags = v.u32(),
                _ => {}
            }
        }
        [s.attrs, s.events, s.links] = lists.map(|l| l.of(body));
        // Validation checked the lengths; `default` is never taken.
        s.trace_id = TraceId::from_slice(tid).unwrap_or_default();
        s.span_id = SpanId::from_slice(sid).unwrap_or_default();
        s.parent_span_id = SpanId::from_slice(pid);
        s.kind = SpanKind::from_i32(kind);
        s.status_code = StatusCode::from_i32(code);
        s
    }

    /// The span's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.attrs), 9)
    }

    /// The span's events.
    pub fn events(&self) -> List<'a, EventView<'a>> {
        List::new(Merged::plain(self.events), 11, EventView::new)
    }

    /// The span's links.
    pub fn links(&self) -> List<'a, LinkView<'a>> {
        List::new(Merged::plain(self.links), 13, LinkView::new)
    }
}

/// A `Span.Event`.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    /// Where the attributes lie in the event's body.
    attrs: &'a [u8],
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `name`.
    pub name: &'a str,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
}

impl<'a> EventView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut e = EventView { attrs: &[], time_unix_nano: 0, name: "", dropped_attributes_count: 0 };
        let mut attrs = Stretch::default();
        let mut fields = Fields::new(body);
        while let Some((at, tag, v)) = fields.next_at() {
            match tag {
                1 => e.time_unix_nano = v.u64(),
                2 => e.name = v.str(),
                3 => attrs.add(at, fields.pos()),
                4 => e.dropped_attributes_count = v.u32(),
                _ => {}
            }
        }
        e.attrs = attrs.of(body);
        e
    }

    /// The event's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.attrs), 3)
    }
}

/// A `Span.Link`.
#[derive(Clone, Copy, Debug)]
pub struct LinkView<'a> {
    /// Where the attributes lie in the link's body.
    attrs: &'a [u8],
    /// `trace_id`.
    pub trace_id: TraceId,
    /// `span_id`.
    pub span_id: SpanId,
    /// `trace_state`.
    pub trace_state: &'a str,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `flags`.
    pub flags: u32,
}

impl<'a> LinkView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut l = LinkView {
            attrs: &[],
            trace_id: TraceId::default(),
            span_id: SpanId::default(),
            trace_state: "",
            dropped_attributes_count: 0,
            flags: 0,
        };
        let mut attrs = Stretch::default();
        let mut fields = Fields::new(body);
        while let Some((at, tag, v)) = fields.next_at() {
            match tag {
                1 => l.trace_id = TraceId::from_slice(v.bytes()).unwrap_or_default(),
                2 => l.span_id = SpanId::from_slice(v.bytes()).unwrap_or_default(),
                3 => l.trace_state = v.str(),
                4 => attrs.add(at, fields.pos()),
                5 => l.dropped_attributes_count = v.u32(),
                6 => l.flags = v.u32(),
                _ => {}
            }
        }
        l.attrs = attrs.of(body);
        l
    }

    /// The link's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.attrs), 4)
    }
}

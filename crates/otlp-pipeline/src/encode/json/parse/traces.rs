//! `TracesData` and the messages below it.

use super::common::{attributes, resource, scope};
use super::scalars::{
    enumeration, field_string, fixed64, missing, opt_span_id, span_id, span_kind_name, status_code_name, string,
    trace_id, uint32,
};
use super::{Field, JsonError, Reader};
use crate::model::{Event, Link, ResourceSpans, ScopeSpans, Span, SpanKind, Status, StatusCode, TracesData};

pub(in crate::encode::json) fn traces<'s, R: Reader<'s>>(r: &mut R) -> Result<TracesData, JsonError> {
    let mut d = TracesData::default();
    r.object(|r, key| {
        match key {
            "resourceSpans" => d.resource_spans = r.array(resource_spans)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_spans<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceSpans, JsonError> {
    let mut rs = ResourceSpans::default();
    r.object(|r, key| {
        match key {
            "resource" => rs.resource = resource(r)?,
            "scopeSpans" => rs.scope_spans = r.array(scope_spans)?,
            "schemaUrl" => rs.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rs)
}

fn scope_spans<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeSpans, JsonError> {
    let mut ss = ScopeSpans::default();
    r.object(|r, key| {
        match key {
            "scope" => ss.scope = scope(r)?,
            "spans" => ss.spans = r.array(span)?,
            "schemaUrl" => ss.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(ss)
}

const HAVE_TRACE_ID: u8 = 1;
const HAVE_SPAN_ID: u8 = 2;

/// Members with drop glue are collected in `Option`s and moved into the
/// span at the end: assigning over a default span's members would drop each
/// of the defaults first.
fn span<'s, R: Reader<'s>>(r: &mut R) -> Result<Span, JsonError> {
    let (mut trace, mut span, mut parent_span_id) = (None, None, None);
    let (mut flags, mut kind, mut start_time_unix_nano, mut end_time_unix_nano) = (0, SpanKind::default(), 0, 0);
    let (mut name, mut trace_state, mut attrs, mut events, mut links, mut st) = (None, None, None, None, None, None);
    let (mut dropped_attributes_count, mut dropped_events_count, mut dropped_links_count) = (0, 0, 0);
    r.object(|r, key| {
        match key {
            "traceId" => trace = Some(trace_id(r)?),
            "spanId" => span = Some(span_id(r)?),
            "parentSpanId" => parent_span_id = opt_span_id(r)?,
            "flags" => flags = uint32(r)?,
            "name" => name = Some(field_string(r, Field::SpanName)?),
            "kind" => kind = SpanKind::from_i32(enumeration(r, "a span kind", span_kind_name)?),
            "startTimeUnixNano" => start_time_unix_nano = fixed64(r)?,
            "endTimeUnixNano" => end_time_unix_nano = fixed64(r)?,
            "attributes" => attrs = Some(attributes(r)?),
            "events" => events = Some(r.array(event)?),
            "status" => st = Some(status(r)?),
            "traceState" => trace_state = Some(string(r)?),
            "droppedAttributesCount" => dropped_attributes_count = uint32(r)?,
            "droppedEventsCount" => dropped_events_count = uint32(r)?,
            "links" => links = Some(r.array(link)?),
            "droppedLinksCount" => dropped_links_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // Required, as in `required_ids`.
    let Some(trace_id) = trace else {
        return Err(missing("traceId", "a trace id of 32 hex digits"));
    };
    let Some(span_id) = span else {
        return Err(missing("spanId", "a span id of 16 hex digits"));
    };
    Ok(Span {
        trace_id,
        span_id,
        trace_state: trace_state.unwrap_or_default(),
        parent_span_id,
        flags,
        name: name.unwrap_or_default(),
        kind,
        start_time_unix_nano,
        end_time_unix_nano,
        attributes: attrs.unwrap_or_default(),
        dropped_attributes_count,
        events: events.unwrap_or_default(),
        dropped_events_count,
        links: links.unwrap_or_default(),
        dropped_links_count,
        status: st.unwrap_or_default(),
    })
}

/// Trace and span ids are required (empty bytes are invalid), as in the
/// protobuf decoder.
fn required_ids(have: u8) -> Result<(), JsonError> {
    if have & HAVE_TRACE_ID == 0 {
        return Err(missing("traceId", "a trace id of 32 hex digits"));
    }
    if have & HAVE_SPAN_ID == 0 {
        return Err(missing("spanId", "a span id of 16 hex digits"));
    }
    Ok(())
}

/// Built like [`span`].
fn event<'s, R: Reader<'s>>(r: &mut R) -> Result<Event, JsonError> {
    let (mut time_unix_nano, mut name, mut attrs, mut dropped_attributes_count) = (0, None, None, 0);
    r.object(|r, key| {
        match key {
            "timeUnixNano" => time_unix_nano = fixed64(r)?,
            "name" => name = Some(field_string(r, Field::EventName)?),
            "attributes" => attrs = Some(attributes(r)?),
            "droppedAttributesCount" => dropped_attributes_count = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Event {
        time_unix_nano,
        name: name.unwrap_or_default(),
        attributes: attrs.unwrap_or_default(),
        dropped_attributes_count,
    })
}

fn link<'s, R: Reader<'s>>(r: &mut R) -> Result<Link, JsonError> {
    let mut l = Link::default();
    let mut have = 0u8;
    r.object(|r, key| {
        match key {
            "traceId" => {
                l.trace_id = trace_id(r)?;
                have |= HAVE_TRACE_ID;
            }
            "spanId" => {
                l.span_id = span_id(r)?;
                have |= HAVE_SPAN_ID;
            }
            "traceState" => l.trace_state = string(r)?,
            "attributes" => l.attributes = attributes(r)?,
            "droppedAttributesCount" => l.dropped_attributes_count = uint32(r)?,
            "flags" => l.flags = uint32(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    required_ids(have)?;
    Ok(l)
}

fn status<'s, R: Reader<'s>>(r: &mut R) -> Result<Status, JsonError> {
    let mut st = Status::default();
    r.object(|r, key| {
        match key {
            "code" => st.code = StatusCode::from_i32(enumeration(r, "a status code", status_code_name)?),
            "message" => st.message = field_string(r, Field::StatusMessage)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(st)
}

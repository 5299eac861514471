//! `LogsData` and the messages below it.

use super::common::{any_value, attributes, resource, scope};
use super::scalars::{enumeration, field_string, fixed64, opt_span_id, opt_trace_id, severity_name, string, uint32};
use super::{Field, JsonError, Reader};
use crate::model::{LogRecord, LogsData, ResourceLogs, ScopeLogs, Severity};

pub(in crate::encode::json) fn logs<'s, R: Reader<'s>>(r: &mut R) -> Result<LogsData, JsonError> {
    let mut d = LogsData::default();
    r.object(|r, key| {
        match key {
            "resourceLogs" => d.resource_logs = r.array(resource_logs)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_logs<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceLogs, JsonError> {
    let mut rl = ResourceLogs::default();
    r.object(|r, key| {
        match key {
            "resource" => rl.resource = resource(r)?,
            "scopeLogs" => rl.scope_logs = r.array(scope_logs)?,
            "schemaUrl" => rl.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rl)
}

fn scope_logs<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeLogs, JsonError> {
    let mut sl = ScopeLogs::default();
    r.object(|r, key| {
        match key {
            "scope" => sl.scope = scope(r)?,
            "logRecords" => sl.log_records = r.array(log_record)?,
            "schemaUrl" => sl.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(sl)
}

fn log_record<'s, R: Reader<'s>>(r: &mut R) -> Result<LogRecord, JsonError> {
    let mut lr = LogRecord::default();
    r.object(|r, key| {
        match key {
            "timeUnixNano" => lr.time_unix_nano = fixed64(r)?,
            "observedTimeUnixNano" => lr.observed_time_unix_nano = fixed64(r)?,
            "severityNumber" => lr.severity_number = Severity(enumeration(r, "a severity number", severity_name)?),
            "severityText" => lr.severity_text = field_string(r, Field::SeverityText)?,
            "body" => lr.body = Some(any_value(r)?),
            "attributes" => lr.attributes = attributes(r)?,
            "droppedAttributesCount" => lr.dropped_attributes_count = uint32(r)?,
            "flags" => lr.flags = uint32(r)?,
            "traceId" => lr.trace_id = opt_trace_id(r)?,
            "spanId" => lr.span_id = opt_span_id(r)?,
            "eventName" => lr.event_name = field_string(r, Field::LogEventName)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(lr)
}

//! `MetricsData` and the messages below it.

use super::common::{attributes, resource, scope};
use super::scalars::{
    boolean, double, enumeration, field_string, fixed64, int32, int64, string, temporality_name, uint32,
};
use super::{Field, JsonError, Reader};
use crate::model::{
    ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, MetricData, MetricsData, NumberDataPoint,
    NumberValue, ResourceMetrics, ScopeMetrics, Str, Temporality,
};

pub(in crate::encode::json) fn metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricsData, JsonError> {
    let mut d = MetricsData::default();
    r.object(|r, key| {
        match key {
            "resourceMetrics" => d.resource_metrics = r.array(resource_metrics)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(d)
}

fn resource_metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<ResourceMetrics, JsonError> {
    let mut rm = ResourceMetrics::default();
    r.object(|r, key| {
        match key {
            "resource" => rm.resource = resource(r)?,
            "scopeMetrics" => rm.scope_metrics = r.array(scope_metrics)?,
            "schemaUrl" => rm.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(rm)
}

fn scope_metrics<'s, R: Reader<'s>>(r: &mut R) -> Result<ScopeMetrics, JsonError> {
    let mut sm = ScopeMetrics::default();
    r.object(|r, key| {
        match key {
            "scope" => sm.scope = scope(r)?,
            "metrics" => sm.metrics = r.array(metric)?,
            "schemaUrl" => sm.schema_url = string(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(sm)
}

fn metric<'s, R: Reader<'s>>(r: &mut R) -> Result<Metric, JsonError> {
    let mut m =
        Metric { name: Str::EMPTY, description: Str::EMPTY, unit: Str::EMPTY, data: None, metadata: Vec::new() };
    r.object(|r, key| {
        let data = match key {
            "name" => {
                m.name = field_string(r, Field::MetricName)?;
                return Ok(true);
            }
            "description" => {
                m.description = field_string(r, Field::MetricDescription)?;
                return Ok(true);
            }
            "unit" => {
                m.unit = field_string(r, Field::MetricUnit)?;
                return Ok(true);
            }
            "metadata" => {
                m.metadata = attributes(r)?;
                return Ok(true);
            }
            "gauge" => gauge(r)?,
            "sum" => sum(r)?,
            "histogram" => histogram(r)?,
            "exponentialHistogram" => exp_histogram(r)?,
            "summary" => {
                return Err(JsonError::new(
                    "gauge, sum, histogram or exponentialHistogram data",
                    "summary data, which is not supported".into(),
                ));
            }
            _ => return Ok(false),
        };
        if m.data.is_some() {
            return Err(JsonError::new("one kind of data per metric", "a second one".into()));
        }
        m.data = Some(data);
        Ok(true)
    })?;
    Ok(m)
}

fn gauge<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let mut points = Vec::new();
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(number_point)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Gauge(points))
}

fn sum<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality, mut is_monotonic) = (Vec::new(), Temporality::Unspecified, false);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(number_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            "isMonotonic" => is_monotonic = boolean(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Sum { points, temporality, is_monotonic })
}

fn histogram<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality) = (Vec::new(), Temporality::Unspecified);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(histogram_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::Histogram { points, temporality })
}

fn exp_histogram<'s, R: Reader<'s>>(r: &mut R) -> Result<MetricData, JsonError> {
    let (mut points, mut temporality) = (Vec::new(), Temporality::Unspecified);
    r.object(|r, key| {
        match key {
            "dataPoints" => points = r.array(exp_histogram_point)?,
            "aggregationTemporality" => temporality = aggregation_temporality(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(MetricData::ExponentialHistogram { points, temporality })
}

fn aggregation_temporality<'s, R: Reader<'s>>(r: &mut R) -> Result<Temporality, JsonError> {
    Ok(Temporality::from_i32(enumeration(r, "an aggregation temporality", temporality_name)?))
}

fn number_point<'s, R: Reader<'s>>(r: &mut R) -> Result<NumberDataPoint, JsonError> {
    let mut p =
        NumberDataPoint { attributes: Vec::new(), start_time_unix_nano: 0, time_unix_nano: 0, value: None, flags: 0 };
    r.object(|r, key| {
        let v = match key {
            "attributes" => {
                p.attributes = attributes(r)?;
                return Ok(true);
            }
            "startTimeUnixNano" => {
                p.start_time_unix_nano = fixed64(r)?;
                return Ok(true);
            }
            "timeUnixNano" => {
                p.time_unix_nano = fixed64(r)?;
                return Ok(true);
            }
            "flags" => {
                p.flags = uint32(r)?;
                return Ok(true);
            }
            "asDouble" => NumberValue::Double(double(r)?),
            "asInt" => NumberValue::Int(int64(r)?),
            _ => return Ok(false),
        };
        if p.value.is_some() {
            return Err(JsonError::new("one of asDouble and asInt", "both".into()));
        }
        p.value = Some(v);
        Ok(true)
    })?;
    Ok(p)
}

fn histogram_point<'s, R: Reader<'s>>(r: &mut R) -> Result<HistogramDataPoint, JsonError> {
    let mut p = HistogramDataPoint::default();
    r.object(|r, key| {
        match key {
            "attributes" => p.attributes = attributes(r)?,
            "startTimeUnixNano" => p.start_time_unix_nano = fixed64(r)?,
            "timeUnixNano" => p.time_unix_nano = fixed64(r)?,
            "count" => p.count = fixed64(r)?,
            "sum" => p.sum = Some(double(r)?),
            "bucketCounts" => p.bucket_counts = r.array(fixed64)?,
            "explicitBounds" => p.explicit_bounds = r.array(double)?,
            "flags" => p.flags = uint32(r)?,
            "min" => p.min = Some(double(r)?),
            "max" => p.max = Some(double(r)?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(p)
}

fn exp_histogram_point<'s, R: Reader<'s>>(r: &mut R) -> Result<ExponentialHistogramDataPoint, JsonError> {
    let mut p = ExponentialHistogramDataPoint::default();
    r.object(|r, key| {
        match key {
            "attributes" => p.attributes = attributes(r)?,
            "startTimeUnixNano" => p.start_time_unix_nano = fixed64(r)?,
            "timeUnixNano" => p.time_unix_nano = fixed64(r)?,
            "count" => p.count = fixed64(r)?,
            "sum" => p.sum = Some(double(r)?),
            "scale" => p.scale = int32(r)?,
            "zeroCount" => p.zero_count = fixed64(r)?,
            "positive" => p.positive = Some(exp_buckets(r)?),
            "negative" => p.negative = Some(exp_buckets(r)?),
            "flags" => p.flags = uint32(r)?,
            "min" => p.min = Some(double(r)?),
            "max" => p.max = Some(double(r)?),
            "zeroThreshold" => p.zero_threshold = double(r)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(p)
}

fn exp_buckets<'s, R: Reader<'s>>(r: &mut R) -> Result<ExpBuckets, JsonError> {
    let mut b = ExpBuckets::default();
    r.object(|r, key| {
        match key {
            "offset" => b.offset = int32(r)?,
            "bucketCounts" => b.bucket_counts = r.array(fixed64)?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(b)
}

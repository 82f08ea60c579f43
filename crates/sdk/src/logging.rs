//! Logs as hclog JSON lines on stderr, the format go-plugin hosts parse: each
//! line appears in the server's log at its own level, under the plugin's
//! name. Fields of the spans an event is in (mount, path, operation) are
//! added to its line.
//!
//! The level is `info` unless the plugin's environment sets
//! `PLUGIN_LOG_LEVEL` (trace, debug, info, warn, error): the host drops lines
//! below its own level anyway, and not writing them saves work per request.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber, span};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Installs the hclog JSON logger for the whole process. Called by
/// [`serve`](crate::serve); a second call does nothing.
pub fn init(module: &str) {
    let level = std::env::var("PLUGIN_LOG_LEVEL")
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry()
        .with(level)
        .with(HclogLayer::new(module, std::io::stderr));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Writes each event as one hclog JSON line to the writer `make` returns.
pub struct HclogLayer<W> {
    module: String,
    make: W,
}

impl<W> HclogLayer<W> {
    pub fn new(module: &str, make: W) -> Self {
        HclogLayer {
            module: module.to_string(),
            make,
        }
    }
}

/// The fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_string(), Value::String(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            Value::String(format!("{value:?}")),
        );
    }
}

fn hclog_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

impl<S, W, Out> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Fn() -> Out + Send + Sync + 'static,
    Out: std::io::Write,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<SpanFields>()
        {
            values.record(&mut JsonVisitor(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "@level".into(),
            hclog_level(event.metadata().level()).into(),
        );
        line.insert("@module".into(), Value::String(self.module.clone()));
        line.insert(
            "@timestamp".into(),
            Value::String(go_timestamp(SystemTime::now())),
        );
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        line.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        let message = fields
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        line.insert("@message".into(), message);
        line.extend(fields);
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        // One write per line, so concurrent lines never interleave.
        let _ = (self.make)().write_all(text.as_bytes());
    }
}

/// Formats `t` in Go's `2006-01-02T15:04:05.000000Z07:00` layout (UTC): the
/// host only parses `@timestamp` with exactly six fractional digits.
pub fn go_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = crate::go_time::civil_from_days(i64::try_from(days).unwrap_or(0));
    let mut out = String::with_capacity(27);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_micros()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[test]
    fn timestamps_use_go_layout() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.000005Z"),
            (1_795_590_368, 123_456, "2026-11-25T07:06:08.123456Z"),
            (4_102_444_799, 999_999, "2099-12-31T23:59:59.999999Z"),
        ];
        for (secs, micros, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
            assert_eq!(go_timestamp(t), want);
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_become_hclog_json_with_span_fields() {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::registry()
            .with(HclogLayer::new("demo-plugin", move || sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", mount = "kv/", path = "data/x");
            let _enter = span.enter();
            tracing::warn!(attempt = 3, "storage slow");
        });
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf8");
        let line: Value = serde_json::from_str(text.trim_end()).expect("one JSON line");
        assert_eq!(line["@level"], "warn");
        assert_eq!(line["@message"], "storage slow");
        assert_eq!(line["@module"], "demo-plugin");
        assert_eq!(line["mount"], "kv/");
        assert_eq!(line["path"], "data/x");
        assert_eq!(line["attempt"], 3);
        let ts = line["@timestamp"].as_str().expect("timestamp");
        assert_eq!(ts.len(), "2026-11-25T06:26:08.123456Z".len());
        assert!(ts.ends_with('Z'));
    }
}

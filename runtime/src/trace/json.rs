//! Writing a recording as Chrome trace-event JSON (the "JSON Object Format").
//!
//! The file is one object: `traceEvents` holds metadata events naming the process and each
//! track (`ph: "M"`), then the recorded events sorted by time: complete slices (`X`, with
//! `ts` and `dur` in microseconds), instants (`i`) and flow arrows (`s`, `t`, `f`; every
//! flow event has the same name and category, and an `f` binds to the slice around it with
//! `bp: "e"`). `otherData.dropped_events` says how many events the ring dropped. Perfetto and
//! `chrome://tracing` both read it.
//!
//! The JSON is written by hand (the format needs only strings and numbers), so the runtime
//! needs no JSON library.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::{self, Write};

use super::recorder::{Event, Phase};
use crate::label::Label;

/// The category of the flow arrows (Chrome matches flow events by category, name and id).
const FLOW_CATEGORY: &str = "flow";

/// Writes `events` (any order) with the titles of `tracks`.
pub(super) fn write(
    out: impl Write,
    events: VecDeque<Event>,
    tracks: &BTreeMap<u64, String>,
    dropped: u64,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let pid = std::process::id();
    let mut events: Vec<Event> = events.into();
    events.sort_by_key(|event| event.ts_ns);
    out.write_all(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")?;
    write!(
        out,
        "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"name\":\"process_name\",\"args\":{{\"name\":\"evloop (pid {pid})\"}}}}"
    )?;
    for (track, title) in tracks {
        write!(
            out,
            ",\n{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{track},\"name\":\"thread_name\",\"args\":{{\"name\":{}}}}}",
            quote(title)
        )?;
        // Keep the loop's track on top, workers below in order of first appearance.
        write!(
            out,
            ",\n{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{track},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{track}}}}}"
        )?;
    }
    let mut line = String::new();
    for event in &events {
        line.clear();
        event_json(&mut line, pid, event);
        out.write_all(b",\n")?;
        out.write_all(line.as_bytes())?;
    }
    write!(
        out,
        "\n],\"otherData\":{{\"dropped_events\":{dropped},\"recorder\":\"evloop\"}}}}\n"
    )?;
    out.flush()
}

/// One event as a JSON object.
fn event_json(line: &mut String, pid: u32, event: &Event) {
    let ts = micros(event.ts_ns);
    let track = event.track;
    match event.phase {
        Phase::Slice { dur_ns } => {
            let _ = write!(
                line,
                "{{\"ph\":\"X\",\"pid\":{pid},\"tid\":{track},\"ts\":{ts},\"dur\":{},\"name\":{},\"cat\":\"{}\",\"args\":{{\"what\":{}",
                micros(dur_ns),
                quote(&event.label.short()),
                category(&event.label),
                quote(&event.label.to_string()),
            );
            if let Some((key, value)) = event.arg {
                let _ = write!(line, ",{}:{value}", quote(key));
            }
            line.push_str("}}");
        }
        Phase::Instant => {
            let _ = write!(
                line,
                "{{\"ph\":\"i\",\"s\":\"t\",\"pid\":{pid},\"tid\":{track},\"ts\":{ts},\"name\":{},\"cat\":\"{}\",\"args\":{{\"what\":{}}}}}",
                quote(&event.label.short()),
                category(&event.label),
                quote(&event.label.to_string()),
            );
        }
        Phase::FlowStart | Phase::FlowStep | Phase::FlowEnd => {
            let (ph, binding) = match event.phase {
                Phase::FlowStart => ("s", ""),
                Phase::FlowStep => ("t", ""),
                _ => ("f", ",\"bp\":\"e\""),
            };
            let _ = write!(
                line,
                "{{\"ph\":\"{ph}\",\"pid\":{pid},\"tid\":{track},\"ts\":{ts},\"id\":{},\"name\":{},\"cat\":\"{FLOW_CATEGORY}\"{binding}}}",
                event.flow,
                quote(&event.label.short()),
            );
        }
    }
}

/// The viewer category of a label (used for filtering and colours).
fn category(label: &Label) -> &'static str {
    match label {
        Label::Callback { .. } => "callback",
        Label::Threadsafe { .. } => "threadsafe",
        Label::Task { .. } | Label::Main { .. } => "task",
        Label::Job { .. } => "job",
        Label::Static(_) => "loop",
    }
}

/// Nanoseconds as microseconds with three decimals (the format's unit).
fn micros(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(quoted, "\\u{:04x}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::{micros, quote};

    #[test]
    fn quoting_escapes_what_json_requires() {
        assert_eq!(quote("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn micros_keep_three_decimals() {
        assert_eq!(micros(1_234_567), "1234.567");
        assert_eq!(micros(5), "0.005");
    }
}

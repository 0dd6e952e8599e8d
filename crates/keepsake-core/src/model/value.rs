//! Param and metric values as Keepsake stores them: JSON, with NaN and the infinities as the
//! sentinel strings `"[NaN]"`, `"[+Infinity]"`, `"[-Infinity]"`. Also the Go-compatible JSON writer
//! (`MarshalIndent`: struct fields in order, map keys sorted, HTML characters escaped).

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

pub const NAN: &str = "[NaN]";
pub const POS_INF: &str = "[+Infinity]";
pub const NEG_INF: &str = "[-Infinity]";

/// A float as Keepsake stores it: finite numbers as JSON numbers, the rest as sentinels.
pub fn from_f64(f: f64) -> Value {
    if f.is_nan() {
        Value::String(NAN.into())
    } else if f.is_infinite() {
        Value::String(if f > 0.0 { POS_INF } else { NEG_INF }.into())
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// The number a stored value stands for, reading the sentinels back; None for non-numbers.
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == NAN => Some(f64::NAN),
        Value::String(s) if s == POS_INF => Some(f64::INFINITY),
        Value::String(s) if s == NEG_INF => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// Keepsake's reading rule: JSON null and the strings "null"/"None" mean None.
pub fn is_none(v: &Value) -> bool {
    matches!(v, Value::Null) || matches!(v, Value::String(s) if s == "null" || s == "None")
}

/// Sorts every nested object's keys, as Go writes maps.
pub fn normalize(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(normalize_map(m)),
        Value::Array(a) => Value::Array(a.into_iter().map(normalize).collect()),
        other => other,
    }
}

pub fn normalize_map(m: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, normalize(v))).collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    entries.into_iter().collect()
}

/// Go's `MarshalIndent(v, "", indent)`, or compact `Marshal` when `indent` is None.
pub fn to_go_json(v: &Value, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_value(&mut out, v, indent, 0);
    out
}

fn newline(out: &mut String, indent: Option<&str>, level: usize) {
    if let Some(ind) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str(ind);
        }
    }
}

fn write_value(out: &mut String, v: &Value, indent: Option<&str>, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_value(out, item, indent, level + 1);
            }
            newline(out, indent, level);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, level + 1);
                write_string(out, k);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(out, item, indent, level + 1);
            }
            newline(out, indent, level);
            out.push('}');
        }
    }
}

/// Go's float encoding: shortest round-trip digits, exponent form below 1e-6 and from 1e21 on.
pub fn format_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    format_f64(f)
}

/// The JSON form of a float: Go's, except that integral floats keep a `.0`.
pub fn format_f64(f: f64) -> String {
    let s = go_float(f);
    if f.is_finite() && f.fract() == 0.0 && !s.contains('e') {
        // Go writes `1` for 1.0, and Keepsake then reads an int back; `1.0` keeps the float a
        // float for both readers.
        format!("{s}.0")
    } else {
        s
    }
}

/// Go's float formatting: shortest round-trip digits, exponent form below 1e-6 and from 1e21 on.
pub fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        // Rust writes `1e21` and `1e-7`; Go writes `1e+21` and `1e-07`... then trims to `1e-7`.
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => format!("{mant}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Keepsake's `ShortString(max_len, precision)`: floats with `precision` significant digits,
/// strings and objects cut to `max_len` with `...`.
pub fn short_string(v: &Value, max_len: usize, precision: usize) -> String {
    let s = match v {
        Value::Null => return "null".into(),
        Value::Bool(b) => return b.to_string(),
        Value::Number(n) if !n.is_f64() => return n.to_string(),
        Value::Number(n) => {
            return format_float_short(n.as_f64().unwrap_or(0.0), max_len, precision)
        }
        Value::String(s) if s == NAN => return "NaN".into(),
        Value::String(s) if s == POS_INF => return "+Inf".into(),
        Value::String(s) if s == NEG_INF => return "-Inf".into(),
        Value::String(s) => s.clone(),
        other => to_go_json(other, None),
    };
    truncate(&s, max_len)
}

pub fn truncate(s: &str, max_len: usize) -> String {
    if s.chars().count() <= max_len {
        return s.to_string();
    }
    let kept: String = s.chars().take(max_len.saturating_sub(3)).collect();
    format!("{kept}...")
}

/// The full display form (`show`): strings raw, everything else as compact JSON.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => go_float(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        other => to_go_json(other, None),
    }
}

/// Large floats are shown whole when that fits in `max_len` (so `123456.789` stays as it is).
fn format_float_short(f: f64, max_len: usize, precision: usize) -> String {
    let abs = f.abs();
    if abs > 1e5 && abs < 1e20 {
        let whole = go_float(f);
        if whole.len() <= max_len {
            return whole;
        }
    }
    format_g(f, precision)
}

/// Go's `%.{precision}g`.
pub fn format_g(f: f64, precision: usize) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = f.abs();
    if f == 0.0 {
        return "0".into();
    }
    let exp = abs.log10().floor() as i32;
    let sci = format!("{:.*e}", precision.saturating_sub(1), f);
    let (mant, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if e < -4 || e >= precision as i32 {
        let mant = trim_zeros(mant);
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (precision as i32 - 1 - e).max(0) as usize;
        trim_zeros(&format!("{f:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// The type name Keepsake's comparisons report.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "none",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(s) if s == NAN || s == POS_INF || s == NEG_INF => "float",
        Value::String(_) => "string",
        _ => "object",
    }
}

/// Orders two values of comparable types: numbers numerically, strings and bools as such.
/// Err names the two types when they cannot be compared.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    if let (Some(x), Some(y)) = (as_f64(a), as_f64(b)) {
        return Ok(x.partial_cmp(&y).unwrap_or(Ordering::Equal));
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ if a == b => Ok(Ordering::Equal),
        _ => Err(format!(
            "Comparing values of different types: {} and {}",
            type_name(a),
            type_name(b)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_like_go() {
        for (f, s) in [
            (0.01, "0.01"),
            (1.0 / 3.0, "0.3333333333333333"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (1e21, "1e+21"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1e20, "100000000000000000000.0"),
        ] {
            assert_eq!(format_f64(f), s, "{f}");
        }
    }

    #[test]
    fn marshal_indent_like_go() {
        let v = json!({"a": [64, 32], "b": {}, "c": "<x>&é", "d": []});
        assert_eq!(
            to_go_json(&v, Some(" ")),
            "{\n \"a\": [\n  64,\n  32\n ],\n \"b\": {},\n \"c\": \"\\u003cx\\u003e\\u0026é\",\n \"d\": []\n}"
        );
        assert_eq!(
            to_go_json(&json!({"x": 0.1, "y": [1]}), None),
            "{\"x\":0.1,\"y\":[1]}"
        );
    }

    #[test]
    fn short_strings_like_keepsake() {
        assert_eq!(short_string(&json!(0.1234567), 10, 5), "0.12346");
        assert_eq!(short_string(&json!(0.000001234567), 10, 5), "1.2346e-06");
        assert_eq!(
            short_string(&json!(12_345_678_912_345.68), 10, 5),
            "1.2346e+13"
        );
        assert_eq!(short_string(&json!(123456.789), 20, 5), "123456.789");
        assert_eq!(short_string(&json!(0.79), 20, 5), "0.79");
        assert_eq!(
            short_string(&json!("lower lr, wider layer"), 20, 5),
            "lower lr, wider l..."
        );
        assert_eq!(short_string(&json!(NAN), 20, 5), "NaN");
        assert_eq!(short_string(&json!(null), 20, 5), "null");
    }

    #[test]
    fn compare_mixes_ints_and_floats_only() {
        assert_eq!(compare(&json!(1), &json!(1.5)), Ok(Ordering::Less));
        assert!(compare(&json!("adam"), &json!(1)).is_err());
    }
}

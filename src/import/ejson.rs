//! MongoDB Extended JSON v2, as `mongoexport` writes it: the few value types
//! Tachi's four collections hold. Canonical mode wraps every number
//! (`{"$numberInt": "7"}`, `{"$numberLong": "…"}`, `{"$numberDouble": "7.0"}`)
//! and date (`{"$date": {"$numberLong": "…"}}`); relaxed mode, the default,
//! writes plain numbers and ISO-8601 dates (`{"$date": "2021-06-01T12:00:00Z"}`).
//! Both are read.

use serde_json::{Map, Value};

/// A document: one line of an export.
pub type Doc = Map<String, Value>;

/// An integer, plain or wrapped. A double is accepted when it is whole (a
/// number JavaScript wrote is a double, and mongoexport may say so).
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(whole)),
        Value::Object(o) if o.len() == 1 => {
            let (k, inner) = o.iter().next()?;
            let text = inner.as_str()?;
            match k.as_str() {
                "$numberInt" | "$numberLong" => text.parse().ok(),
                "$numberDouble" => text.parse().ok().and_then(whole),
                _ => None,
            }
        }
        _ => None,
    }
}

fn whole(f: f64) -> Option<i64> {
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// A time in unix milliseconds: an integer (Tachi stores its times so) or a
/// `$date`.
pub fn millis(v: &Value) -> Option<i64> {
    if let Some(ms) = int(v) {
        return Some(ms);
    }
    let date = v.as_object().filter(|o| o.len() == 1)?.get("$date")?;
    match date {
        Value::String(iso) => iso8601_millis(iso),
        other => int(other),
    }
}

/// The creation time an ObjectId carries (its first four bytes are unix
/// seconds), in milliseconds: `{"$oid": "5f…"}`.
pub fn object_id_millis(v: &Value) -> Option<i64> {
    let oid = object_id(v)?;
    Some(i64::from(u32::from_str_radix(&oid[..8], 16).ok()?) * 1000)
}

/// The 24 hex digits of an ObjectId, `{"$oid": "…"}`.
pub fn object_id(v: &Value) -> Option<&str> {
    let oid = v.as_object().filter(|o| o.len() == 1)?.get("$oid")?.as_str()?;
    (oid.len() == 24 && oid.bytes().all(|b| b.is_ascii_hexdigit())).then_some(oid)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`, as relaxed Extended JSON writes dates.
fn iso8601_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3 = format!("{:0<3}", &frac[..digits.min(3)]);
        millis = first3.parse::<i64>().ok()?;
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[3..4], ":") => {
            let sign = match &rest[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute - offset_minutes) * 60_000 + second * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_plain_and_wrapped() {
        assert_eq!(int(&json!(7)), Some(7));
        assert_eq!(int(&json!(7.0)), Some(7));
        assert_eq!(int(&json!(7.5)), None);
        assert_eq!(int(&json!({"$numberInt": "7"})), Some(7));
        assert_eq!(int(&json!({"$numberLong": "1622548800000"})), Some(1_622_548_800_000));
        assert_eq!(int(&json!({"$numberDouble": "3.0"})), Some(3));
        assert_eq!(int(&json!({"$numberDouble": "NaN"})), None);
        assert_eq!(int(&json!("7")), None);
        assert_eq!(int(&json!({"$numberInt": 7})), None);
    }

    #[test]
    fn dates_as_numbers_and_as_extended_json() {
        assert_eq!(millis(&json!(1_622_548_800_000_i64)), Some(1_622_548_800_000));
        assert_eq!(millis(&json!({"$date": {"$numberLong": "1622548800000"}})), Some(1_622_548_800_000));
        assert_eq!(millis(&json!({"$date": "2021-06-01T12:00:00Z"})), Some(1_622_548_800_000));
        assert_eq!(millis(&json!({"$date": "2021-06-01T12:00:00.25Z"})), Some(1_622_548_800_250));
        assert_eq!(millis(&json!({"$date": "2021-06-01T14:00:00+02:00"})), Some(1_622_548_800_000));
        assert_eq!(millis(&json!({"$date": "1969-12-31T23:59:59Z"})), Some(-1000));
        for bad in ["2021-06-01", "2021-13-01T00:00:00Z", "2021-06-01T12:00:00", "yesterday"] {
            assert_eq!(millis(&json!({ "$date": bad })), None, "{bad}");
        }
    }

    #[test]
    fn object_ids_carry_their_creation_second() {
        let oid = json!({"$oid": "60b6206000000000000000aa"});
        assert_eq!(object_id(&oid), Some("60b6206000000000000000aa"));
        assert_eq!(object_id_millis(&oid), Some(0x60b6_2060 * 1000));
        assert_eq!(object_id(&json!({"$oid": "xyz"})), None);
        assert_eq!(object_id(&json!("60b6206000000000000000aa")), None);
    }
}

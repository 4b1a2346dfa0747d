//! Small pure helpers shared by the fake: randomness, hashing, timestamps, money and OTP codes.
//!
//! Kept dependency-free on purpose: the fake must not pull crates the real client does not need.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 64-bit FNV-1a. Used wherever the catalog needs a value that is "random-looking" but identical on
/// every run, so tests and humans see the same prices and stock each time.
pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator keeps ("ab","c") and ("a","bc") apart.
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A fresh random number. uuid v4 is already a dependency and is backed by the OS RNG.
pub(crate) fn random_u64() -> u64 {
    let v = uuid::Uuid::new_v4().as_u128();
    (v as u64) ^ ((v >> 64) as u64)
}

/// `len` random lowercase hex characters.
pub(crate) fn random_hex(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.push_str(&format!("{:016x}", random_u64()));
    }
    out.truncate(len);
    out
}

/// `len` random decimal digits (the first may be 0, like real phone numbers and codes).
pub(crate) fn random_digits(len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        out.push_str(&format!(
            "{:019}",
            random_u64() % 10_000_000_000_000_000_000
        ));
    }
    out.truncate(len);
    out
}

/// `t + d`, saturating at a century ahead instead of overflowing (e.g. `order_lifetime: Duration::MAX`).
pub(crate) fn later(t: SystemTime, d: Duration) -> SystemTime {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 86_400);
    t.checked_add(d.min(CENTURY)).unwrap_or(t)
}

/// RFC 3339 UTC timestamp with second precision, e.g. `2025-03-01T12:00:05Z`.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Integer cents as a JSON number of dollars (0.18 for 18 cents). Money is never stored as float.
pub(crate) fn dollars(cents: i64) -> serde_json::Value {
    serde_json::json!(cents as f64 / 100.0)
}

/// `$0.18`-style text for problem details.
pub(crate) fn dollars_text(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}${}.{:02}", c / 100, c % 100)
}

/// The OTP in an SMS text: the first run of 4 to 8 digits; failing that, a split code like
/// `123-456` or `123 456` (WhatsApp style) joined together. `None` when the text has no code.
pub(crate) fn extract_code(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        runs
    };
    if let Some(&(s, e)) = runs.iter().find(|(s, e)| (4..=8).contains(&(e - s))) {
        return Some(text[s..e].to_string());
    }
    runs.windows(2).find_map(|w| {
        let ((s1, e1), (s2, e2)) = (w[0], w[1]);
        let sep_ok = s2 == e1 + 1 && matches!(bytes[e1], b'-' | b' ');
        let joined_len = (e1 - s1) + (e2 - s2);
        (sep_ok && (4..=8).contains(&joined_len))
            .then(|| format!("{}{}", &text[s1..e1], &text[s2..e2]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_709_294_405); // 2024-03-01T12:00:05Z
        assert_eq!(rfc3339(t), "2024-03-01T12:00:05Z");
    }

    #[test]
    fn codes_are_extracted() {
        assert_eq!(
            extract_code("Your Telegram code: 48213. Do not give"),
            Some("48213".into())
        );
        assert_eq!(
            extract_code("<#> WhatsApp code 123-456"),
            Some("123456".into())
        );
        assert_eq!(
            extract_code("G-482913 is your Google verification code."),
            Some("482913".into())
        );
        assert_eq!(extract_code("call 12 now"), None);
        assert_eq!(
            extract_code("id 1234567890123 then 5555"),
            Some("5555".into())
        );
    }

    #[test]
    fn money_formats() {
        assert_eq!(dollars_text(5), "$0.05");
        assert_eq!(dollars_text(1800), "$18.00");
        assert_eq!(dollars(18), serde_json::json!(0.18));
    }
}

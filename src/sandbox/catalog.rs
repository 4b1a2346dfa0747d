//! The fake's static catalog: services, countries, prices, starting stock, rental options, phone
//! number formats and realistic SMS texts.
//!
//! Everything here is deterministic (derived from a hash of the service/country pair), so every
//! run of the fake quotes the same prices and stock. Fixed facts tests may rely on:
//! - `telegram`+`us` and `whatsapp`+`gb` are in stock and rentable;
//! - [`NO_STOCK_COUNTRY`] has no stock for any service (`in_stock: false`);
//! - [`RENTAL_COUNTRIES`] are the only countries offering rentals;
//! - every service has a v2 slug (`telegram`) and a unique v1 short code (`tg`), and every
//!   country a lower-case ISO code (`us`, v2) shown upper-case on v1 (`US`);
//! - v1 rentals come in [`V1_RENTAL_HOURS`] (1, 7 and 30 days), priced like v2 rentals of the same
//!   length ([`rental_price_cents`]), so both dialects quote one price.

use super::util::{fnv1a, random_digits};

/// A service (an app or site that sends verification SMS).
#[derive(Clone, Copy, Debug)]
pub struct Service {
    /// The v2 slug, e.g. `telegram`.
    pub id: &'static str,
    /// The v1 short code, e.g. `tg` (unique, 2-4 lower-case letters).
    pub code: &'static str,
    pub name: &'static str,
    pub category: &'static str,
}

/// A country numbers are rented in.
#[derive(Clone, Copy, Debug)]
pub struct Country {
    pub iso2: &'static str,
    pub name: &'static str,
    /// E.164 prefix of the fake numbers, including `+`.
    phone_prefix: &'static str,
    /// Random digits appended to `phone_prefix`.
    phone_digits: usize,
}

const fn s(
    id: &'static str,
    code: &'static str,
    name: &'static str,
    category: &'static str,
) -> Service {
    Service {
        id,
        code,
        name,
        category,
    }
}

const fn c(
    iso2: &'static str,
    name: &'static str,
    phone_prefix: &'static str,
    phone_digits: usize,
) -> Country {
    Country {
        iso2,
        name,
        phone_prefix,
        phone_digits,
    }
}

pub const SERVICES: &[Service] = &[
    s("telegram", "tg", "Telegram", "messaging"),
    s("whatsapp", "wa", "WhatsApp", "messaging"),
    s("discord", "ds", "Discord", "messaging"),
    s("viber", "vi", "Viber", "messaging"),
    s("signal", "sg", "Signal", "messaging"),
    s("wechat", "wc", "WeChat", "messaging"),
    s("line", "ln", "LINE", "messaging"),
    s("kakaotalk", "kk", "KakaoTalk", "messaging"),
    s("facebook", "fb", "Facebook", "social"),
    s("instagram", "ig", "Instagram", "social"),
    s("twitter", "tw", "Twitter / X", "social"),
    s("tiktok", "tt", "TikTok", "social"),
    s("snapchat", "sc", "Snapchat", "social"),
    s("linkedin", "li", "LinkedIn", "social"),
    s("reddit", "rd", "Reddit", "social"),
    s("pinterest", "pi", "Pinterest", "social"),
    s("google", "go", "Google / Gmail / YouTube", "tech"),
    s("microsoft", "ms", "Microsoft / Outlook", "tech"),
    s("apple", "ap", "Apple ID", "tech"),
    s("openai", "oa", "OpenAI / ChatGPT", "tech"),
    s("yahoo", "yh", "Yahoo", "tech"),
    s("protonmail", "pm", "Proton Mail", "tech"),
    s("anthropic", "an", "Anthropic / Claude", "tech"),
    s("paypal", "pp", "PayPal", "finance"),
    s("coinbase", "cb", "Coinbase", "finance"),
    s("binance", "bn", "Binance", "finance"),
    s("revolut", "rv", "Revolut", "finance"),
    s("wise", "ws", "Wise", "finance"),
    s("cashapp", "cap", "Cash App", "finance"),
    s("venmo", "vm", "Venmo", "finance"),
    s("amazon", "am", "Amazon", "shopping"),
    s("ebay", "eb", "eBay", "shopping"),
    s("aliexpress", "ali", "AliExpress", "shopping"),
    s("shopee", "sp", "Shopee", "shopping"),
    s("vinted", "vt", "Vinted", "shopping"),
    s("olx", "olx", "OLX", "shopping"),
    s("tinder", "td", "Tinder", "dating"),
    s("bumble", "bb", "Bumble", "dating"),
    s("hinge", "hg", "Hinge", "dating"),
    s("badoo", "bd", "Badoo", "dating"),
    s("steam", "st", "Steam", "gaming"),
    s("epicgames", "eg", "Epic Games", "gaming"),
    s("blizzard", "bz", "Blizzard / Battle.net", "gaming"),
    s("roblox", "rb", "Roblox", "gaming"),
    s("twitch", "tch", "Twitch", "gaming"),
    s("netflix", "nf", "Netflix", "other"),
    s("spotify", "spt", "Spotify", "other"),
    s("uber", "ub", "Uber", "other"),
    s("lyft", "lf", "Lyft", "other"),
    s("bolt", "bo", "Bolt", "other"),
    s("airbnb", "ab", "Airbnb", "other"),
    s("doordash", "dd", "DoorDash", "other"),
    s("grab", "gr", "Grab", "other"),
];

pub const COUNTRIES: &[Country] = &[
    c("us", "United States", "+1555010", 4),
    c("gb", "United Kingdom", "+447700900", 3),
    c("de", "Germany", "+491555", 7),
    c("fr", "France", "+336", 8),
    c("nl", "Netherlands", "+316", 8),
    c("pl", "Poland", "+4850", 7),
    c("ua", "Ukraine", "+38067", 7),
    c("in", "India", "+9198", 8),
    c("id", "Indonesia", "+62812", 8),
    c("br", "Brazil", "+55119", 8),
    c("ph", "Philippines", "+63917", 7),
    c("vn", "Vietnam", "+8491", 7),
    c("th", "Thailand", "+6681", 7),
    c("ee", "Estonia", "+3725", 7),
    c("ca", "Canada", "+1555011", 4),
    c("es", "Spain", "+346", 8),
    c("it", "Italy", "+39347", 7),
    c("se", "Sweden", "+4670", 7),
    c("fi", "Finland", "+35840", 7),
    c("pt", "Portugal", "+35191", 7),
    c("ro", "Romania", "+4072", 7),
    c("kz", "Kazakhstan", "+7701", 7),
    c("mx", "Mexico", "+5255", 8),
    c("lt", "Lithuania", "+3706", 7),
    c("jp", "Japan", "+8190", 8),
];

/// The country with no stock for any service, so `in_stock: false` and 503 `no-stock` are easy to hit.
pub const NO_STOCK_COUNTRY: &str = "jp";

/// Countries offering rentals (numbers kept for hours or days, receiving many SMS).
pub const RENTAL_COUNTRIES: &[&str] = &["us", "gb", "de", "fr", "nl", "pl", "ca", "se", "ee"];

/// Rental durations on offer, in hours.
pub const RENTAL_HOURS: [u32; 3] = [4, 24, 168];

/// Longest accepted `rental_hours` / extend `hours` (30 days).
pub const MAX_RENTAL_HOURS: u32 = 720;

/// v1 rental durations, in hours (1, 7 and 30 days), with their labels.
pub const V1_RENTAL_HOURS: [(u32, &str); 3] = [(24, "1 day"), (168, "7 days"), (720, "30 days")];

pub fn service(id: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.id == id)
}

/// The service with v1 short code `code` (exact, case-sensitive: `tg`, not `TG` nor `telegram`).
pub fn service_by_code(code: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.code == code)
}

pub fn country(iso2: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.iso2 == iso2)
}

/// The country with v1 code `iso2`: upper case only (`US`; `us` is refused, as live).
pub fn country_v1(iso2: &str) -> Option<&'static Country> {
    if iso2.len() != 2 || !iso2.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    country(&iso2.to_ascii_lowercase())
}

impl Country {
    /// The v1 (upper-case) form of the code, e.g. `US`.
    pub fn iso2_upper(&self) -> String {
        self.iso2.to_ascii_uppercase()
    }
}

/// The cheapest activation price of `service` over all countries, in cents (v1 `base_price`).
pub fn base_price_cents(service: &str) -> i64 {
    COUNTRIES
        .iter()
        .map(|c| price_cents(service, c.iso2))
        .min()
        .unwrap_or(0)
}

/// Activation price in cents, 5..=500, fixed per (service, country). The product of two hashes
/// skews the spread towards cheap numbers, as on real price lists (most under $1.50).
pub fn price_cents(service: &str, country: &str) -> i64 {
    let a = (fnv1a(&["price", service, country]) % 496) as i64;
    let b = (fnv1a(&["spread", service, country]) % 496) as i64;
    5 + a * b / 495
}

/// Stock at start-up. Roughly one combination in seven is sold out, plus all of [`NO_STOCK_COUNTRY`].
pub fn initial_stock(service: &str, country: &str) -> u32 {
    if country == NO_STOCK_COUNTRY {
        return 0;
    }
    let h = fnv1a(&["stock", service, country]);
    let guaranteed = matches!((service, country), ("telegram", "us") | ("whatsapp", "gb"));
    if guaranteed {
        return 200 + (h % 300) as u32;
    }
    if h % 7 == 0 {
        0
    } else {
        3 + (h % 400) as u32
    }
}

/// Whether (service, country) can be rented rather than used for one activation.
pub fn has_rentals(service: &str, country: &str) -> bool {
    if !RENTAL_COUNTRIES.contains(&country) {
        return false;
    }
    matches!(service, "telegram" | "whatsapp" | "google")
        || fnv1a(&["rent", service, country]) % 3 != 0
}

/// Rental options `(hours, cents)` for (service, country); empty when not rentable.
pub fn rental_options(service: &str, country: &str) -> Vec<(u32, i64)> {
    if !has_rentals(service, country) {
        return Vec::new();
    }
    let p = price_cents(service, country);
    // A day costs less than six 4-hour blocks and a week less than seven days, as on real price lists.
    vec![(4, p * 2), (24, p * 5), (168, p * 20)]
}

/// Rental price for `hours`: the price of the smallest option covering it; beyond a week, whole
/// weeks at the 168-hour price. `None` when (service, country) is not rentable.
pub fn rental_price_cents(service: &str, country: &str, hours: u32) -> Option<i64> {
    let options = rental_options(service, country);
    let (week_hours, week_price) = *options.last()?;
    if let Some(&(_, p)) = options.iter().find(|(h, _)| *h >= hours) {
        return Some(p);
    }
    let weeks = i64::from(hours.div_ceil(week_hours));
    Some(weeks * week_price)
}

/// A fresh plausible E.164 number for `country`.
pub fn phone_number(country: &Country) -> String {
    format!(
        "{}{}",
        country.phone_prefix,
        random_digits(country.phone_digits)
    )
}

/// A realistic SMS `(sender, text, code)` as `service` would send it, with a fresh code.
pub fn realistic_sms(service: &Service) -> (String, String, String) {
    let six = random_digits(6);
    let five = random_digits(5);
    let four = random_digits(4);
    let (sender, text, code) = match service.id {
        "telegram" => (
            "Telegram",
            format!("Your Telegram code: {five}. Do not give this code to anyone."),
            five,
        ),
        "whatsapp" => {
            let text = format!(
                "<#> WhatsApp code {}-{}. Don't share this code with others.",
                &six[..3],
                &six[3..]
            );
            ("WhatsApp", text, six)
        }
        "google" => (
            "Google",
            format!("G-{six} is your Google verification code."),
            six,
        ),
        "facebook" => (
            "Facebook",
            format!("{six} is your Facebook confirmation code"),
            six,
        ),
        "instagram" => (
            "Instagram",
            format!("Use {six} to verify your Instagram account."),
            six,
        ),
        "microsoft" => (
            "Microsoft",
            format!("Use {four} as Microsoft account security code"),
            four,
        ),
        "apple" => (
            "Apple",
            format!("Your Apple ID Code is: {six}. Don't share it with anyone."),
            six,
        ),
        "amazon" => (
            "Amazon",
            format!("{six} is your Amazon OTP. Do not share it with anyone."),
            six,
        ),
        "uber" => (
            "Uber",
            format!("Your Uber code: {four}. Never share this code."),
            four,
        ),
        "discord" => (
            "Discord",
            format!("Your Discord verification code is: {six}"),
            six,
        ),
        "openai" => (
            "OpenAI",
            format!("Your OpenAI verification code is: {six}"),
            six,
        ),
        "tiktok" => (
            "TikTok",
            format!("[TikTok] {six} is your verification code, valid for 5 minutes."),
            six,
        ),
        _ => (
            service.name,
            format!("Your {} verification code is {six}.", service.name),
            six,
        ),
    };
    (sender.to_string(), text, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_shape() {
        assert!(SERVICES.len() >= 45);
        assert!(COUNTRIES.len() >= 22);
        for svc in SERVICES {
            assert!(svc
                .id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit()));
            for ctry in COUNTRIES {
                let p = price_cents(svc.id, ctry.iso2);
                assert!((5..=500).contains(&p));
            }
        }
        assert!(initial_stock("telegram", "us") > 0);
        assert!(initial_stock("whatsapp", "gb") > 0);
        assert!(SERVICES
            .iter()
            .all(|s| initial_stock(s.id, NO_STOCK_COUNTRY) == 0));
        assert!(COUNTRIES.iter().any(|c| c.iso2 != NO_STOCK_COUNTRY
            && SERVICES.iter().any(|s| initial_stock(s.id, c.iso2) == 0)));
        assert!(has_rentals("telegram", "us") && !has_rentals("telegram", "in"));
        let week = rental_price_cents("telegram", "us", 168).unwrap_or(0);
        assert_eq!(rental_price_cents("telegram", "us", 169), Some(week * 2));
        assert_eq!(
            rental_price_cents("telegram", "us", 5),
            rental_price_cents("telegram", "us", 24)
        );
    }

    #[test]
    fn v1_codes_are_unique_and_short() {
        let mut seen = std::collections::HashSet::new();
        for svc in SERVICES {
            assert!(
                (2..=4).contains(&svc.code.len())
                    && svc.code.bytes().all(|b| b.is_ascii_lowercase()),
                "{}",
                svc.code
            );
            assert!(seen.insert(svc.code), "duplicate code {}", svc.code);
            assert_eq!(service_by_code(svc.code).map(|s| s.id), Some(svc.id));
        }
        for (slug, code) in [
            ("telegram", "tg"),
            ("whatsapp", "wa"),
            ("discord", "ds"),
            ("viber", "vi"),
            ("google", "go"),
            ("facebook", "fb"),
            ("instagram", "ig"),
            ("twitter", "tw"),
            ("openai", "oa"),
        ] {
            assert_eq!(service(slug).map(|s| s.code), Some(code));
        }
        assert!(service_by_code("telegram").is_none() && service_by_code("TG").is_none());
        assert_eq!(country_v1("US").map(|c| c.iso2), Some("us"));
        assert!(country_v1("us").is_none() && country_v1("USA").is_none());
    }

    #[test]
    fn numbers_and_sms_look_real() {
        let us = country("us").map(phone_number).unwrap_or_default();
        assert!(us.starts_with("+1555010") && us.len() == 12, "{us}");
        for svc in SERVICES {
            let (_, text, code) = realistic_sms(svc);
            assert_eq!(
                super::super::util::extract_code(&text).as_deref(),
                Some(code.as_str()),
                "{text}"
            );
        }
    }
}

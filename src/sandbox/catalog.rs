//! The fake's static catalog: services, countries, prices, starting stock, rental options, phone
//! number formats and realistic SMS texts.
//!
//! Everything here is deterministic (derived from a hash of the service/country pair), so every
//! run of the fake quotes the same prices and stock. Fixed facts tests may rely on:
//! - `telegram`+`us` and `whatsapp`+`gb` are in stock and rentable;
//! - [`NO_STOCK_COUNTRY`] has no stock for any service (`in_stock: false`);
//! - [`RENTAL_COUNTRIES`] are the only countries offering rentals.

use super::util::{fnv1a, random_digits};

/// A service (an app or site that sends verification SMS).
#[derive(Clone, Copy, Debug)]
pub struct Service {
    pub id: &'static str,
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

const fn s(id: &'static str, name: &'static str, category: &'static str) -> Service {
    Service { id, name, category }
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
    s("telegram", "Telegram", "messaging"),
    s("whatsapp", "WhatsApp", "messaging"),
    s("discord", "Discord", "messaging"),
    s("viber", "Viber", "messaging"),
    s("signal", "Signal", "messaging"),
    s("wechat", "WeChat", "messaging"),
    s("line", "LINE", "messaging"),
    s("kakaotalk", "KakaoTalk", "messaging"),
    s("facebook", "Facebook", "social"),
    s("instagram", "Instagram", "social"),
    s("twitter", "Twitter / X", "social"),
    s("tiktok", "TikTok", "social"),
    s("snapchat", "Snapchat", "social"),
    s("linkedin", "LinkedIn", "social"),
    s("reddit", "Reddit", "social"),
    s("pinterest", "Pinterest", "social"),
    s("google", "Google / Gmail / YouTube", "tech"),
    s("microsoft", "Microsoft / Outlook", "tech"),
    s("apple", "Apple ID", "tech"),
    s("openai", "OpenAI / ChatGPT", "tech"),
    s("yahoo", "Yahoo", "tech"),
    s("protonmail", "Proton Mail", "tech"),
    s("anthropic", "Anthropic / Claude", "tech"),
    s("paypal", "PayPal", "finance"),
    s("coinbase", "Coinbase", "finance"),
    s("binance", "Binance", "finance"),
    s("revolut", "Revolut", "finance"),
    s("wise", "Wise", "finance"),
    s("cashapp", "Cash App", "finance"),
    s("venmo", "Venmo", "finance"),
    s("amazon", "Amazon", "shopping"),
    s("ebay", "eBay", "shopping"),
    s("aliexpress", "AliExpress", "shopping"),
    s("shopee", "Shopee", "shopping"),
    s("vinted", "Vinted", "shopping"),
    s("olx", "OLX", "shopping"),
    s("tinder", "Tinder", "dating"),
    s("bumble", "Bumble", "dating"),
    s("hinge", "Hinge", "dating"),
    s("badoo", "Badoo", "dating"),
    s("steam", "Steam", "gaming"),
    s("epicgames", "Epic Games", "gaming"),
    s("blizzard", "Blizzard / Battle.net", "gaming"),
    s("roblox", "Roblox", "gaming"),
    s("twitch", "Twitch", "gaming"),
    s("netflix", "Netflix", "other"),
    s("spotify", "Spotify", "other"),
    s("uber", "Uber", "other"),
    s("lyft", "Lyft", "other"),
    s("bolt", "Bolt", "other"),
    s("airbnb", "Airbnb", "other"),
    s("doordash", "DoorDash", "other"),
    s("grab", "Grab", "other"),
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

pub fn service(id: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.id == id)
}

pub fn country(iso2: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.iso2 == iso2)
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

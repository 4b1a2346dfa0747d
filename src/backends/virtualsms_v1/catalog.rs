//! Discovery on v1: the service and country catalogs (A1, A2: need the key, cached), the
//! per-country price and stock of a service (A3, public), rental offers (E2), and how a service
//! name the model uses (`telegram`, `Telegram`, `tg`) becomes the v1 code the API wants.

use std::sync::Arc;

use super::wire::{CountryRow, Listed, RentalsAvailable, ServiceRow, StockRow};
use super::V1;
use crate::backends::{ApiError, ErrorKind, Listing, Result};
use crate::domain::{Country, CountryPrice, Offer, RentalOption, Service, ServicePrice};
use crate::transport::Request;

/// How many close names an unknown service name is answered with.
const SUGGESTIONS: usize = 3;

impl V1 {
    /// A1 `GET /customer/services`, cached (needs the key: **(assumed)**, contract §8.1).
    async fn service_rows(&self) -> Result<Arc<Vec<ServiceRow>>> {
        let http = &self.http;
        self.services
            .get_or_fetch(|| async {
                let listed: Listed<ServiceRow> =
                    http.send(Request::get(&["customer", "services"])).await?;
                Ok(listed.rows("services"))
            })
            .await
    }

    /// A2 `GET /customer/countries`, cached.
    async fn country_rows(&self) -> Result<Arc<Vec<CountryRow>>> {
        let http = &self.http;
        self.countries
            .get_or_fetch(|| async {
                let listed: Listed<CountryRow> =
                    http.send(Request::get(&["customer", "countries"])).await?;
                Ok(listed.rows("countries"))
            })
            .await
    }

    /// A3 `GET /catalog/countries?service=<code>`: price and stock (`count`) per country.
    async fn stock_rows(&self, code: &str) -> Result<Vec<StockRow>> {
        let listed: Listed<StockRow> = self
            .http
            .send(
                Request::get(&["catalog", "countries"])
                    .public()
                    .query("service", Some(code)),
            )
            .await?;
        Ok(listed.rows("countries"))
    }

    /// E2 `GET /rentals/available?country=<ISO>&service=<code>`.
    pub(super) async fn rentals_available(
        &self,
        country: &str,
        code: Option<&str>,
    ) -> Result<RentalsAvailable> {
        self.http
            .send(
                Request::get(&["rentals", "available"])
                    .public()
                    .query("country", Some(country.to_ascii_uppercase()))
                    .query("service", code),
            )
            .await
    }

    /// The v1 code for what the model called the service (see [`resolve`]).
    pub(super) async fn code(&self, service: &str) -> Result<String> {
        resolve(&self.service_rows().await?, service)
    }

    pub(super) async fn services_list(&self) -> Result<Arc<Vec<Service>>> {
        let rows = self.service_rows().await?;
        Ok(Arc::new(
            rows.iter()
                .map(|r| Service {
                    id: r.service_id.clone(),
                    name: r.service_name.clone(),
                    category: None,
                })
                .collect(),
        ))
    }

    /// `in_stock` is "the country lists at least one service" **(assumed)**: A2 has no stock.
    pub(super) async fn countries_list(&self) -> Result<Arc<Vec<Country>>> {
        let rows = self.country_rows().await?;
        Ok(Arc::new(
            rows.iter()
                .map(|r| Country {
                    iso2: r.country_id.to_ascii_lowercase(),
                    name: r.country_name.clone(),
                    in_stock: !r.services.is_empty(),
                })
                .collect(),
        ))
    }

    /// A3 rows in stock (with a price), optionally only `country`'s.
    async fn offers(&self, code: &str, country: Option<&str>) -> Result<Vec<Offer>> {
        let rows = self.stock_rows(code).await?;
        Ok(rows
            .into_iter()
            .filter(|r| country.is_none_or(|c| r.id.eq_ignore_ascii_case(c)))
            .filter_map(|r| {
                Some(Offer {
                    service: Some(code.to_owned()),
                    country: r.id.to_ascii_lowercase(),
                    price: r.price?,
                    stock: r.count,
                    stock_unknown: false,
                })
            })
            .collect())
    }

    pub(super) async fn cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        let code = self.code(service).await?;
        let offers = self.offers(&code, country).await?;
        offers
            .into_iter()
            .filter(|o| o.stock > 0)
            .min_by(|a, b| a.price.total_cmp(&b.price))
            .ok_or_else(|| {
                let place = country.map_or("any country".to_owned(), |c| c.to_ascii_uppercase());
                ApiError::rule(
                    ErrorKind::NoStock,
                    format!("no {code} number is in stock in {place} right now"),
                )
            })
    }

    /// What an activation costs in `country` now (A3), for the spending guard.
    pub(super) async fn activation_quote(&self, service: &str, country: &str) -> Result<f64> {
        let code = self.code(service).await?;
        let offer = self.offers(&code, Some(country)).await?.into_iter().next();
        offer.map(|o| o.price).ok_or_else(|| {
            ApiError::rule(
                ErrorKind::NoStock,
                format!(
                    "{code} is not offered in {} (no price listed), so nothing can be bought there",
                    country.to_ascii_uppercase()
                ),
            )
        })
    }

    pub(super) async fn availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        let code = self.code(service).await?;
        let mut rows: Vec<CountryPrice> = self
            .offers(&code, None)
            .await?
            .into_iter()
            .map(|o| CountryPrice {
                country: o.country,
                price: o.price,
                stock: o.stock,
                stock_unknown: false,
            })
            .collect();
        rows.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(rows)
    }

    /// With `service`: its exact A3 row. Without: every code the country lists (A2) at the
    /// catalog base price (A1), approximate: exact prices would take one A3 call per service.
    pub(super) async fn activation_pricing(
        &self,
        country: &str,
        service: Option<&str>,
    ) -> Result<Listing<ServicePrice>> {
        if let Some(service) = service {
            let code = self.code(service).await?;
            let rows = self.offers(&code, Some(country)).await?;
            return Ok(Listing::exact(
                rows.into_iter()
                    .map(|o| ServicePrice {
                        service: code.clone(),
                        price: o.price,
                        stock: o.stock,
                        stock_unknown: false,
                        rental_options: None,
                    })
                    .collect(),
            ));
        }
        let countries = self.country_rows().await?;
        let services = self.service_rows().await?;
        let codes = countries
            .iter()
            .find(|c| c.country_id.eq_ignore_ascii_case(country))
            .map(|c| c.services.clone())
            .unwrap_or_default();
        let items = codes
            .iter()
            .map(|code| ServicePrice {
                service: code.clone(),
                price: services
                    .iter()
                    .find(|s| &s.service_id == code)
                    .and_then(|s| s.base_price)
                    .unwrap_or(0.0),
                stock: 0,
                stock_unknown: false,
                rental_options: None,
            })
            .collect();
        Ok(Listing {
            items,
            note: Some(
                "Approximate: catalog base prices, and stock is not listed per country here. \
                 Pass `service` for the exact price and stock."
                    .to_owned(),
            ),
        })
    }

    /// E2: every rentable service in `country` (or only `service`) with its durations.
    pub(super) async fn rental_pricing(
        &self,
        country: &str,
        service: Option<&str>,
    ) -> Result<Listing<ServicePrice>> {
        let code = match service {
            Some(s) => Some(self.code(s).await?),
            None => None,
        };
        let available = self.rentals_available(country, code.as_deref()).await?;
        let mut items = Vec::new();
        for row in available
            .countries
            .iter()
            .filter(|c| c.country_code.eq_ignore_ascii_case(country))
        {
            for service in row.pricing.keys() {
                if code
                    .as_deref()
                    .is_some_and(|c| !c.eq_ignore_ascii_case(service))
                {
                    continue;
                }
                let options = row.options(service);
                let Some(&(_, cheapest)) = options.first() else {
                    continue;
                };
                items.push(ServicePrice {
                    service: service.clone(),
                    price: cheapest,
                    stock: 0,
                    stock_unknown: false,
                    rental_options: Some(
                        options
                            .into_iter()
                            .map(|(hours, price)| RentalOption { hours, price })
                            .collect(),
                    ),
                });
            }
        }
        Ok(Listing::exact(items))
    }

    /// The shortest rental duration of `service` in `country` covering `hours`: (code,
    /// duration, price).
    pub(super) async fn rental_offer(
        &self,
        service: &str,
        country: &str,
        hours: u32,
    ) -> Result<(String, f64, u32)> {
        let code = self.code(service).await?;
        let available = self.rentals_available(country, Some(&code)).await?;
        let options: Vec<(u32, f64)> = available
            .countries
            .iter()
            .filter(|c| c.country_code.eq_ignore_ascii_case(country))
            .flat_map(|c| c.options(&code))
            .collect();
        let pick = options
            .iter()
            .filter(|(h, _)| *h >= hours)
            .min_by_key(|(h, _)| *h);
        match pick {
            Some(&(duration, price)) => Ok((code, price, duration)),
            None => Err(ApiError::rule(
                ErrorKind::Invalid,
                format!(
                    "invalid argument `rental_hours`: no rental of {hours} h or more for {code} \
                     in {} is offered (offered: {}); country_pricing with rental: true lists the \
                     options",
                    country.to_ascii_uppercase(),
                    if options.is_empty() {
                        "none".to_owned()
                    } else {
                        options
                            .iter()
                            .map(|(h, _)| format!("{h} h"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            )),
        }
    }
}

/// A service name → v1 code: an exact code first, then an exact name, then one part of a name
/// like "Google / Gmail / YouTube", then a unique prefix of a code or name; otherwise an error
/// naming the closest names **(assumed rule, contract §6)**. Case never matters.
pub(super) fn resolve(rows: &[ServiceRow], input: &str) -> Result<String> {
    let wanted = input.trim().to_lowercase();
    let code = |r: &ServiceRow| r.service_id.to_lowercase();
    let name = |r: &ServiceRow| r.service_name.to_lowercase();
    let unique = |hits: Vec<&ServiceRow>| match hits.as_slice() {
        [one] => Some(Ok(one.service_id.clone())),
        [] => None,
        many => Some(Err(ambiguous(input, many))),
    };
    let steps: [&dyn Fn(&ServiceRow) -> bool; 4] = [
        &|r| code(r) == wanted,
        &|r| name(r) == wanted,
        &|r| name(r).split('/').any(|part| part.trim() == wanted),
        &|r| code(r).starts_with(&wanted) || name(r).starts_with(&wanted),
    ];
    for step in steps {
        if let Some(found) = unique(rows.iter().filter(|r| step(r)).collect()) {
            return found;
        }
    }
    Err(unknown(rows, input))
}

fn ambiguous(input: &str, hits: &[&ServiceRow]) -> ApiError {
    let names: Vec<String> = hits
        .iter()
        .take(5)
        .map(|r| format!("{} ({})", r.service_id, r.service_name))
        .collect();
    ApiError::rule(
        ErrorKind::Invalid,
        format!(
            "invalid argument `service`: {input:?} matches {} services: {}; pass one of these codes",
            hits.len(),
            names.join(", ")
        ),
    )
}

fn unknown(rows: &[ServiceRow], input: &str) -> ApiError {
    let wanted = input.trim().to_lowercase();
    let mut scored: Vec<(f64, &ServiceRow)> = rows
        .iter()
        .map(|r| {
            let by_name = strsim::jaro_winkler(&wanted, &r.service_name.to_lowercase());
            let by_code = strsim::jaro_winkler(&wanted, &r.service_id.to_lowercase());
            (by_name.max(by_code), r)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let closest: Vec<String> = scored
        .iter()
        .take(SUGGESTIONS)
        .map(|(_, r)| format!("{} ({})", r.service_id, r.service_name))
        .collect();
    ApiError::rule(
        ErrorKind::Invalid,
        format!(
            "invalid argument `service`: no VirtualSMS service is called {input:?}; closest: {} \
             (list_services with a `query` searches them all)",
            closest.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<ServiceRow> {
        [
            ("tg", "Telegram"),
            ("wa", "WhatsApp"),
            ("go", "Google / Gmail / YouTube"),
            ("tw", "Twitter / X"),
            ("tt", "TikTok"),
            ("tn", "Tinder"),
        ]
        .into_iter()
        .map(|(id, name)| ServiceRow {
            service_id: id.into(),
            service_name: name.into(),
            base_price: None,
        })
        .collect()
    }

    #[test]
    fn codes_names_name_parts_and_unique_prefixes_resolve() {
        let rows = rows();
        for (input, code) in [
            ("tg", "tg"),
            ("TG", "tg"),
            ("telegram", "tg"),
            ("WhatsApp", "wa"),
            ("gmail", "go"),
            ("x", "tw"),
            ("tele", "tg"),
            ("google", "go"),
        ] {
            assert_eq!(resolve(&rows, input).unwrap(), code, "{input}");
        }
    }

    #[test]
    fn an_ambiguous_prefix_lists_the_candidates() {
        let err = resolve(&rows(), "ti").unwrap_err().to_string();
        assert!(
            err.contains("`service`") && err.contains("TikTok") && err.contains("Tinder"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_name_suggests_the_closest() {
        let err = resolve(&rows(), "telegrma").unwrap_err().to_string();
        assert!(err.contains("closest: tg (Telegram)"), "{err}");
    }

    #[test]
    fn rental_options_come_sorted_per_code() {
        let available: RentalsAvailable = serde_json::from_value(serde_json::json!({
            "countries": [{"country_code": "US", "pricing": {"wa": [
                {"duration_hours": 168, "price": 5.0}, {"duration_hours": 24, "price": 1.5}
            ]}}]
        }))
        .unwrap();
        assert_eq!(
            available.countries[0].options("WA"),
            vec![(24, 1.5), (168, 5.0)]
        );
    }
}

//! Discovery on smsVerificationService (`../shared/api/smsverificationservice.md` §3 B/C, §6):
//! the US catalogs of each product line, the global countries (C1) and their offers (C2), all
//! cached; countries by name ↔ ISO code through `celes`; services by the slug of their name.
//!
//! No catalog reports stock: every offer is returned with `stock: 1, stock_unknown: true`
//! ("offered now, count unknown"), and listings say so in their note. C1 lists only countries
//! with stock now, so a country missing from it is "nothing in stock there".

use std::sync::Arc;

use super::wire::{self, CountryRow, RentalRow, ServiceRow};
use super::{bad_answer, lock, SmsVerificationService, NAME};
use crate::backends::cache::TtlCache;
use crate::backends::{ApiError, ErrorKind, Listing, Result};
use crate::domain::{Country, CountryPrice, Offer, RentalOption, Service, ServicePrice};
use crate::transport::Request;

/// At most this many countries not yet cached are priced (C2) in one tool call **(assumed,
/// contract §6 find_cheapest)**: with 60 requests a minute, a full fan-out would stall a call.
const NEW_COUNTRIES_PER_CALL: usize = 20;

/// What every listing says about stock.
pub const STOCK_NOTE: &str = "smsVerificationService reports no stock counts: `stock` 1 with \
                              `stock_unknown: true` means \"offered now, how many unknown\".";

/// The ISO code of a country name (`United Kingdom` → `gb`), through `celes`: its names,
/// aliases and "the …" forms, compared without spaces and punctuation.
pub fn iso_of(name: &str) -> Option<String> {
    let key: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    // "UK" is the one common name that is no ISO code, name or alias in `celes`.
    if key == "uk" {
        return Some("gb".to_owned());
    }
    celes::Country::from_name(&key)
        .or_else(|_| celes::Country::from_alias(&key))
        .or_else(|_| celes::Country::from_name(format!("the{key}")))
        .or_else(|_| key.parse::<celes::Country>())
        .ok()
        .map(|c| c.alpha2.to_ascii_lowercase())
}

/// An offer's stock: unknown, shown as 1.
fn unknown_stock() -> (u64, bool) {
    (1, true)
}

/// A priced service of one line, by slug.
fn find<'a>(rows: &'a [ServiceRow], slug: &str) -> Option<&'a ServiceRow> {
    rows.iter()
        .find(|r| r.slug() == slug)
        .or_else(|| rows.iter().find(|r| r.service_id == slug))
}

impl SmsVerificationService {
    async fn line_rows(
        &self,
        cache: &TtlCache<Vec<ServiceRow>>,
        segments: &'static [&'static str],
    ) -> Result<Arc<Vec<ServiceRow>>> {
        cache
            .get_or_fetch(|| async {
                let value = self.call(Request::get(segments)).await?;
                wire::rows(value, "services").map_err(|e| bad_answer(segments[1], e))
            })
            .await
    }

    /// B1 `GET /services/temporary/`.
    pub(super) async fn temporary_rows(&self) -> Result<Arc<Vec<ServiceRow>>> {
        self.line_rows(&self.temporary, &["services", "temporary", ""])
            .await
    }

    /// B5 `GET /services/best-temp/`.
    pub(super) async fn best_temp_rows(&self) -> Result<Arc<Vec<ServiceRow>>> {
        self.line_rows(&self.best_temp, &["services", "best-temp", ""])
            .await
    }

    /// B3 `GET /services/rent-1day/`.
    pub(super) async fn rent_1day_rows(&self) -> Result<Arc<Vec<ServiceRow>>> {
        self.line_rows(&self.rent_1day, &["services", "rent-1day", ""])
            .await
    }

    /// B4 `GET /services/rent-30days/`.
    pub(super) async fn rent_30days_rows(&self) -> Result<Arc<Vec<ServiceRow>>> {
        self.line_rows(&self.rent_30days, &["services", "rent-30days", ""])
            .await
    }

    /// B2 `GET /services/rental/` (a raw array, names only).
    pub(super) async fn rental_rows(&self) -> Result<Arc<Vec<RentalRow>>> {
        self.rental
            .get_or_fetch(|| async {
                let value = self.call(Request::get(&["services", "rental", ""])).await?;
                wire::rows(value, "services").map_err(|e| bad_answer("rental", e))
            })
            .await
    }

    /// C1 `GET /global/countries/`: the non-US countries with stock now.
    pub(super) async fn country_rows(&self) -> Result<Arc<Vec<CountryRow>>> {
        self.countries
            .get_or_fetch(|| async {
                let value = self
                    .call(Request::get(&["global", "countries", ""]))
                    .await?;
                wire::rows(value, "countries").map_err(|e| bad_answer("countries", e))
            })
            .await
    }

    fn offers_cache(&self, country_id: &str) -> Arc<TtlCache<Vec<ServiceRow>>> {
        lock(&self.offers)
            .entry(country_id.to_owned())
            .or_insert_with(|| Arc::new(TtlCache::new(self.catalog_ttl)))
            .clone()
    }

    /// Whether C2 of `country_id` was read already (its cache holds a value or a fetch).
    fn offers_known(&self, country_id: &str) -> bool {
        lock(&self.offers).contains_key(country_id)
    }

    /// C2 `GET /global/services/?country_id=<id>`.
    pub(super) async fn offer_rows(&self, country_id: &str) -> Result<Arc<Vec<ServiceRow>>> {
        let cache = self.offers_cache(country_id);
        let result = cache
            .get_or_fetch(|| async {
                let value = self
                    .call(
                        Request::get(&["global", "services", ""])
                            .query("country_id", Some(country_id)),
                    )
                    .await?;
                wire::rows(value, "offers").map_err(|e| bad_answer("offers", e))
            })
            .await;
        if result.is_err() {
            lock(&self.offers).remove(country_id);
        }
        result
    }

    /// The C1 row of an ISO code (or of the provider's own `country_id`, passed through).
    /// `Ok(None)`: a real country with nothing in stock now (C1 lists only countries with stock).
    pub(super) async fn global_country(&self, iso: &str) -> Result<Option<CountryRow>> {
        let rows = self.country_rows().await?;
        if let Some(row) = rows.iter().find(|r| r.country_id == iso) {
            return Ok(Some(row.clone()));
        }
        if let Some(row) = rows
            .iter()
            .find(|r| iso_of(&r.country_name).as_deref() == Some(iso))
        {
            return Ok(Some(row.clone()));
        }
        if celes::Country::from_alpha2(iso).is_err() {
            return Err(ApiError::rule(
                ErrorKind::CountryNotFound,
                format!(
                    "invalid argument `country`: {iso:?} is neither an ISO 3166 country code nor \
                     a {NAME} country id; list_countries shows the countries"
                ),
            ));
        }
        Ok(None)
    }

    /// Every (country iso, its offers) of the global line, pricing at most
    /// [`NEW_COUNTRIES_PER_CALL`] countries not cached yet; the rest are named in the note.
    async fn global_offers(&self) -> Result<(Vec<(String, Arc<Vec<ServiceRow>>)>, Option<String>)> {
        let rows = self.country_rows().await?;
        let mut out = Vec::new();
        let mut fresh = 0;
        let mut skipped = Vec::new();
        for row in rows.iter() {
            let iso = iso_of(&row.country_name).unwrap_or_else(|| row.country_id.clone());
            if !self.offers_known(&row.country_id) {
                if fresh >= NEW_COUNTRIES_PER_CALL {
                    skipped.push(iso);
                    continue;
                }
                fresh += 1;
            }
            match self.offer_rows(&row.country_id).await {
                Ok(offers) => out.push((iso, offers)),
                // One country failing does not fail the search; it is named.
                Err(e)
                    if e.kind() != ErrorKind::Unauthorized && e.kind() != ErrorKind::MissingKey =>
                {
                    tracing::warn!(country = %iso, error = %e, "global offers not read");
                    skipped.push(iso);
                }
                Err(e) => return Err(e),
            }
        }
        let note = (!skipped.is_empty()).then(|| {
            format!(
                "Not priced in this call (the provider allows 60 requests a minute; ask again to \
                 continue): {}.",
                skipped.join(", ")
            )
        });
        Ok((out, note))
    }

    /// US activation rows: the temporary line, plus best-temp services missing from it (§4.1).
    async fn us_rows(&self) -> Result<Vec<ServiceRow>> {
        let temporary = self.temporary_rows().await?;
        let best = self.best_temp_rows().await?;
        let mut rows: Vec<ServiceRow> = temporary.iter().cloned().collect();
        for row in best.iter() {
            if find(&rows, &row.slug()).is_none() {
                rows.push(row.clone());
            }
        }
        Ok(rows)
    }

    /// Every service of every cached catalog, by slug.
    pub(super) async fn services_list(&self) -> Result<Arc<Vec<Service>>> {
        let mut names: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str| {
            let slug = wire::slug(name);
            if !slug.is_empty() && !names.iter().any(|(s, _)| *s == slug) {
                names.push((slug, name.to_owned()));
            }
        };
        for row in self.us_rows().await? {
            add(&row.name);
        }
        for row in self.rent_1day_rows().await?.iter() {
            add(&row.name);
        }
        for row in self.rent_30days_rows().await?.iter() {
            add(&row.name);
        }
        for row in self.rental_rows().await?.iter() {
            add(&row.name);
        }
        // Services sold only outside the US appear once their country was priced (§6).
        let cached: Vec<Arc<TtlCache<Vec<ServiceRow>>>> =
            lock(&self.offers).values().cloned().collect();
        for cache in cached {
            if let Ok(rows) = cache.get_or_fetch(|| async { Err(()) }).await {
                for row in rows.iter() {
                    add(&row.name);
                }
            }
        }
        names.sort();
        Ok(Arc::new(
            names
                .into_iter()
                .map(|(id, name)| Service {
                    id,
                    name,
                    category: None,
                })
                .collect(),
        ))
    }

    /// C1 and a fixed `us` entry; every listed country has stock (C1 lists no other). A name
    /// `celes` does not know keeps the provider's `country_id` as its code, and says so.
    pub(super) async fn countries_list(&self) -> Result<Arc<Vec<Country>>> {
        let rows = self.country_rows().await?;
        let mut out = vec![Country {
            iso2: "us".into(),
            name: "United States".into(),
            // **(assumed)**: the US lines are always offered.
            in_stock: true,
        }];
        for row in rows.iter() {
            let (iso2, name) = match iso_of(&row.country_name) {
                Some(iso) => (iso, row.country_name.clone()),
                None => {
                    tracing::info!(country = %row.country_name, "no ISO code for this country name");
                    (
                        row.country_id.clone(),
                        format!(
                            "{} (no ISO code known: pass `{}`, {NAME}'s own id)",
                            row.country_name, row.country_id
                        ),
                    )
                }
            };
            if !out.iter().any(|c| c.iso2 == iso2) {
                out.push(Country {
                    iso2,
                    name,
                    in_stock: true,
                });
            }
        }
        Ok(Arc::new(out))
    }

    /// The activation offer of `service` in `country` (`None`: not offered there now).
    pub(super) async fn activation_offer(
        &self,
        service: &str,
        country: &str,
    ) -> Result<Option<(ServiceRow, super::Line)>> {
        if country == "us" {
            let (first, second) = if self.prefer_best_temp {
                (self.best_temp_rows().await?, self.temporary_rows().await?)
            } else {
                (self.temporary_rows().await?, self.best_temp_rows().await?)
            };
            let lines = if self.prefer_best_temp {
                (super::Line::BestTemp, super::Line::Temporary)
            } else {
                (super::Line::Temporary, super::Line::BestTemp)
            };
            if let Some(row) = find(&first, service) {
                return Ok(Some((row.clone(), lines.0)));
            }
            return Ok(find(&second, service).map(|r| (r.clone(), lines.1)));
        }
        let Some(row) = self.global_country(country).await? else {
            return Ok(None);
        };
        let offers = self.offer_rows(&row.country_id).await?;
        Ok(find(&offers, service).map(|r| (r.clone(), super::Line::Global)))
    }

    /// "Not offered" for a service the catalogs do not know at all, else "no stock".
    pub(super) async fn not_offered(&self, service: &str, place: &str) -> ApiError {
        let known = self
            .services_list()
            .await
            .map(|all| all.iter().any(|s| s.id == service))
            .unwrap_or(true);
        if known {
            ApiError::rule(
                ErrorKind::NoStock,
                format!("{NAME} offers no {service} number in {place} right now"),
            )
        } else {
            let close: Vec<String> = self
                .services_list()
                .await
                .map(|all| {
                    all.iter()
                        .filter(|s| s.id.contains(service) || service.contains(s.id.as_str()))
                        .take(3)
                        .map(|s| s.id.clone())
                        .collect()
                })
                .unwrap_or_default();
            let hint = if close.is_empty() {
                "list_services shows the names it knows".to_owned()
            } else {
                format!("did you mean {}?", close.join(", "))
            };
            ApiError::rule(
                ErrorKind::ServiceNotFound,
                format!("invalid argument `service`: {NAME} knows no service {service:?}; {hint}"),
            )
        }
    }

    pub(super) async fn cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        let offer = |row: &ServiceRow, country: &str| {
            row.cost().map(|price| {
                let (stock, stock_unknown) = unknown_stock();
                Offer {
                    service: Some(service.to_owned()),
                    country: country.to_owned(),
                    price,
                    stock,
                    stock_unknown,
                }
            })
        };
        if let Some(country) = country {
            return match self.activation_offer(service, country).await? {
                Some((row, _)) => offer(&row, country).ok_or_else(|| {
                    bad_answer("price", format!("no price for {service} in {country}"))
                }),
                None => Err(self
                    .not_offered(service, &country.to_ascii_uppercase())
                    .await),
            };
        }
        let all = self.availability(service).await?;
        let Some(best) = all.into_iter().next() else {
            return Err(self.not_offered(service, "any country").await);
        };
        Ok(Offer {
            service: Some(service.to_owned()),
            country: best.country,
            price: best.price,
            stock: best.stock,
            stock_unknown: best.stock_unknown,
        })
    }

    /// US (B1, B5) and every global country (C2, paced), cheapest first.
    pub(super) async fn availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        let mut out = Vec::new();
        let (stock, stock_unknown) = unknown_stock();
        if let Some(price) = find(&self.us_rows().await?, service).and_then(ServiceRow::cost) {
            out.push(CountryPrice {
                country: "us".into(),
                price,
                stock,
                stock_unknown,
            });
        }
        let (countries, note) = self.global_offers().await?;
        if let Some(note) = note {
            tracing::info!(%note, "service_availability is partial");
        }
        for (iso, offers) in countries {
            if let Some(price) = find(&offers, service).and_then(ServiceRow::cost) {
                out.push(CountryPrice {
                    country: iso,
                    price,
                    stock,
                    stock_unknown,
                });
            }
        }
        out.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(out)
    }

    /// `us`: B1 (+ B5), with `rental` the 1/3/30-day options merged per service; elsewhere C2
    /// (and no rentals: they are sold for US numbers only).
    pub(super) async fn pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>> {
        let (stock, stock_unknown) = unknown_stock();
        let wanted = |slug: &str| service.is_none_or(|s| s == slug);
        let mut note = STOCK_NOTE.to_owned();
        let mut items: Vec<ServicePrice> = Vec::new();
        if rental {
            if country != "us" {
                return Ok(Listing {
                    items,
                    note: Some(format!(
                        "{NAME} sells rentals for US numbers only: country_pricing with \
                         country \"us\" lists them."
                    )),
                });
            }
            let mut options: Vec<(String, Vec<RentalOption>)> = Vec::new();
            let mut add = |slug: String, hours: u32, price: Option<f64>| {
                let Some(price) = price else { return };
                if !wanted(&slug) {
                    return;
                }
                let entry = match options.iter_mut().find(|(s, _)| *s == slug) {
                    Some(entry) => entry,
                    None => {
                        options.push((slug, Vec::new()));
                        options.last_mut().expect("just pushed")
                    }
                };
                if !entry.1.iter().any(|o| o.hours == hours && o.price <= price) {
                    entry.1.retain(|o| o.hours != hours);
                    entry.1.push(RentalOption { hours, price });
                }
            };
            for row in self.rent_1day_rows().await?.iter() {
                add(row.slug(), 24, row.cost());
            }
            for row in self.rental_rows().await?.iter() {
                add(wire::slug(&row.name), 72, row.cost(3));
                add(wire::slug(&row.name), 720, row.cost(30));
            }
            for row in self.rent_30days_rows().await?.iter() {
                add(row.slug(), 720, row.cost());
            }
            for (slug, mut opts) in options {
                opts.sort_by_key(|o| o.hours);
                let price = opts.first().map_or(0.0, |o| o.price);
                items.push(ServicePrice {
                    service: slug,
                    price,
                    stock,
                    stock_unknown,
                    rental_options: Some(opts),
                });
            }
            note.push_str(
                " Rentals come in fixed products (24 h, 72 h, 720 h): a request for other hours \
                 buys the next longer one.",
            );
        } else {
            let rows = if country == "us" {
                self.us_rows().await?
            } else {
                match self.global_country(country).await? {
                    Some(row) => self.offer_rows(&row.country_id).await?.to_vec(),
                    None => Vec::new(),
                }
            };
            for row in rows.iter().filter(|r| wanted(&r.slug())) {
                if let Some(price) = row.cost() {
                    items.push(ServicePrice {
                        service: row.slug(),
                        price,
                        stock,
                        stock_unknown,
                        rental_options: None,
                    });
                }
            }
        }
        items.sort_by(|a, b| a.service.cmp(&b.service));
        Ok(Listing {
            items,
            note: Some(note),
        })
    }

    /// The cheapest rental row of a line for `service` (by slug, or the provider's id).
    pub(super) async fn rental_offer(
        &self,
        line: super::Line,
        service: &str,
    ) -> Result<Option<(String, String, f64)>> {
        use super::Line;
        let row = match line {
            Line::Rent1Day => self
                .rent_1day_rows()
                .await?
                .iter()
                .find(|r| r.slug() == service || r.service_id == service)
                .cloned(),
            Line::Rent30Days => self
                .rent_30days_rows()
                .await?
                .iter()
                .find(|r| r.slug() == service || r.service_id == service)
                .cloned(),
            Line::Rental(days) => {
                return Ok(self
                    .rental_rows()
                    .await?
                    .iter()
                    .find(|r| {
                        wire::slug(&r.name) == service || r.name.eq_ignore_ascii_case(service)
                    })
                    .and_then(|r| Some((r.name.clone(), r.name.clone(), r.cost(days)?))))
            }
            _ => None,
        };
        Ok(row.and_then(|r| Some((r.service_id.clone(), r.name.clone(), r.cost()?))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_names_become_iso_codes_through_celes() {
        for (name, iso) in [
            ("United Kingdom", "gb"),
            ("UK", "gb"),
            ("Germany", "de"),
            ("Netherlands", "nl"),
            ("Vietnam", "vn"),
            ("Russia", "ru"),
            ("Czech Republic", "cz"),
            ("Philippines", "ph"),
            ("United States", "us"),
        ] {
            assert_eq!(iso_of(name).as_deref(), Some(iso), "{name}");
        }
        assert_eq!(iso_of("Atlantis"), None);
    }
}

//! Discovery on SMSCode (`../shared/api/smscode.md` §3 B, §7): everything comes from the
//! product list (B1). The whole list (no filters, **(assumed allowed)**) is cached for the
//! catalog TTL and gives the platforms (list_services), the country slugs with their ISO codes
//! (list_countries, and the ISO → slug map every input goes through) and, for an order this
//! process did not place, its product's platform, country and price. Price and stock questions
//! read B1 with filters afresh (one request each, well inside 300/min): stock is live.
//!
//! SMSCode sells several products per country and platform at different prices; the tools see
//! the cheapest in stock (its price, and its own stock), and country/service summaries the sum
//! of the stock.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::wire::{iso_of_slug, title_case, Product};
use super::SmsCode;
use crate::backends::{ApiError, ErrorKind, Listing, Result};
use crate::domain::{Country, CountryPrice, Offer, Service, ServicePrice};
use crate::transport::Request;

/// A country as the tools asked for it, and as SMSCode names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// SMSCode's slug (`indonesia`).
    pub slug: String,
    /// What results show: the ISO code, or the slug when it maps to none.
    pub shown: String,
}

impl SmsCode {
    /// B1 without filters, cached.
    pub(super) async fn all_products(&self) -> Result<Arc<Vec<Product>>> {
        self.catalog
            .get_or_fetch(|| async { self.call(Request::get(&["catalog", "products"])).await })
            .await
    }

    /// B1 `?country=<slug>&platform=<slug>`, live.
    pub(super) async fn products(
        &self,
        country: Option<&str>,
        platform: Option<&str>,
    ) -> Result<Vec<Product>> {
        self.call(
            Request::get(&["catalog", "products"])
                .query("country", country)
                .query("platform", platform),
        )
        .await
    }

    /// The ISO code SMSCode's slug stands for, or the slug itself when it maps to none (logged).
    pub(super) fn shown(slug: &str) -> String {
        iso_of_slug(slug).unwrap_or_else(|| {
            tracing::info!(
                slug,
                "SMSCode country slug maps to no ISO code; shown as is"
            );
            slug.to_owned()
        })
    }

    /// The SMSCode slug for `country` (ISO alpha-2 as the tools pass it, or SMSCode's own slug),
    /// read from the catalog's countries, so the slug is exactly what SMSCode writes.
    pub(super) async fn place(&self, country: &str) -> Result<Place> {
        let products = self.all_products().await?;
        let mut slugs: Vec<&str> = products.iter().map(|p| p.country.as_str()).collect();
        slugs.sort_unstable();
        slugs.dedup();
        if let Some(slug) = slugs.iter().find(|s| s.eq_ignore_ascii_case(country)) {
            return Ok(Place {
                slug: (*slug).to_owned(),
                shown: Self::shown(slug),
            });
        }
        if let Some(slug) = slugs
            .iter()
            .find(|s| iso_of_slug(s).is_some_and(|iso| iso.eq_ignore_ascii_case(country)))
        {
            return Ok(Place {
                slug: (*slug).to_owned(),
                shown: country.to_ascii_lowercase(),
            });
        }
        Err(ApiError::rule(
            ErrorKind::CountryNotFound,
            format!(
                "SMSCode sells no numbers in `{country}`: none of its {} countries is that ISO \
                 code or name",
                slugs.len()
            ),
        ))
    }

    pub(super) async fn services_list(&self) -> Result<Arc<Vec<Service>>> {
        let products = self.all_products().await?;
        let platforms: BTreeMap<&str, ()> =
            products.iter().map(|p| (p.platform.as_str(), ())).collect();
        Ok(Arc::new(
            platforms
                .into_keys()
                .map(|p| Service {
                    id: p.to_owned(),
                    name: title_case(p),
                    category: None,
                })
                .collect(),
        ))
    }

    pub(super) async fn countries_list(&self) -> Result<Arc<Vec<Country>>> {
        let products = self.all_products().await?;
        let mut stocked: BTreeMap<&str, bool> = BTreeMap::new();
        for p in products.iter() {
            *stocked.entry(p.country.as_str()).or_default() |= p.available_count > 0;
        }
        Ok(Arc::new(
            stocked
                .into_iter()
                .map(|(slug, in_stock)| Country {
                    iso2: Self::shown(slug),
                    name: title_case(slug),
                    in_stock,
                })
                .collect(),
        ))
    }

    pub(super) async fn cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        let place = match country {
            Some(c) => Some(self.place(c).await?),
            None => None,
        };
        let products = self
            .products(place.as_ref().map(|p| p.slug.as_str()), Some(service))
            .await?;
        let best = in_stock_cheapest_first(products).into_iter().next();
        let (product, price) = best.ok_or_else(|| {
            let where_ = place
                .as_ref()
                .map_or("any country".to_owned(), |p| p.shown.clone());
            ApiError::rule(
                ErrorKind::NoStock,
                format!("SMSCode has no {service} number in stock in {where_} right now"),
            )
        })?;
        Ok(Offer {
            stock_unknown: false,
            service: Some(product.platform.clone()),
            country: place.map_or_else(|| Self::shown(&product.country), |p| p.shown),
            price,
            stock: product.available_count,
        })
    }

    /// The products of `service` in `country` worth trying, cheapest first (in stock, priced).
    pub(super) async fn candidates(
        &self,
        service: &str,
        place: &Place,
    ) -> Result<Vec<(Product, f64)>> {
        let products = self.products(Some(&place.slug), Some(service)).await?;
        Ok(in_stock_cheapest_first(products))
    }

    /// C1's price: the cheapest product in stock (IDR), for the spending guard.
    pub(super) async fn activation_quote(&self, service: &str, country: &str) -> Result<f64> {
        let place = self.place(country).await?;
        self.candidates(service, &place)
            .await?
            .first()
            .map(|(_, price)| *price)
            .ok_or_else(|| no_stock(service, &place))
    }

    /// Per platform in one country: the lowest in-stock price (the lowest of all when none is in
    /// stock) and the stock summed over its products.
    pub(super) async fn pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>> {
        let place = self.place(country).await?;
        let products = self.products(Some(&place.slug), service).await?;
        let items = summarise(products, |p| p.platform.clone())
            .into_iter()
            .map(|(service, price, stock)| ServicePrice {
                stock_unknown: false,
                service,
                price,
                stock,
                rental_options: None,
            })
            .collect();
        Ok(Listing {
            items,
            note: rental.then(|| {
                "SMSCode offers no rentals: these are one-time activation prices (IDR).".to_owned()
            }),
        })
    }

    /// Per country for one platform, cheapest first.
    pub(super) async fn availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        let products = self.products(None, Some(service)).await?;
        let mut rows: Vec<CountryPrice> = summarise(products, |p| Self::shown(&p.country))
            .into_iter()
            .map(|(country, price, stock)| CountryPrice {
                stock_unknown: false,
                country,
                price,
                stock,
            })
            .collect();
        rows.sort_by(|a, b| a.price.total_cmp(&b.price));
        Ok(rows)
    }
}

pub(super) fn no_stock(service: &str, place: &Place) -> ApiError {
    ApiError::rule(
        ErrorKind::NoStock,
        format!(
            "SMSCode has no {service} number in stock in {} right now",
            place.shown
        ),
    )
}

/// Priced products with stock, cheapest first (ties: more stock first, then lower id).
fn in_stock_cheapest_first(products: Vec<Product>) -> Vec<(Product, f64)> {
    let mut offers: Vec<(Product, f64)> = products
        .into_iter()
        .filter(|p| p.available_count > 0)
        .filter_map(|p| Some((p.price?, p)))
        .map(|(price, p)| (p, price))
        .collect();
    offers.sort_by(|(a, pa), (b, pb)| {
        pa.total_cmp(pb)
            .then(b.available_count.cmp(&a.available_count))
            .then(a.id.cmp(&b.id))
    });
    offers
}

/// Groups products by `key`: (key, lowest in-stock price or else lowest price, summed stock).
fn summarise(products: Vec<Product>, key: impl Fn(&Product) -> String) -> Vec<(String, f64, u64)> {
    // key → (lowest in-stock price, lowest price, stock)
    let mut groups: BTreeMap<String, (Option<f64>, Option<f64>, u64)> = BTreeMap::new();
    for p in &products {
        let Some(price) = p.price else { continue };
        let g = groups.entry(key(p)).or_default();
        g.1 = Some(g.1.map_or(price, |m: f64| m.min(price)));
        if p.available_count > 0 {
            g.0 = Some(g.0.map_or(price, |m: f64| m.min(price)));
        }
        g.2 += p.available_count;
    }
    groups
        .into_iter()
        .filter_map(|(k, (stocked, any, stock))| Some((k, stocked.or(any)?, stock)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: u64, country: &str, price: f64, stock: u64) -> Product {
        Product {
            id,
            country: country.into(),
            platform: "whatsapp".into(),
            price: Some(price),
            available_count: stock,
        }
    }

    #[test]
    fn the_cheapest_product_in_stock_comes_first() {
        let picked = in_stock_cheapest_first(vec![
            product(1, "indonesia", 4500.0, 0),
            product(2, "indonesia", 6000.0, 3),
            product(3, "indonesia", 5000.0, 9),
        ]);
        let ids: Vec<u64> = picked.iter().map(|(p, _)| p.id).collect();
        assert_eq!(ids, [3, 2], "sold-out product 1 is skipped");
    }

    #[test]
    fn summaries_sum_stock_and_take_the_lowest_in_stock_price() {
        let rows = summarise(
            vec![
                product(1, "indonesia", 4500.0, 0),
                product(2, "indonesia", 6000.0, 3),
                product(3, "indonesia", 5000.0, 9),
                product(4, "japan", 7000.0, 0),
            ],
            |p| p.country.clone(),
        );
        assert_eq!(
            rows,
            [
                ("indonesia".to_owned(), 5000.0, 12),
                ("japan".to_owned(), 7000.0, 0)
            ]
        );
    }
}

//! Discovery tools — list_services, list_countries, find_cheapest, country_pricing,
//! service_availability. The backend caches the two catalogs; they are filtered and paged here
//! (a live service list has hundreds to thousands of entries: far too many to hand a model at
//! once). Each takes an optional `provider`; without it find_cheapest and service_availability
//! ask every configured provider and compare in USD, the others ask the default provider.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::across::{by_usd, ProviderError};
use super::{in_range, opt_slug, slug, At, ToolError, VirtualSmsServer};
use crate::domain::{Country, CountryPrice, Offer, Service, ServicePrice};
use crate::providers::Member;

/// The largest `limit` of list_services.
const SERVICES_PAGE_MAX: u32 = 500;
/// The largest `limit` of service_availability.
const COUNTRIES_MAX: u32 = 500;

fn default_services_limit() -> u32 {
    50
}

fn default_availability_limit() -> u32 {
    20
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListServicesArgs {
    /// Case-insensitive text to look for in the service id or name, e.g. "tele" or "google".
    pub query: Option<String>,
    /// Only services in this category, e.g. "messaging" or "social".
    pub category: Option<String>,
    /// Page size.
    #[serde(default = "default_services_limit")]
    #[schemars(range(min = 1, max = SERVICES_PAGE_MAX))]
    pub limit: u32,
    /// How many matches to skip (for the next page).
    #[serde(default)]
    pub offset: u32,
    /// Only this provider (e.g. `smscode`); default: the first configured.
    pub provider: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServicesPage {
    /// Matches in all (not just this page).
    pub total: usize,
    pub offset: u32,
    pub limit: u32,
    /// True when more matches follow this page (call again with a larger offset).
    pub has_more: bool,
    pub services: Vec<Service>,
    /// Why the result may not be what was asked (e.g. this provider has no categories).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListCountriesArgs {
    /// Only countries that have numbers in stock now.
    #[serde(default)]
    pub in_stock_only: bool,
    /// Only this provider (e.g. `smscode`); default: the first configured.
    pub provider: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CountryList {
    pub total: usize,
    pub countries: Vec<Country>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct FindCheapestArgs {
    /// Service slug, e.g. "telegram" (see list_services).
    pub service: String,
    /// Limit the search to this country (ISO code, e.g. "us"); omit to search all countries.
    pub country: Option<String>,
    /// Only this provider (e.g. `smscode`); default: all, compared in USD.
    pub provider: Option<String>,
}

/// The cheapest offer, where it is, and (when several providers were asked) every answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Cheapest {
    #[serde(flatten)]
    pub offer: Offer,
    /// Who sells it; pass as `provider` to create_order to buy exactly this.
    pub provider: String,
    /// The currency of `price`.
    pub currency: String,
    /// `price` in USD, when it is not already USD and the rate is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<f64>,
    /// Every provider asked, cheapest first in USD (a price with no USD rate is listed last,
    /// never compared).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub offers: Vec<ProviderOffer>,
}

/// One provider's answer to find_cheapest.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProviderOffer {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    pub currency: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stock: Option<u64>,
    /// Why this provider has no offer (no stock, an error, no answer in time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct CountryPricingArgs {
    /// Country ISO code, e.g. "us" (see list_countries).
    pub country: String,
    /// Only this service's price, e.g. "whatsapp".
    pub service: Option<String>,
    /// Include rental options (numbers kept for hours or days) instead of one-time activations.
    #[serde(default)]
    pub rental: bool,
    /// Only this provider (e.g. `smscode`); default: the first configured.
    pub provider: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CountryPricing {
    pub provider: String,
    /// The currency of every price here.
    pub currency: String,
    pub country: String,
    pub rental: bool,
    pub total: usize,
    pub prices: Vec<ServicePrice>,
    /// What the provider could not say exactly (e.g. prices that are approximate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ServiceAvailabilityArgs {
    /// Service slug, e.g. "telegram".
    pub service: String,
    /// Only countries with numbers in stock now.
    #[serde(default)]
    pub in_stock_only: bool,
    /// At most this many countries, cheapest first.
    #[serde(default = "default_availability_limit")]
    #[schemars(range(min = 1, max = COUNTRIES_MAX))]
    pub limit: u32,
    /// Only this provider (e.g. `smscode`); default: all, compared in USD.
    pub provider: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceAvailability {
    pub service: String,
    /// Countries that matched, before `limit`.
    pub total: usize,
    /// Cheapest first (in USD across providers).
    pub countries: Vec<Availability>,
    /// Providers that could not answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProviderError>,
}

/// One country's offer for the service at one provider.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Availability {
    #[serde(flatten)]
    pub price: CountryPrice,
    pub provider: String,
    pub currency: String,
    /// `price` in USD, when it is not already USD and the rate is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<f64>,
}

fn usd_if_foreign(member: &Member, price: f64) -> Option<f64> {
    (member.currency() != "USD")
        .then(|| member.to_usd(price))
        .flatten()
}

/// Case-insensitive match of `query` against a service's id or name, and exact category match.
fn matches(service: &Service, query: Option<&str>, category: Option<&str>) -> bool {
    let query_ok = query.is_none_or(|q| {
        service.id.to_lowercase().contains(q) || service.name.to_lowercase().contains(q)
    });
    let category_ok = category.is_none_or(|c| {
        service
            .category
            .as_deref()
            .is_some_and(|sc| sc.eq_ignore_ascii_case(c))
    });
    query_ok && category_ok
}

impl VirtualSmsServer {
    /// The provider `provider` names, or the default one.
    fn member(&self, provider: Option<&str>) -> Result<&Member, ToolError> {
        Ok(self.state.providers.pick(provider)?)
    }

    /// find_cheapest at every configured provider, compared in USD.
    pub(crate) async fn cheapest_everywhere(
        &self,
        service: &str,
        country: Option<&str>,
    ) -> Result<Cheapest, ToolError> {
        let (service, country) = (service.to_owned(), country.map(str::to_owned));
        let everyone = self.state.providers.all().to_vec();
        let answers = self
            .ask_all(everyone, |b| {
                let (s, c) = (service.clone(), country.clone());
                Box::pin(async move { b.find_cheapest(&s, c.as_deref()).await })
            })
            .await;
        let mut offers: Vec<(ProviderOffer, Option<(Offer, Member)>)> = answers
            .into_iter()
            .map(|(m, answer)| match answer {
                Ok(offer) => (
                    ProviderOffer {
                        provider: m.name().to_owned(),
                        country: Some(offer.country.clone()),
                        price: Some(offer.price),
                        currency: m.currency().to_owned(),
                        price_usd: m.to_usd(offer.price),
                        stock: Some(offer.stock),
                        error: None,
                    },
                    Some((offer, m)),
                ),
                Err(e) => (
                    ProviderOffer {
                        provider: m.name().to_owned(),
                        country: None,
                        price: None,
                        currency: m.currency().to_owned(),
                        price_usd: None,
                        stock: None,
                        error: Some(e.to_string()),
                    },
                    None,
                ),
            })
            .collect();
        offers.sort_by(|a, b| by_usd(a.0.price_usd, b.0.price_usd));
        let listed: Vec<ProviderOffer> = offers.iter().map(|(o, _)| o.clone()).collect();
        let best = offers
            .into_iter()
            .find_map(|(o, found)| found.filter(|_| o.price_usd.is_some()));
        match best {
            Some((offer, m)) => Ok(Cheapest {
                price_usd: usd_if_foreign(&m, offer.price),
                provider: m.name().to_owned(),
                currency: m.currency().to_owned(),
                offer,
                offers: listed,
            }),
            None => {
                let why: Vec<String> = listed
                    .iter()
                    .map(|o| match (&o.error, o.price) {
                        (Some(e), _) => format!("{}: {e}", o.provider),
                        (None, Some(p)) => format!(
                            "{}: {p} {} (no USD rate, not compared)",
                            o.provider, o.currency
                        ),
                        (None, None) => format!("{}: no offer", o.provider),
                    })
                    .collect();
                Err(ToolError::Refused(format!(
                    "no provider has a comparable offer for {service}: {}. Try another \
                     country, or name a `provider`.",
                    why.join("; ")
                )))
            }
        }
    }
}

#[tool_router(router = catalog_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// Search the services numbers can be bought for (2,500+: filter with `query`, page with
    /// `limit`/`offset`). Use the `id` as `service` in other tools.
    #[tool(annotations(title = "List services", read_only_hint = true, open_world_hint = true))]
    pub async fn list_services(
        &self,
        Parameters(args): Parameters<ListServicesArgs>,
    ) -> Result<Json<ServicesPage>, ToolError> {
        let limit = in_range("limit", args.limit, 1, SERVICES_PAGE_MAX)?;
        let query = args
            .query
            .as_deref()
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty());
        let category = args
            .category
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let m = self.member(args.provider.as_deref())?;
        let all = m.backend.list_services().await.at(m)?;
        let matching: Vec<&Service> = all
            .iter()
            .filter(|s| matches(s, query.as_deref(), category))
            .collect();
        let services: Vec<Service> = matching
            .iter()
            .skip(args.offset as usize)
            .take(limit as usize)
            .map(|s| (*s).clone())
            .collect();
        let has_more = (args.offset as usize).saturating_add(services.len()) < matching.len();
        let note = (category.is_some() && all.iter().all(|s| s.category.is_none())).then(|| {
            "This provider's catalog has no categories, so a category filter matches nothing; \
             search with `query` instead."
                .to_owned()
        });
        Ok(Json(ServicesPage {
            total: matching.len(),
            offset: args.offset,
            limit,
            has_more,
            services,
            note,
        }))
    }

    /// List the countries numbers come from (ISO codes to use as `country`), with stock.
    #[tool(annotations(
        title = "List countries",
        read_only_hint = true,
        open_world_hint = true
    ))]
    pub async fn list_countries(
        &self,
        Parameters(args): Parameters<ListCountriesArgs>,
    ) -> Result<Json<CountryList>, ToolError> {
        let m = self.member(args.provider.as_deref())?;
        let all = m.backend.list_countries().await.at(m)?;
        let countries: Vec<Country> = all
            .iter()
            .filter(|c| !args.in_stock_only || c.in_stock)
            .cloned()
            .collect();
        Ok(Json(CountryList {
            total: countries.len(),
            countries,
        }))
    }

    /// The cheapest in-stock number for a service, across all countries or in one country.
    /// Start here before create_order.
    #[tool(annotations(
        title = "Find the cheapest number",
        read_only_hint = true,
        open_world_hint = true
    ))]
    pub async fn find_cheapest(
        &self,
        Parameters(args): Parameters<FindCheapestArgs>,
    ) -> Result<Json<Cheapest>, ToolError> {
        let service = slug("service", &args.service)?;
        let country = opt_slug("country", args.country.as_deref())?;
        if args.provider.is_none() && self.state.providers.is_multi() {
            return Ok(Json(
                self.cheapest_everywhere(&service, country.as_deref())
                    .await?,
            ));
        }
        let m = self.member(args.provider.as_deref())?;
        let offer = m
            .backend
            .find_cheapest(&service, country.as_deref())
            .await?;
        Ok(Json(Cheapest {
            price_usd: usd_if_foreign(m, offer.price),
            provider: m.name().to_owned(),
            currency: m.currency().to_owned(),
            offer,
            offers: Vec::new(),
        }))
    }

    /// Prices and stock of every service in one country (or one service there); with
    /// `rental: true`, the rental options.
    #[tool(annotations(
        title = "Prices in a country",
        read_only_hint = true,
        open_world_hint = true
    ))]
    pub async fn country_pricing(
        &self,
        Parameters(args): Parameters<CountryPricingArgs>,
    ) -> Result<Json<CountryPricing>, ToolError> {
        let country = slug("country", &args.country)?;
        let service = opt_slug("service", args.service.as_deref())?;
        let m = self.member(args.provider.as_deref())?;
        let listing = m
            .backend
            .country_pricing(&country, service.as_deref(), args.rental)
            .await
            .at(m)?;
        Ok(Json(CountryPricing {
            provider: m.name().to_owned(),
            currency: m.currency().to_owned(),
            country,
            rental: args.rental,
            total: listing.items.len(),
            prices: listing.items,
            note: listing.note,
        }))
    }

    /// Which countries have numbers for a service, at what price and stock, cheapest first.
    #[tool(annotations(
        title = "Where a service is available",
        read_only_hint = true,
        open_world_hint = true
    ))]
    pub async fn service_availability(
        &self,
        Parameters(args): Parameters<ServiceAvailabilityArgs>,
    ) -> Result<Json<ServiceAvailability>, ToolError> {
        let service = slug("service", &args.service)?;
        let limit = in_range("limit", args.limit, 1, COUNTRIES_MAX)?;
        let members: Vec<Member> = match args.provider.as_deref() {
            Some(p) => vec![self.member(Some(p))?.clone()],
            None => self.state.providers.all().to_vec(),
        };
        let wanted = service.clone();
        let single = members.len() == 1;
        let answers = self
            .ask_all(members, |b| {
                let s = wanted.clone();
                Box::pin(async move { b.service_availability(&s).await })
            })
            .await;
        let mut countries = Vec::new();
        let mut errors = Vec::new();
        for (m, answer) in answers {
            match answer {
                Ok(rows) => countries.extend(rows.into_iter().map(|price| Availability {
                    price_usd: usd_if_foreign(&m, price.price),
                    provider: m.name().to_owned(),
                    currency: m.currency().to_owned(),
                    price,
                })),
                // With one provider, its error is the answer.
                Err(e) if single => return Err(e).at(&m),
                Err(e) => errors.push(ProviderError {
                    provider: m.name().to_owned(),
                    error: e.to_string(),
                }),
            }
        }
        if args.in_stock_only {
            countries.retain(|c| c.price.stock > 0);
        }
        let usd = |a: &Availability| {
            a.price_usd
                .or((a.currency == "USD").then_some(a.price.price))
        };
        countries.sort_by(|a, b| by_usd(usd(a), usd(b)));
        let total = countries.len();
        countries.truncate(limit as usize);
        Ok(Json(ServiceAvailability {
            service,
            total,
            countries,
            errors,
        }))
    }
}

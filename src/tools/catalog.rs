//! Discovery tools — list_services, list_countries, find_cheapest, country_pricing,
//! service_availability. They work without an API key. The two catalogs are cached and
//! filtered and paged here, because the live service list has 2,500+ entries: far too many to
//! hand a model at once.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{in_range, opt_slug, slug, ToolError, VirtualSmsServer};
use crate::domain::{Country, CountryPrice, Offer, Service, ServicePrice};

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
    /// Page size, 1–500.
    #[serde(default = "default_services_limit")]
    pub limit: u32,
    /// How many matches to skip (for the next page).
    #[serde(default)]
    pub offset: u32,
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
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CountryPricing {
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
    /// At most this many countries, cheapest first (1–500).
    #[serde(default = "default_availability_limit")]
    pub limit: u32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ServiceAvailability {
    pub service: String,
    /// Countries that matched, before `limit`.
    pub total: usize,
    /// Cheapest first.
    pub countries: Vec<CountryPrice>,
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

#[tool_router(router = catalog_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// Search the services numbers can be bought for (2,500+: filter with `query`, page with
    /// `limit`/`offset`). Use the `id` as `service` in other tools.
    #[tool(annotations(title = "List services", read_only_hint = true, open_world_hint = true))]
    pub async fn list_services(
        &self,
        Parameters(args): Parameters<ListServicesArgs>,
    ) -> Result<Json<ServicesPage>, ToolError> {
        let limit = in_range("limit", args.limit, 1, 500)?;
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
        let all = self.state.backend.list_services().await?;
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
            "This provider's catalog has no categories, so a category filter matches nothing;              search with `query` instead."
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
        let all = self.state.backend.list_countries().await?;
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
    ) -> Result<Json<Offer>, ToolError> {
        let service = slug("service", &args.service)?;
        let country = opt_slug("country", args.country.as_deref())?;
        Ok(Json(
            self.state
                .backend
                .find_cheapest(&service, country.as_deref())
                .await?,
        ))
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
        let listing = self
            .state
            .backend
            .country_pricing(&country, service.as_deref(), args.rental)
            .await?;
        Ok(Json(CountryPricing {
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
        let limit = in_range("limit", args.limit, 1, 500)?;
        let mut countries = self.state.backend.service_availability(&service).await?;
        if args.in_stock_only {
            countries.retain(|c| c.stock > 0);
        }
        countries.sort_by(|a, b| a.price.total_cmp(&b.price));
        let total = countries.len();
        countries.truncate(limit as usize);
        Ok(Json(ServiceAvailability {
            service,
            total,
            countries,
        }))
    }
}

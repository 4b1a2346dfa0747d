//! Order tools — create_order, get_order, list_orders, swap_order, cancel_order, confirm_order,
//! extend_rental, release_rental. The two that spend money (create_order, extend_rental) check
//! the price against the spending guard first, and settle what was actually charged after.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{in_range, opt_slug, order_id, slug, ToolError, VirtualSmsServer};
use crate::api::model::{NewOrder, Order, Page};
use crate::api::orders::OrderAction;
use crate::api::ApiError;

/// The longest rental the tools accept, in hours (30 days).
pub(crate) const MAX_RENTAL_HOURS: u32 = 720;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct CreateOrderArgs {
    /// Service slug, e.g. "telegram" (see list_services).
    pub service: String,
    /// Country ISO code, e.g. "us" (see find_cheapest or list_countries).
    pub country: String,
    /// Rent the number for this many hours (1–720) instead of a one-time activation.
    pub rental_hours: Option<u32>,
    /// Refuse (buy nothing) if the current price in USD is above this.
    pub max_price: Option<f64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct OrderIdArgs {
    /// The order id from create_order or list_orders, e.g. "ord_a1b2c3d4".
    pub order_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListOrdersArgs {
    /// Only orders in this state: waiting, received, confirmed, cancelled, expired, released.
    pub status: Option<String>,
    /// Page size, 1–100.
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// How many orders to skip (newest first).
    #[serde(default)]
    pub offset: u32,
}

fn default_limit() -> u32 {
    20
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ExtendRentalArgs {
    /// The rental's order id.
    pub order_id: String,
    /// Hours to add (1–720).
    pub hours: u32,
}

/// An order after an action, with what to do next.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OrderResult {
    #[serde(flatten)]
    pub order: Order,
    /// What to do now.
    pub next_step: String,
    /// USD left of this server's spending budget (VIRTUALSMS_SPEND_LIMIT), when one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_left: Option<f64>,
}

impl VirtualSmsServer {
    fn order_result(&self, order: Order, next_step: impl Into<String>) -> Json<OrderResult> {
        Json(OrderResult {
            order,
            next_step: next_step.into(),
            budget_left: self.state.budget.left(),
        })
    }

    /// The price an order would cost now: the cheapest offer in that country, or for a rental
    /// the smallest rental option that covers `rental_hours`.
    pub(crate) async fn quote(
        &self,
        service: &str,
        country: &str,
        rental_hours: Option<u32>,
    ) -> Result<f64, ToolError> {
        let client = &self.state.client;
        let Some(hours) = rental_hours else {
            return Ok(client.find_cheapest(service, Some(country)).await?.price);
        };
        let prices = client.country_pricing(country, true).await?;
        prices
            .iter()
            .filter(|p| p.service.eq_ignore_ascii_case(service))
            .flat_map(|p| p.rental_options.iter().flatten())
            .filter(|o| o.hours >= hours)
            .min_by_key(|o| o.hours)
            .map(|o| o.price)
            .ok_or_else(|| {
                ToolError::Refused(format!(
                    "no rental of {hours} h or more for {service} in {country} is listed \
                     (country_pricing with rental: true shows the options), so its price cannot \
                     be checked against the spending limits."
                ))
            })
    }

    async fn lifecycle(&self, args: OrderIdArgs, action: OrderAction) -> Result<Order, ToolError> {
        let id = order_id(&args.order_id)?;
        Ok(self.state.client.order_action(&id, action).await?)
    }
}

#[tool_router(router = orders_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// Buy a number for a service in a country (CHARGES YOUR BALANCE). Returns the order_id
    /// and phone_number; then call wait_for_sms. Set max_price to refuse a higher price.
    #[tool(annotations(
        title = "Buy a number (charges balance)",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    pub async fn create_order(
        &self,
        Parameters(args): Parameters<CreateOrderArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let service = slug("service", &args.service)?;
        let country = slug("country", &args.country)?;
        let rental_hours = args
            .rental_hours
            .map(|h| in_range("rental_hours", h, 1, MAX_RENTAL_HOURS))
            .transpose()?;
        if let Some(max) = args.max_price {
            if !max.is_finite() || max < 0.0 {
                return Err(ToolError::invalid(
                    "max_price",
                    format!("must be an amount in USD of 0 or more (got {max})"),
                ));
            }
        }
        let budget = &self.state.budget;
        // Set when VIRTUALSMS_CONFIRM_ABOVE applies: the most this call may pay (../confirm.rs).
        let confirmed = super::confirm::ceiling();
        let reservation = if budget.limits_price(args.max_price) || confirmed.is_some() {
            let quote = self.quote(&service, &country, rental_hours).await?;
            super::confirm::check(quote, confirmed)?;
            Some((quote, budget.reserve(quote, args.max_price)?))
        } else {
            None
        };
        let request = NewOrder {
            service: &service,
            country: &country,
            rental_hours,
        };
        let order = match self.state.client.create_order(&request).await {
            Ok(order) => order,
            Err(
                e @ ApiError::Transport {
                    outcome_unknown: true,
                    ..
                },
            ) => {
                // It may have been charged: keep it counted against the budget.
                if let Some((_, r)) = reservation {
                    r.keep();
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        if let Some((quote, reservation)) = reservation {
            let charged = order.price.unwrap_or(quote);
            // The price moved between the quote and the order: undo it (a full refund), rather
            // than keep a purchase the caller's limits forbid.
            if let Err(refusal) = budget
                .check_price(charged, args.max_price)
                .and_then(|()| super::confirm::check(charged, confirmed))
            {
                drop(reservation);
                let undo = self
                    .state
                    .client
                    .order_action(&order.order_id, OrderAction::Cancel)
                    .await;
                return Err(match undo {
                    Ok(_) => ToolError::Refused(format!(
                        "the price rose to ${charged:.2} while ordering; order {} was cancelled \
                         and refunded. {}",
                        order.order_id,
                        refusal.for_model()
                    )),
                    Err(e) => ToolError::Refused(format!(
                        "the price rose to ${charged:.2} while ordering, and cancelling order {} \
                         failed ({e}). Call cancel_order on it for a full refund.",
                        order.order_id
                    )),
                });
            }
            reservation.settle(charged);
        }
        let next = format!(
            "Enter {} on the site that sends the code, then call wait_for_sms with order_id \"{}\". \
             No SMS after a few minutes? swap_order gives a new number for free; cancel_order \
             refunds in full before an SMS arrives.",
            order.phone_number.as_deref().unwrap_or("the phone number"),
            order.order_id
        );
        Ok(self.order_result(order, next))
    }

    /// Current state of an order: status, phone number, expiry, any SMS and code received.
    #[tool(annotations(title = "Get an order", read_only_hint = true, open_world_hint = true))]
    pub async fn get_order(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<Order>, ToolError> {
        let id = order_id(&args.order_id)?;
        Ok(Json(self.state.client.get_order(&id).await?))
    }

    /// Your orders, newest first, optionally only those in one state.
    #[tool(annotations(title = "List orders", read_only_hint = true, open_world_hint = true))]
    pub async fn list_orders(
        &self,
        Parameters(args): Parameters<ListOrdersArgs>,
    ) -> Result<Json<Page<Order>>, ToolError> {
        let limit = in_range("limit", args.limit, 1, 100)?;
        let status = opt_slug("status", args.status.as_deref())?;
        Ok(Json(
            self.state
                .client
                .list_orders(status.as_deref(), Some(limit), Some(args.offset))
                .await?,
        ))
    }

    /// Replace the order's number with a new one, free of charge (before an SMS arrives).
    #[tool(annotations(
        title = "Swap the number (free)",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    pub async fn swap_order(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let order = self.lifecycle(args, OrderAction::Swap).await?;
        let next = format!(
            "Enter the new number {} on the site, then call wait_for_sms again.",
            order.phone_number.as_deref().unwrap_or("")
        );
        Ok(self.order_result(order, next))
    }

    /// Cancel an order before an SMS arrives; the full price is refunded.
    #[tool(annotations(
        title = "Cancel and refund",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    pub async fn cancel_order(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let order = self.lifecycle(args, OrderAction::Cancel).await?;
        let next = match order.refunded {
            Some(r) => format!("Cancelled; ${r:.2} went back to the balance."),
            None => "Cancelled; the price went back to the balance.".to_owned(),
        };
        Ok(self.order_result(order, next))
    }

    /// Confirm the code worked: finalizes the order and its charge.
    #[tool(annotations(
        title = "Confirm the order",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    pub async fn confirm_order(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let order = self.lifecycle(args, OrderAction::Confirm).await?;
        Ok(self.order_result(order, "Done: the order is confirmed and final."))
    }

    /// Keep a rented number longer (CHARGES YOUR BALANCE for the extra hours).
    #[tool(annotations(
        title = "Extend a rental (charges balance)",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    pub async fn extend_rental(
        &self,
        Parameters(args): Parameters<ExtendRentalArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let id = order_id(&args.order_id)?;
        let hours = in_range("hours", args.hours, 1, MAX_RENTAL_HOURS)?;
        let budget = &self.state.budget;
        let confirmed = super::confirm::ceiling();
        let reservation = if budget.limits_price(None) || confirmed.is_some() {
            let rental = self.state.client.get_order(&id).await?;
            let (Some(service), Some(country)) = (rental.service, rental.country) else {
                return Err(ToolError::Refused(format!(
                    "order {id} does not say its service and country, so the extension's price \
                     cannot be checked against the spending limits."
                )));
            };
            let quote = self.quote(&service, &country, Some(hours)).await?;
            super::confirm::check(quote, confirmed)?;
            Some((quote, budget.reserve(quote, None)?))
        } else {
            None
        };
        let order = match self.state.client.extend_rental(&id, hours).await {
            Ok(order) => order,
            Err(e) => {
                if let (
                    ApiError::Transport {
                        outcome_unknown: true,
                        ..
                    },
                    Some((_, r)),
                ) = (&e, reservation)
                {
                    r.keep();
                }
                return Err(e.into());
            }
        };
        if let Some((quote, r)) = reservation {
            r.settle(order.price.unwrap_or(quote));
        }
        let next = format!(
            "Extended by {hours} h{}.",
            order
                .expires_at
                .as_deref()
                .map(|t| format!("; it now expires at {t}"))
                .unwrap_or_default()
        );
        Ok(self.order_result(order, next))
    }

    /// End a rental early; the number is given up (no refund).
    #[tool(annotations(
        title = "Release a rental",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    pub async fn release_rental(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<OrderResult>, ToolError> {
        let order = self.lifecycle(args, OrderAction::Release).await?;
        Ok(self.order_result(order, "Released: the number is no longer yours."))
    }
}

//! Order tools — create_order, get_order, list_orders, swap_order, cancel_order, confirm_order,
//! extend_rental, release_rental. The two that spend money (create_order, extend_rental) check
//! the price against the spending guard first, and settle what was actually charged after.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::future::Future;

use super::guard::Reservation;
use super::{in_range, opt_slug, order_id, public_order, slug, At, ToolError, VirtualSmsServer};
use crate::backends::{ApiError, ErrorKind};
use crate::domain::{NewOrder, Order, Page};
use crate::providers::Member;

/// The longest rental the tools accept, in hours (30 days).
pub(crate) const MAX_RENTAL_HOURS: u32 = 720;
/// The largest `limit` of list_orders.
const ORDERS_PAGE_MAX: u32 = 100;

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct CreateOrderArgs {
    /// Service slug, e.g. "telegram" (see list_services).
    pub service: String,
    /// Country ISO code, e.g. "us" (see find_cheapest or list_countries).
    pub country: String,
    /// Rent the number for this many hours instead of a one-time activation.
    #[schemars(range(min = 1, max = MAX_RENTAL_HOURS))]
    pub rental_hours: Option<u32>,
    /// Refuse (buy nothing) if the current price in USD is above this.
    pub max_price: Option<f64>,
    /// Buy from this provider (e.g. `smscode`); default: where find_cheapest points.
    pub provider: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct OrderIdArgs {
    /// The order_id from create_order or list_orders.
    pub order_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListOrdersArgs {
    /// Only orders in this state: waiting, received, confirmed, cancelled, expired, released.
    pub status: Option<String>,
    /// Page size.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = ORDERS_PAGE_MAX))]
    pub limit: u32,
    /// How many orders to skip (newest first).
    #[serde(default)]
    pub offset: u32,
    /// Only this provider (e.g. `smscode`); default: all.
    pub provider: Option<String>,
}

fn default_limit() -> u32 {
    20
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ExtendRentalArgs {
    /// The rental's order id.
    pub order_id: String,
    /// Hours to add.
    #[schemars(range(min = 1, max = MAX_RENTAL_HOURS))]
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

/// A purchase made under the spending guard, its reservation not yet settled.
struct Purchase {
    order: Order,
    /// Who sold it (prices are in its currency; the guard counts USD).
    member: Member,
    /// The USD price checked against the guard, and its reservation (when a rule limits prices).
    reserved: Option<(f64, Reservation)>,
}

impl Purchase {
    /// What was charged, in USD: the answer's price, else the quote.
    fn charged_usd(&self) -> Option<f64> {
        let (quote, _) = self.reserved.as_ref()?;
        Some(
            self.order
                .price
                .and_then(|p| self.member.to_usd(p))
                .unwrap_or(*quote),
        )
    }

    /// Counts what was charged against the budget; the order as the tools show it.
    fn settle(self) -> Order {
        let charged = self.charged_usd();
        if let (Some((_, reservation)), Some(charged)) = (self.reserved, charged) {
            reservation.settle(charged);
        }
        public_order(&self.member, self.order)
    }
}

impl VirtualSmsServer {
    fn order_result(&self, order: Order, next_step: impl Into<String>) -> Json<OrderResult> {
        Json(OrderResult {
            order,
            next_step: next_step.into(),
            budget_left: self.state.budget.left(),
        })
    }

    /// Spends under the guard: when any rule limits the price, `quote` first and reserve it
    /// (refusing before any request when it breaks a rule), then `buy`. The reservation is
    /// released when `buy` surely failed and kept when its outcome is unknown (it may have
    /// been charged).
    /// Prices are in `member`'s currency; the limits are USD, so a provider without a USD rate
    /// is refused before any request when a limit applies.
    async fn guarded_buy(
        &self,
        member: &Member,
        max_price: Option<f64>,
        quote: impl Future<Output = Result<f64, ApiError>>,
        buy: impl Future<Output = Result<Order, ApiError>>,
    ) -> Result<Purchase, ToolError> {
        let budget = &self.state.budget;
        // Set when VIRTUALSMS_CONFIRM_ABOVE applies: the most this call may pay (confirm.rs).
        let confirmed = super::confirm::ceiling();
        let reserved = if budget.limits_price(max_price) || confirmed.is_some() {
            if member.currency() != "USD" {
                member.require_usd(0.0)?;
            }
            let quote = member.require_usd(quote.await?)?;
            super::confirm::check(quote, confirmed)?;
            Some((quote, budget.reserve(quote, max_price)?))
        } else {
            None
        };
        match buy.await {
            Ok(order) => Ok(Purchase {
                order,
                member: member.clone(),
                reserved,
            }),
            Err(e) => {
                if e.kind() == ErrorKind::OutcomeUnknown {
                    if let Some((_, reservation)) = reserved {
                        reservation.keep();
                    }
                }
                Err(e).at(member)
            }
        }
    }

    /// The price moved above a ceiling between the quote and the order: undo it (a full
    /// refund) rather than keep a purchase the caller's limits forbid.
    async fn undo_overpriced(
        &self,
        member: &Member,
        order: &Order,
        charged: f64,
        refusal: ToolError,
    ) -> ToolError {
        match member.backend.cancel_order(&order.order_id).await {
            Ok(_) => ToolError::Refused(format!(
                "the price rose to ${charged:.2} while ordering; order {} was cancelled and \
                 refunded. {}",
                order.order_id,
                refusal.for_model()
            )),
            Err(e) => ToolError::Refused(format!(
                "the price rose to ${charged:.2} while ordering, and cancelling order {} failed \
                 ({e}). Call cancel_order on it for a full refund.",
                order.order_id
            )),
        }
    }

    /// Where to buy: the named provider, else (with several) where find_cheapest points, and
    /// what to tell the model about that choice.
    pub(crate) async fn seller(
        &self,
        service: &str,
        country: &str,
        rental: bool,
        provider: Option<&str>,
    ) -> Result<(Member, Option<String>), ToolError> {
        let providers = &self.state.providers;
        if provider.is_some() || !providers.is_multi() {
            return Ok((providers.pick(provider)?.clone(), None));
        }
        if rental {
            // Only providers that rent can sell a rental: the first of them.
            let m = providers
                .all()
                .iter()
                .find(|m| m.backend.capabilities().rentals)
                .unwrap_or(providers.default_member());
            return Ok((m.clone(), None));
        }
        let best = self.cheapest_everywhere(service, Some(country)).await?;
        let m = providers.named(&best.provider)?.clone();
        let others: Vec<String> = best
            .offers
            .iter()
            .filter(|o| o.provider != best.provider)
            .map(|o| match (o.price, &o.error) {
                (Some(p), _) => format!("{} {p} {}", o.provider, o.currency),
                (None, Some(e)) => format!("{}: {e}", o.provider),
                (None, None) => format!("{}: no offer", o.provider),
            })
            .collect();
        let note = format!(
            "Bought from {} (the cheapest in USD for {service} in {country}; others: {}).",
            best.provider,
            if others.is_empty() {
                "none".to_owned()
            } else {
                others.join(", ")
            }
        );
        Ok((m, Some(note)))
    }

    /// list_orders across every provider: each asked for the first `offset + limit`, merged
    /// newest first. A provider that fails is skipped (logged) unless it is the default one.
    async fn orders_everywhere(
        &self,
        status: Option<String>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>, ToolError> {
        let want = offset.saturating_add(limit).min(100);
        let everyone = self.state.providers.all().to_vec();
        let answers = self
            .ask_all(everyone, |b| {
                let status = status.clone();
                Box::pin(async move { b.list_orders(status.as_deref(), want, 0).await })
            })
            .await;
        let default = self.state.providers.default_member().name();
        let mut all = Vec::new();
        let mut more = false;
        for (m, answer) in answers {
            match answer {
                Ok(page) => {
                    more |= page.has_more.unwrap_or(false);
                    all.extend(page.data.into_iter().map(|o| public_order(&m, o)));
                }
                Err(e) if m.name() == default => return Err(e.into()),
                Err(e) => tracing::warn!(provider = m.name(), error = %e, "orders not listed"),
            }
        }
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let matched = all.len();
        let data: Vec<Order> = all
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok(Page {
            has_more: Some(more || matched > offset as usize + data.len()),
            data,
            limit: Some(limit),
            offset: Some(offset),
            total: None,
        })
    }

    /// What to tell the model after a purchase.
    fn after_purchase(&self, member: &Member, order: &Order) -> String {
        let mut next = format!(
            "Enter {} on the site that sends the code, then call wait_for_sms with order_id \"{}\".",
            order.phone_number.as_deref().unwrap_or("the phone number"),
            order.order_id
        );
        match member.backend.capabilities().cancel_cooldown {
            Some(wait) if order.rental_hours.is_none() => next.push_str(&format!(
                " No SMS after a few minutes? From {} s after the purchase, swap_order gives a \
                 new number for free and cancel_order refunds in full (before an SMS arrives).",
                wait.as_secs()
            )),
            _ => next.push_str(
                " No SMS after a few minutes? swap_order gives a new number for free; \
                 cancel_order refunds in full before an SMS arrives.",
            ),
        }
        next
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
        let request = NewOrder {
            service: &service,
            country: &country,
            rental_hours,
        };
        let (member, choice) = self
            .seller(
                &service,
                &country,
                rental_hours.is_some(),
                args.provider.as_deref(),
            )
            .await?;
        let backend = &member.backend;
        let purchase = self
            .guarded_buy(
                &member,
                args.max_price,
                backend.quote(&request),
                backend.create_order(&request),
            )
            .await?;
        if let Some(charged) = purchase.charged_usd() {
            let allowed = self
                .state
                .budget
                .check_price(charged, args.max_price)
                .and_then(|()| super::confirm::check(charged, super::confirm::ceiling()));
            if let Err(refusal) = allowed {
                // Released, not settled: the undo refunds it.
                let Purchase { order, member, .. } = purchase;
                return Err(self
                    .undo_overpriced(&member, &order, charged, refusal)
                    .await);
            }
        }
        let order = purchase.settle();
        let mut next = self.after_purchase(&member, &order);
        if let Some(choice) = choice {
            next = format!("{choice} {next}");
        }
        Ok(self.order_result(order, next))
    }

    /// Current state of an order: status, phone number, expiry, any SMS and code received.
    #[tool(annotations(title = "Get an order", read_only_hint = true, open_world_hint = true))]
    pub async fn get_order(
        &self,
        Parameters(args): Parameters<OrderIdArgs>,
    ) -> Result<Json<Order>, ToolError> {
        let id = order_id(&args.order_id)?;
        let (m, raw) = self.route(&id);
        Ok(Json(public_order(m, m.backend.get_order(raw).await.at(m)?)))
    }

    /// Your orders, newest first, optionally only those in one state.
    #[tool(annotations(title = "List orders", read_only_hint = true, open_world_hint = true))]
    pub async fn list_orders(
        &self,
        Parameters(args): Parameters<ListOrdersArgs>,
    ) -> Result<Json<Page<Order>>, ToolError> {
        let limit = in_range("limit", args.limit, 1, ORDERS_PAGE_MAX)?;
        let status = opt_slug("status", args.status.as_deref())?;
        let providers = &self.state.providers;
        if args.provider.is_some() || !providers.is_multi() {
            let m = providers.pick(args.provider.as_deref())?;
            let mut page = m
                .backend
                .list_orders(status.as_deref(), limit, args.offset)
                .await?;
            page.data = page.data.into_iter().map(|o| public_order(m, o)).collect();
            return Ok(Json(page));
        }
        Ok(Json(
            self.orders_everywhere(status, limit, args.offset).await?,
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
        let id = order_id(&args.order_id)?;
        let (m, raw) = self.route(&id);
        let order = public_order(m, m.backend.swap_order(raw).await.at(m)?);
        let mut next = format!(
            "Enter the new number {} on the site, then call wait_for_sms",
            order.phone_number.as_deref().unwrap_or("")
        );
        if order.order_id == id {
            next.push_str(" again.");
        } else {
            next.push_str(&format!(
                " with the NEW order_id \"{}\" (the swap replaced order {id}; use the new id \
                 from now on).",
                order.order_id
            ));
        }
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
        let id = order_id(&args.order_id)?;
        let (m, raw) = self.route(&id);
        let order = public_order(m, m.backend.cancel_order(raw).await.at(m)?);
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
        let id = order_id(&args.order_id)?;
        let (m, raw) = self.route(&id);
        let order = public_order(m, m.backend.confirm_order(raw).await.at(m)?);
        let next = if m.backend.capabilities().confirm {
            "Done: the order is confirmed and final.".to_owned()
        } else {
            format!(
                "Nothing to confirm: {} finalizes orders on its own when the SMS arrives; no \
                 charge was made by this call. Cancelling is no longer possible after an SMS.",
                m.backend.name()
            )
        };
        Ok(self.order_result(order, next))
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
        let (m, raw) = self.route(&id);
        let order = self
            .guarded_buy(
                m,
                None,
                m.backend.quote_extension(raw, hours),
                m.backend.extend_rental(raw, hours),
            )
            .await?
            .settle();
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
        let id = order_id(&args.order_id)?;
        let (m, raw) = self.route(&id);
        let order = public_order(m, m.backend.release_rental(raw).await.at(m)?);
        let next = match order.refunded {
            Some(r) if r > 0.0 => format!("Released; ${r:.2} went back to the balance."),
            _ => "Released: the number is no longer yours.".to_owned(),
        };
        Ok(self.order_result(order, next))
    }
}

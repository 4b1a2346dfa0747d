//! The SMSCode dialect over HTTP (`../shared/api/smscode.md`): the `{success, data}` envelope on
//! every answer, business errors with HTTP 200, two products per pair at different prices in
//! whole rupiah, an order answer without a price, the code without the text, refunds on cancel
//! before the code and on expiry, none on cancel after it, and the shared log, faults and limiter.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{quiet_options, start, Env, Reply, KEY};
use crate::sandbox::smscode::{product_id, standard_capacity, Tier, IDR_PER_USD};
use crate::sandbox::{catalog, FakeOptions, Fault};

const IDR_PER_CENT: i64 = IDR_PER_USD / 100;

impl Env {
    async fn sc(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.handle.smscode_base_url()));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn sc_get(&self, path: &str) -> Reply {
        self.sc(Method::GET, path, Some(KEY), None).await
    }

    /// The data of a successful answer.
    async fn sc_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = self.sc(method, path, Some(KEY), body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["success"], true, "{}", r.body);
        r.body["data"].clone()
    }

    async fn sc_balance(&self) -> i64 {
        self.sc_ok(Method::GET, "/balance", None).await["balance"]
            .as_i64()
            .expect("whole rupiah")
    }

    async fn sc_products(&self, query: &str) -> Vec<Value> {
        let data = self
            .sc_ok(Method::GET, &format!("/catalog/products?{query}"), None)
            .await;
        data.as_array().expect("a list").clone()
    }

    async fn sc_buy(&self, product: u64) -> Reply {
        self.sc(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(json!({ "product_id": product })),
        )
        .await
    }
}

/// A failure's envelope: `success: false` and this code, at this HTTP status.
fn assert_failure(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["success"], false, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn two_products_per_pair_in_rupiah_cheapest_standard() {
    let env = start(quiet_options()).await;
    let rows = env
        .sc_products("country=united-states&platform=telegram")
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let price = |r: &Value| r["price"].as_i64().unwrap();
    let base = catalog::price_cents("telegram", "us") * IDR_PER_CENT;
    assert_eq!(
        price(&rows[0]),
        base,
        "standard at the catalog price, in IDR"
    );
    assert!(price(&rows[1]) > base, "premium dearer");
    assert!(rows
        .iter()
        .all(|r| price(r) % IDR_PER_CENT == 0 && r["country"] == "united-states"));
    let stock: u64 = rows
        .iter()
        .map(|r| r["available_count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        stock,
        u64::from(catalog::initial_stock("telegram", "us")),
        "one shared stock"
    );
    assert_eq!(
        rows[0]["id"].as_u64(),
        product_id("telegram", "us", Tier::Standard)
    );
    // Japan is sold out; slugs are English names; no filter lists everything.
    let japan = env.sc_products("country=japan").await;
    assert!(!japan.is_empty() && japan.iter().all(|r| r["available_count"] == 0));
    let all = env.sc_products("").await;
    assert_eq!(
        all.len(),
        2 * catalog::SERVICES.len() * catalog::COUNTRIES.len()
    );
    assert!(all.iter().any(|r| r["country"] == "united-kingdom"));
    let countries = env.sc_ok(Method::GET, "/catalog/countries", None).await;
    assert!(countries
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["slug"] == "indonesia" && c["name"] == "Indonesia"));
}

#[tokio::test]
async fn an_order_has_no_price_and_shows_only_the_code() {
    let env = start(quiet_options()).await;
    let start_idr = env.sc_balance().await;
    assert_eq!(start_idr, 1000 * IDR_PER_CENT, "$10.00 at 16000 IDR/USD");
    let product = product_id("telegram", "us", Tier::Standard).unwrap();
    let r = env.sc_buy(product).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let order = &r.body["data"];
    assert_eq!(order["status"], "WAITING");
    assert!(order["phone_number"].as_str().unwrap().starts_with('+'));
    assert!(
        order.get("price").is_none(),
        "the order answer carries no price: {order}"
    );
    let id = order["order_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ord_"));
    let price = catalog::price_cents("telegram", "us") * IDR_PER_CENT;
    assert_eq!(env.sc_balance().await, start_idr - price);
    assert_eq!(env.api.charge_count(), 1);

    let read = env.sc_ok(Method::GET, &format!("/orders/{id}"), None).await;
    assert_eq!(
        (read["status"].clone(), read["otp_code"].clone()),
        (json!("WAITING"), Value::Null)
    );
    assert_eq!(read["product_id"], product);
    env.api
        .deliver_sms(&id, Some("Your Telegram code: 48291"))
        .unwrap();
    let read = env.sc_ok(Method::GET, &format!("/orders/{id}"), None).await;
    assert_eq!(read["status"], "OTP_RECEIVED");
    assert_eq!(read["otp_code"], "48291");
    assert!(
        !read.to_string().contains("Your Telegram code"),
        "no SMS text: {read}"
    );
    let done = env
        .sc_ok(Method::POST, &format!("/orders/{id}/complete"), None)
        .await;
    assert_eq!(done["status"], "COMPLETED");
    let listed = env.sc_ok(Method::GET, "/orders", None).await;
    assert_eq!(listed[0]["order_id"], id.as_str());
    assert_eq!(
        env.sc_balance().await,
        start_idr - price,
        "completing charges nothing"
    );
}

#[tokio::test]
async fn business_errors_come_with_http_200() {
    let env = start(FakeOptions {
        starting_balance_cents: 1,
        ..quiet_options()
    })
    .await;
    let sold_out = product_id("telegram", "jp", Tier::Standard).unwrap();
    assert_failure(
        &env.sc_buy(sold_out).await,
        StatusCode::OK,
        "PRODUCT_UNAVAILABLE",
    );
    let us = product_id("telegram", "us", Tier::Standard).unwrap();
    assert_failure(
        &env.sc_buy(us).await,
        StatusCode::OK,
        "INSUFFICIENT_BALANCE",
    );
    assert_eq!((env.api.order_count(), env.api.charge_count()), (0, 0));

    let bad = env
        .sc(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(json!({"product": 1})),
        )
        .await;
    assert_failure(&bad, StatusCode::BAD_REQUEST, "INVALID_PARAMETERS");
    assert_failure(
        &env.sc_get("/orders/ord_nope").await,
        StatusCode::NOT_FOUND,
        "ORDER_NOT_FOUND",
    );
    assert_failure(
        &env.sc(Method::GET, "/balance", None, None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_failure(
        &env.sc_get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

#[tokio::test]
async fn cancel_refunds_before_the_code_only_and_expiry_refunds() {
    let env = start(quiet_options()).await;
    let start_idr = env.sc_balance().await;
    let product = product_id("whatsapp", "gb", Tier::Standard).unwrap();

    let first = env.sc_buy_id(product).await;
    let cancelled = env
        .sc_ok(Method::POST, &format!("/orders/{first}/cancel"), None)
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(
        env.sc_balance().await,
        start_idr,
        "full refund before the code"
    );
    let again = env
        .sc(
            Method::POST,
            &format!("/orders/{first}/cancel"),
            Some(KEY),
            None,
        )
        .await;
    assert_failure(&again, StatusCode::CONFLICT, "INVALID_STATE");

    let second = env.sc_buy_id(product).await;
    env.api.deliver_sms(&second, Some("code 123456")).unwrap();
    let after_code = env.balance_after_cancel(&second).await;
    let price = catalog::price_cents("whatsapp", "gb") * IDR_PER_CENT;
    assert_eq!(after_code, start_idr - price, "nothing back after the code");

    let third = env.sc_buy_id(product).await;
    env.api.expire_order(&third).unwrap();
    let read = env
        .sc_ok(Method::GET, &format!("/orders/{third}"), None)
        .await;
    assert_eq!(read["status"], "EXPIRED");
    assert_eq!(
        env.sc_balance().await,
        start_idr - price,
        "expiry refunded, once"
    );
    assert_eq!(env.sc_balance().await, start_idr - price);
}

impl Env {
    async fn sc_buy_id(&self, product: u64) -> String {
        let r = self.sc_buy(product).await;
        r.body["data"]["order_id"]
            .as_str()
            .expect("bought")
            .to_owned()
    }

    async fn balance_after_cancel(&self, id: &str) -> i64 {
        let r = self
            .sc_ok(Method::POST, &format!("/orders/{id}/cancel"), None)
            .await;
        assert_eq!(r["status"], "CANCELLED");
        self.sc_balance().await
    }
}

#[tokio::test]
async fn the_standard_product_sells_out_before_the_premium_one() {
    let env = start(quiet_options()).await;
    // A pair whose standard product holds one or two numbers.
    let (service, country) = catalog::SERVICES
        .iter()
        .flat_map(|s| catalog::COUNTRIES.iter().map(move |c| (s.id, c.iso2)))
        .find(|(s, c)| (1..=2).contains(&standard_capacity(s, c)))
        .expect("a small standard product");
    let standard = product_id(service, country, Tier::Standard).unwrap();
    let premium = product_id(service, country, Tier::Premium).unwrap();
    for _ in 0..standard_capacity(service, country) {
        assert_eq!(env.sc_buy(standard).await.body["success"], true);
    }
    assert_failure(
        &env.sc_buy(standard).await,
        StatusCode::OK,
        "PRODUCT_UNAVAILABLE",
    );
    assert_eq!(env.sc_buy(premium).await.body["success"], true);
}

#[tokio::test]
async fn faults_rate_limits_and_the_log_are_shared() {
    let env = start(quiet_options()).await;
    env.api.inject(
        Fault::Problem {
            status: 200,
            slug: "product-unavailable".into(),
            retry_after: None,
        },
        1,
    );
    let product = product_id("telegram", "us", Tier::Standard).unwrap();
    assert_failure(
        &env.sc_buy(product).await,
        StatusCode::OK,
        "PRODUCT_UNAVAILABLE",
    );
    assert_eq!(
        env.api.order_count(),
        0,
        "an injected answer processes nothing"
    );
    let logged = env.api.requests();
    assert_eq!(
        logged.last().map(|r| r.path.as_str()),
        Some("/smscode/v1/orders")
    );
    assert_eq!(
        logged.last().and_then(|r| r.header("authorization")),
        Some(format!("Bearer {KEY}").as_str())
    );

    env.api.set_rate_limit(1);
    assert_eq!(env.sc_get("/balance").await.status, StatusCode::OK);
    let limited = env.sc_get("/balance").await;
    assert_failure(&limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
}

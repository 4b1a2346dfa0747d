//! The five discovery tools: each makes its one REST call (method, path, query, bearer header),
//! filters and pages the catalog for the model, caches the big catalogs, and normalises slugs.

use crate::common::{assert_call, query_pairs, Harness};
use serde_json::json;

#[tokio::test]
async fn list_services_filters_pages_and_caches_the_catalog() {
    let h = Harness::start().await;
    let all = h.ok("list_services", json!({"limit": 500})).await;
    let total = all["total"].as_u64().unwrap();
    assert!(total >= 40, "a realistic catalog: {total}");
    assert_call(&h.last_request(), "GET", "/services");

    let tele = h.ok("list_services", json!({"query": "TELE"})).await;
    let ids: Vec<&str> = tele["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"telegram"), "{ids:?}");
    assert!(ids
        .iter()
        .all(|id| id.contains("tele")
            || tele["services"].to_string().to_lowercase().contains("tele")));

    let page1 = h.ok("list_services", json!({"limit": 5})).await;
    let page2 = h
        .ok("list_services", json!({"limit": 5, "offset": 5}))
        .await;
    assert_eq!(page1["services"].as_array().unwrap().len(), 5);
    assert_eq!(page1["has_more"], true);
    assert_ne!(page1["services"][0], page2["services"][0]);
    assert_eq!(page2["offset"], 5);

    let last = h
        .ok("list_services", json!({"limit": 10, "offset": total - 3}))
        .await;
    assert_eq!(last["services"].as_array().unwrap().len(), 3);
    assert_eq!(last["has_more"], false);

    let messaging = h
        .ok(
            "list_services",
            json!({"category": "Messaging", "limit": 500}),
        )
        .await;
    assert!(messaging["services"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["category"] == "messaging"));
    assert!(messaging["total"].as_u64().unwrap() > 0);

    let catalog_fetches = h
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v2/services")
        .count();
    assert_eq!(catalog_fetches, 1, "the catalog is cached between calls");
}

#[tokio::test]
async fn list_services_rejects_a_limit_out_of_range_by_name() {
    let h = Harness::start().await;
    let text = h.err("list_services", json!({"limit": 501})).await;
    assert!(text.contains("limit") && text.contains("501"), "{text}");
    assert!(h.requests().is_empty(), "bad input makes no request");
}

#[tokio::test]
async fn list_countries_can_hide_countries_without_stock() {
    let h = Harness::start().await;
    let all = h.ok("list_countries", json!({})).await;
    assert_call(&h.last_request(), "GET", "/countries");
    let in_stock = h.ok("list_countries", json!({"in_stock_only": true})).await;
    assert!(all["total"].as_u64().unwrap() >= 20);
    assert!(
        in_stock["total"].as_u64() < all["total"].as_u64(),
        "some country is out of stock"
    );
    assert!(in_stock["countries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["in_stock"] == true));
    assert_eq!(h.requests().len(), 1, "cached");
}

#[tokio::test]
async fn find_cheapest_with_and_without_country() {
    let h = Harness::start().await;
    let any = h
        .ok("find_cheapest", json!({"service": "  Telegram "}))
        .await;
    let req = h.last_request();
    assert_call(&req, "GET", "/services/telegram/cheapest");
    assert!(req.query.is_none(), "{req:?}");
    assert_eq!(any["service"], "telegram");
    assert!(any["price"].as_f64().unwrap() > 0.0);

    let us = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "US"}),
        )
        .await;
    assert_eq!(query_pairs(&h.last_request()), ["country=us"]);
    assert_eq!(us["country"], "us");
    assert!(
        us["price"].as_f64() >= any["price"].as_f64(),
        "cheapest overall is not dearer than in one country"
    );
}

#[tokio::test]
async fn country_pricing_filters_by_service_and_asks_for_rentals() {
    let h = Harness::start().await;
    let all = h.ok("country_pricing", json!({"country": "us"})).await;
    let req = h.last_request();
    assert_call(&req, "GET", "/countries/us/pricing");
    assert!(req.query.is_none());
    assert!(all["total"].as_u64().unwrap() > 1);

    let one = h
        .ok(
            "country_pricing",
            json!({"country": "us", "service": "WhatsApp"}),
        )
        .await;
    assert_eq!(one["total"], 1);
    assert_eq!(one["prices"][0]["service"], "whatsapp");

    let rentals = h
        .ok("country_pricing", json!({"country": "us", "rental": true}))
        .await;
    assert_eq!(query_pairs(&h.last_request()), ["rental=true"]);
    assert_eq!(rentals["rental"], true);
    assert!(rentals["prices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["rental_options"].is_array()));
}

#[tokio::test]
async fn service_availability_is_sorted_filtered_and_limited() {
    let h = Harness::start().await;
    let all = h
        .ok(
            "service_availability",
            json!({"service": "telegram", "limit": 500}),
        )
        .await;
    assert_call(&h.last_request(), "GET", "/services/telegram/availability");
    let prices: Vec<f64> = all["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["price"].as_f64().unwrap())
        .collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "cheapest first: {prices:?}"
    );

    let three = h
        .ok(
            "service_availability",
            json!({"service": "telegram", "limit": 3, "in_stock_only": true}),
        )
        .await;
    assert_eq!(three["countries"].as_array().unwrap().len(), 3);
    assert!(three["countries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["stock"].as_u64().unwrap() > 0));
    assert!(three["total"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn unknown_service_is_an_error_naming_the_next_step() {
    let h = Harness::start().await;
    let text = h
        .err("find_cheapest", json!({"service": "no-such-service"}))
        .await;
    assert!(
        text.contains("HTTP 404") && text.contains("service-not-found"),
        "{text}"
    );
    assert!(text.contains("list_services"), "{text}");
    let text = h.err("country_pricing", json!({"country": "zz"})).await;
    assert!(
        text.contains("country-not-found") && text.contains("list_countries"),
        "{text}"
    );
    let text = h.err("find_cheapest", json!({"service": "   "})).await;
    assert!(
        text.contains("`service`") && text.contains("empty"),
        "{text}"
    );
}

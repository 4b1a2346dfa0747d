//! A person confirms spending (VIRTUALSMS_CONFIRM_ABOVE), through a real rmcp client whose
//! handler plays the person.
//!
//! Rules pinned down here:
//! - unset: nobody is asked, purchases go through;
//! - a price under the threshold is bought without asking;
//! - at or above it, the person is asked before anything is charged, with a form showing
//!   service, country and price (and hours for rentals and extensions); accepted → bought at
//!   that price;
//! - declined → nothing charged, the result says the person declined;
//! - cancelled (dismissed) → nothing charged, the result says so;
//! - a client that did not declare elicitation → refused before any request (threshold 0),
//!   naming the setting;
//! - extend_rental asks too, with the hours added;
//! - the price asked about is the most that is paid: a price that rose before the order is
//!   refused unbought; an order that was charged more is cancelled and refunded;
//! - a price under the threshold that crosses it before the order is refused, not bought;
//! - 2026-07-28 sessions (no server-to-client requests) get an input_required result instead;
//!   rmcp's client answers it through the same handler: accept buys, decline does not.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{fake_options, test_config, text_of};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, ProtocolVersion,
};
use rmcp::service::{
    serve_client_with_lifecycle, ClientLifecycleMode, RequestContext, RunningService,
};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{json, Value};
use virtualsms_mcp::app::App;
use virtualsms_mcp::config::Config;
use virtualsms_mcp::sandbox::{FakeApi, FakeHandle};

/// The person: answers every question with `action`, and records what was asked.
#[derive(Clone)]
struct Person {
    action: ElicitationAction,
    declares_elicitation: bool,
    asked: Arc<Mutex<Vec<ElicitRequestParams>>>,
}

impl Person {
    fn answering(action: ElicitationAction) -> Self {
        Self {
            action,
            declares_elicitation: true,
            asked: Arc::default(),
        }
    }

    fn unable() -> Self {
        Self {
            declares_elicitation: false,
            ..Self::answering(ElicitationAction::Accept)
        }
    }

    fn questions(&self) -> Vec<(String, Value)> {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .map(|p| match p {
                ElicitRequestParams::FormElicitationParams {
                    message,
                    requested_schema,
                    ..
                } => (
                    message.clone(),
                    serde_json::to_value(requested_schema).unwrap(),
                ),
                other => panic!("not a form: {other:?}"),
            })
            .collect()
    }
}

impl ClientHandler for Person {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        // Accept with the form's values, as a client does when the person submits it.
        let content = match &request {
            ElicitRequestParams::FormElicitationParams {
                requested_schema, ..
            } => {
                let schema = serde_json::to_value(requested_schema).unwrap();
                let values: serde_json::Map<String, Value> = schema["properties"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v["default"].clone()))
                    .collect();
                Some(Value::Object(values))
            }
            _ => None,
        };
        self.asked.lock().unwrap().push(request);
        let mut result = ElicitResult::new(self.action.clone());
        if self.action == ElicitationAction::Accept {
            result.content = content;
        }
        Ok(result)
    }

    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.declares_elicitation {
            ClientCapabilities::builder().enable_elicitation().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(
            capabilities,
            rmcp::model::Implementation::new("person", "1"),
        )
    }
}

struct Setup {
    fake: FakeApi,
    _fake_handle: FakeHandle,
    _proxy: Option<Proxy>,
    client: RunningService<RoleClient, Person>,
    person: Person,
}

/// A pass-through proxy in front of the fake that can make prices rise: quotes after the
/// first `honest_quotes` come back $1 dearer, and so can the charged price of a new order.
#[derive(Clone, Default)]
struct Tamper {
    honest_quotes: Option<usize>,
    quotes_seen: Arc<AtomicUsize>,
    dearer_charge: Arc<AtomicBool>,
}

struct Proxy {
    base_url: String,
    _task: tokio::task::JoinHandle<()>,
}

async fn proxy(upstream: SocketAddr, tamper: Tamper) -> Proxy {
    async fn forward(
        State((upstream, tamper)): State<(SocketAddr, Tamper)>,
        request: Request,
    ) -> Response {
        let (parts, body) = request.into_parts();
        let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let url = format!("http://{upstream}{}", parts.uri);
        let mut forwarded = reqwest::Client::new().request(parts.method.clone(), &url);
        for (name, value) in &parts.headers {
            if name != "host" {
                forwarded = forwarded.header(name, value);
            }
        }
        let reply = forwarded.body(body).send().await.unwrap();
        let status = reply.status();
        let mut json: Value = reply.json().await.unwrap_or(Value::Null);
        let path = parts.uri.path();
        if path.ends_with("/cheapest") {
            let n = tamper.quotes_seen.fetch_add(1, Ordering::SeqCst);
            if tamper.honest_quotes.is_some_and(|honest| n >= honest) {
                json["price"] = json!(json["price"].as_f64().unwrap() + 1.0);
            }
        }
        if parts.method == "POST"
            && path.ends_with("/orders")
            && tamper.dearer_charge.load(Ordering::SeqCst)
        {
            json["price"] = json!(json["price"].as_f64().unwrap() + 1.0);
        }
        (status, axum::Json(json)).into_response()
    }
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((upstream, tamper));
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Proxy {
        base_url: format!("http://{addr}/api/v2"),
        _task: task,
    }
}

async fn setup_with(
    person: Person,
    modern: bool,
    tamper: Option<Tamper>,
    edit: impl FnOnce(&mut Config),
) -> Setup {
    let fake = FakeApi::new(fake_options());
    let fake_handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let proxy = match tamper {
        Some(t) => Some(proxy(fake_handle.addr, t).await),
        None => None,
    };
    let base = proxy
        .as_ref()
        .map(|p| p.base_url.clone())
        .unwrap_or_else(|| fake_handle.base_url());
    let mut config = test_config(&base);
    edit(&mut config);
    let server = App::new(config).await.unwrap().server;
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = if modern {
        serve_client_with_lifecycle(
            person.clone(),
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap()
    } else {
        person.clone().serve(client_io).await.unwrap()
    };
    Setup {
        fake,
        _fake_handle: fake_handle,
        _proxy: proxy,
        client,
        person,
    }
}

async fn setup(person: Person, confirm_above: Option<f64>) -> Setup {
    setup_with(person, false, None, |c| c.confirm_above = confirm_above).await
}

impl Setup {
    async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let Value::Object(args) = args else { panic!() };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
            .await
            .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
    }

    async fn buy(&self) -> CallToolResult {
        self.call(
            "create_order",
            json!({"service": "telegram", "country": "us"}),
        )
        .await
    }

    async fn price(&self) -> f64 {
        let r = self
            .call(
                "find_cheapest",
                json!({"service": "telegram", "country": "us"}),
            )
            .await;
        r.structured_content.unwrap()["price"].as_f64().unwrap()
    }

    fn charged_orders(&self) -> usize {
        self.fake.order_count()
    }
}

fn assert_refused(result: &CallToolResult, needle: &str) -> String {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let text = text_of(result);
    assert!(text.contains("nothing was charged"), "{text}");
    assert!(text.contains(needle), "{text}");
    text
}

#[tokio::test]
async fn unset_never_asks() {
    let s = setup(Person::answering(ElicitationAction::Decline), None).await;
    let r = s.buy().await;
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    assert!(s.person.questions().is_empty());
    assert_eq!(s.charged_orders(), 1);
}

#[tokio::test]
async fn a_price_under_the_threshold_is_bought_without_asking() {
    let s = setup(Person::answering(ElicitationAction::Decline), Some(1000.0)).await;
    let r = s.buy().await;
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    assert!(s.person.questions().is_empty());
    assert_eq!(s.charged_orders(), 1);
}

#[tokio::test]
async fn at_the_threshold_the_person_is_asked_and_accepting_buys_at_that_price() {
    let probe = setup(Person::unable(), None).await;
    let price = probe.price().await;
    let s = setup(Person::answering(ElicitationAction::Accept), Some(price)).await;
    let r = s.buy().await;
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    let questions = s.person.questions();
    assert_eq!(questions.len(), 1);
    let (message, form) = &questions[0];
    let shown = format!("${price:.2}");
    assert!(
        message.contains(&shown) && message.contains("telegram"),
        "{message}"
    );
    assert_eq!(form["properties"]["service"]["default"], "telegram");
    assert_eq!(form["properties"]["country"]["default"], "us");
    assert_eq!(form["properties"]["price"]["default"], shown.as_str());
    let order = r.structured_content.unwrap();
    assert_eq!(order["price"].as_f64().unwrap(), price);
    assert_eq!(s.charged_orders(), 1);
}

#[tokio::test]
async fn declining_charges_nothing_and_says_the_person_declined() {
    let s = setup(Person::answering(ElicitationAction::Decline), Some(0.0)).await;
    let r = s.buy().await;
    assert_refused(&r, "the person declined");
    assert_eq!(s.person.questions().len(), 1);
    assert_eq!(s.charged_orders(), 0);
}

#[tokio::test]
async fn cancelling_the_question_charges_nothing() {
    let s = setup(Person::answering(ElicitationAction::Cancel), Some(0.0)).await;
    let r = s.buy().await;
    assert_refused(&r, "the person cancelled");
    assert_eq!(s.charged_orders(), 0);
}

#[tokio::test]
async fn a_client_that_cannot_ask_is_refused_before_any_request() {
    let s = setup(Person::unable(), Some(0.0)).await;
    s.fake.clear_requests();
    let r = s.buy().await;
    assert_refused(&r, "VIRTUALSMS_CONFIRM_ABOVE");
    assert!(
        s.fake.requests().is_empty(),
        "no request at all: {:?}",
        s.fake.requests()
    );
}

#[tokio::test]
async fn extending_a_rental_asks_with_the_hours_added() {
    let s = setup(Person::answering(ElicitationAction::Accept), Some(0.0)).await;
    let rental = s
        .call(
            "create_order",
            json!({"service": "whatsapp", "country": "us", "rental_hours": 24}),
        )
        .await;
    assert_ne!(rental.is_error, Some(true), "{}", text_of(&rental));
    assert_eq!(
        s.person.questions()[0].1["properties"]["hours"]["default"],
        "24"
    );
    let id = rental.structured_content.unwrap()["order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .call("extend_rental", json!({"order_id": id, "hours": 48}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    let (message, form) = s.person.questions()[1].clone();
    assert!(
        message.contains("48 more hours") && message.contains(&id),
        "{message}"
    );
    assert_eq!(form["properties"]["hours"]["default"], "48");
}

#[tokio::test]
async fn a_price_that_rose_after_the_question_is_refused_unbought() {
    let tamper = Tamper {
        honest_quotes: Some(1), // the question's quote is honest, the one before buying is not
        ..Tamper::default()
    };
    let s = setup_with(
        Person::answering(ElicitationAction::Accept),
        false,
        Some(tamper),
        |c| c.confirm_above = Some(0.0),
    )
    .await;
    let r = s.buy().await;
    assert_refused(&r, "the person confirmed");
    assert_eq!(s.person.questions().len(), 1);
    assert_eq!(s.charged_orders(), 0);
}

#[tokio::test]
async fn an_order_charged_above_the_confirmed_price_is_cancelled_and_refunded() {
    let tamper = Tamper::default();
    tamper.dearer_charge.store(true, Ordering::SeqCst);
    let s = setup_with(
        Person::answering(ElicitationAction::Accept),
        false,
        Some(tamper),
        |c| c.confirm_above = Some(0.0),
    )
    .await;
    let before = s.fake.balance_cents(crate::common::KEY);
    let r = s.buy().await;
    assert_eq!(r.is_error, Some(true), "{r:?}");
    let text = text_of(&r);
    assert!(
        text.contains("cancelled") && text.contains("the person confirmed"),
        "{text}"
    );
    assert_eq!(
        s.fake.balance_cents(crate::common::KEY),
        before,
        "refunded in full"
    );
}

#[tokio::test]
async fn a_price_that_crosses_the_threshold_before_the_order_is_refused() {
    let probe = setup(Person::unable(), None).await;
    let price = probe.price().await;
    let tamper = Tamper {
        honest_quotes: Some(1),
        ..Tamper::default()
    };
    // Under the threshold at the first quote, over it ($1 dearer) right before buying.
    let s = setup_with(
        Person::answering(ElicitationAction::Accept),
        false,
        Some(tamper),
        |c| c.confirm_above = Some(price + 0.5),
    )
    .await;
    let r = s.buy().await;
    assert_refused(&r, "VIRTUALSMS_CONFIRM_ABOVE");
    assert!(s.person.questions().is_empty());
    assert_eq!(s.charged_orders(), 0);
}

#[tokio::test]
async fn on_2026_07_28_the_question_is_an_input_required_result_and_accept_buys() {
    let s = setup_with(
        Person::answering(ElicitationAction::Accept),
        true,
        None,
        |c| c.confirm_above = Some(0.0),
    )
    .await;
    // One round by hand: the first answer is the question, not a result.
    let first = s
        .client
        .call_tool_once(
            CallToolRequestParams::new("create_order").with_arguments(
                json!({"service": "telegram", "country": "us"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    let rmcp::model::CallToolResponse::InputRequired(question) = first else {
        panic!("expected input_required, got {first:?}")
    };
    assert!(question.request_state.is_some());
    assert!(question
        .input_requests
        .unwrap()
        .contains_key("confirm_purchase"));
    assert_eq!(s.charged_orders(), 0, "nothing bought while asking");
    // The client's driver answers through the handler and retries.
    let r = s.buy().await;
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    assert_eq!(s.person.questions().len(), 1);
    assert_eq!(s.charged_orders(), 1);
}

#[tokio::test]
async fn on_2026_07_28_declining_charges_nothing() {
    let s = setup_with(
        Person::answering(ElicitationAction::Decline),
        true,
        None,
        |c| c.confirm_above = Some(0.0),
    )
    .await;
    let r = s.buy().await;
    assert_refused(&r, "the person declined");
    assert_eq!(s.charged_orders(), 0);
}

//! What a hook call costs: upload-to-ready time of the example plugins (Rust and JavaScript),
//! one call's overhead (fresh instance, call, drop) as p50/p99 with instantiation's share,
//! calls per second on one core, and another tenant's p99 while looping plugins burn their
//! whole deadline beside it.
//!
//! ```sh
//! scripts/build-plugins && cargo bench -p tandem-plugins --bench hook_calls
//! ```

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tandem_plugins::hooks::{
    HookContext, OfflineRequest, RenderedEmail, TenantContext, UnreadMessage, VisitorInfo,
};
use tandem_plugins::{CallLimits, PluginHost};
use tandem_testkit::guests::guest;

fn context(visitor_name: &str) -> HookContext {
    HookContext {
        tenant: TenantContext {
            tenant_id: "t".into(),
            tenant_slug: "acme".into(),
            tenant_timeout_secs: 300,
            now_ms: 1_795_503_600_000,
            webhook_urls: vec!["https://hooks.example.com/team".into()],
            settings: "{}".into(),
        },
        chat_id: "c".into(),
        visitor: VisitorInfo {
            id: "v".into(),
            name: Some(visitor_name.into()),
            locale: Some("en".into()),
            has_email: true,
        },
    }
}

fn report(label: &str, h: &Histogram<u64>) {
    println!(
        "{label}: n={} p50 {} µs, p99 {} µs, max {} µs",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
}

/// `calls` calls one after another: the whole call's p50/p99 (waiting for an instance,
/// instantiating, the hook, checking the answer), and instantiation's alone.
async fn measure<F, Fut>(label: &str, calls: u32, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (Duration, Option<Duration>, bool)>,
{
    let mut whole = Histogram::<u64>::new(3).expect("histogram");
    let mut instantiation = Histogram::<u64>::new(3).expect("histogram");
    let started = Instant::now();
    for _ in 0..calls {
        let (elapsed, instantiated, ok) = call().await;
        assert!(ok, "{label}");
        whole.record(elapsed.as_micros() as u64).expect("record");
        let instantiated = instantiated.expect("instantiated");
        instantiation
            .record(instantiated.as_micros() as u64)
            .expect("record");
    }
    report(label, &whole);
    report("  of which instantiation", &instantiation);
    println!(
        "  one caller at a time: {:.0} calls/s",
        f64::from(calls) / started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let host = PluginHost::new(None).expect("a host");
    let limits = CallLimits::default();

    for name in [
        "business_hours",
        "branded_template",
        "channel_router",
        "channel_router_js",
    ] {
        let wasm = guest(name);
        let started = Instant::now();
        host.validate(wasm.clone(), usize::MAX, limits)
            .await
            .expect("valid");
        println!(
            "{name}: {} KiB, upload to ready {} ms",
            wasm.len() / 1024,
            started.elapsed().as_millis()
        );
    }

    let hours = host
        .validate(guest("business_hours"), usize::MAX, limits)
        .await
        .expect("valid");
    let template = host
        .validate(guest("branded_template"), usize::MAX, limits)
        .await
        .expect("valid");
    let router = host
        .validate(guest("channel_router"), usize::MAX, limits)
        .await
        .expect("valid");
    let router_js = host
        .validate(guest("channel_router_js"), usize::MAX, limits)
        .await
        .expect("valid");
    let ctx = context("Fedor");
    for _ in 0..200 {
        host.offline_timeout(&hours, limits, &ctx).await;
    }
    let request = OfflineRequest {
        name: Some("Fedor".into()),
        email: "fedor@example.org".into(),
        message: "Do you deliver on Sundays?".into(),
        page_url: None,
    };
    let messages = vec![UnreadMessage {
        id: "m1".into(),
        author: "Olga".into(),
        body: "Your order ships today".into(),
        sent_at_ms: 1,
    }];
    let email = RenderedEmail {
        to: None,
        subject: "Olga replied".into(),
        text: "Your order ships today".into(),
    };
    let calls = 5_000;
    measure("offline_timeout (business-hours, Rust)", calls, || async {
        let call = host.offline_timeout(&hours, limits, &ctx).await;
        (call.elapsed, call.instantiation, call.result.is_ok())
    })
    .await;
    measure("offline_request (business-hours, Rust)", calls, || async {
        let call = host.offline_request(&hours, limits, &ctx, &request).await;
        (call.elapsed, call.instantiation, call.result.is_ok())
    })
    .await;
    measure("email_template (branded-template, Rust)", calls, || async {
        let call = host.email_template(&template, limits, &ctx).await;
        (call.elapsed, call.instantiation, call.result.is_ok())
    })
    .await;
    for (label, plugin) in [
        ("route_notification (channel-router, Rust)", &router),
        (
            "route_notification (channel-router, JavaScript)",
            &router_js,
        ),
    ] {
        measure(label, calls, || async {
            let call = host
                .route_notification(plugin, limits, &ctx, &messages, &email)
                .await;
            (call.elapsed, call.instantiation, call.result.is_ok())
        })
        .await;
    }

    // Two tenants' looping plugins run into their 50 ms deadline over and over, while a third
    // tenant's business-hours calls go on.
    let hostile = host
        .validate(guest("hostile"), usize::MAX, limits)
        .await
        .expect("valid");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loopers = Vec::new();
    for _ in 0..2 {
        let (host, hostile, stop) = (host.clone(), hostile.clone(), stop.clone());
        loopers.push(tokio::spawn(async move {
            let looping = context("loop");
            let mut timeouts = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if host
                    .offline_timeout(&hostile, limits, &looping)
                    .await
                    .result
                    .is_err()
                {
                    timeouts += 1;
                }
            }
            timeouts
        }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..2_000 {
        let call_started = Instant::now();
        host.offline_timeout(&hours, limits, &ctx).await;
        h.record(call_started.elapsed().as_micros() as u64)
            .expect("record");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut stopped = 0;
    for l in loopers {
        stopped += l.await.expect("looper");
    }
    report("offline_timeout while 2 looping plugins run", &h);
    println!("  looping calls stopped at their deadline meanwhile: {stopped}");
}

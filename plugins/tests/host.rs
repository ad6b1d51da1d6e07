//! The host against real components: the example plugins and the hostile one (built for
//! wasm32-wasip2 by `scripts/build-plugins`), and small components written in WAT for what a
//! Rust guest cannot express (a wrong world version, a forbidden import).

use std::time::Duration;

use tandem_core::plugin::SettingsSchema;
use tandem_plugins::hooks::{
    Alert, AlertKind, AlertRoute, Availability, ClosedChat, Delivery, HookContext, HookName,
    OfflineRequest, Rating, RenderedEmail, Staff, TenantContext, UnreadMessage, VisitorInfo,
    WidgetMode,
};
use tandem_testkit::guests;

use guests::guest;
use tandem_plugins::{
    CallError, CallLimits, CompileBudget, CompiledPlugin, HostOptions, PluginHost, ValidationError,
};

/// A host compiling into the run's shared cache. The first test to need a JavaScript plugin
/// compiles it (37 MB of native code) while the other test processes keep both cores busy: the
/// budget is the end-to-end tests' 120 s, not the server's 30 s for an idle machine.
fn host() -> PluginHost {
    let cache = guests::compiled_cache_dir();
    PluginHost::with_options(HostOptions {
        cache_dir: Some(cache.into()),
        compile_budget: CompileBudget {
            time: Duration::from_secs(120),
            ..CompileBudget::default()
        },
        ..HostOptions::default()
    })
    .expect("a plugin host")
}

/// Limits under which only the memory cap can stop a call: on a loaded machine, growing to
/// 32 MiB may take longer than the default 50 ms deadline.
fn memory_bound() -> CallLimits {
    CallLimits::new(5_000, 32)
}

fn context(tenant_slug: &str) -> HookContext {
    HookContext {
        tenant: TenantContext {
            tenant_id: "0190f3c2-0000-7000-8000-000000000001".into(),
            tenant_slug: tenant_slug.into(),
            tenant_timeout_secs: 300,
            now_ms: 1_764_000_000_000,
            webhook_urls: vec!["https://hooks.example.com/team".into()],
            settings: "{}".into(),
        },
        chat_id: "0190f3c2-0000-7000-8000-0000000000aa".into(),
        visitor: VisitorInfo {
            id: "0190f3c2-0000-7000-8000-0000000000bb".into(),
            name: Some("Fedor".into()),
            locale: Some("ru".into()),
            has_email: true,
        },
    }
}

const MAX: usize = tandem_plugins::limits::MAX_MODULE_BYTES;

/// A host and one of the built plugins, validated as an upload would be.
async fn loaded(name: &str) -> (PluginHost, CompiledPlugin) {
    let host = host();
    let plugin = host
        .validate(guest(name), MAX, CallLimits::default())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (host, plugin)
}

#[tokio::test]
async fn the_examples_validate_and_name_their_hooks() {
    let host = host();
    // The SDK lists the hooks a plugin wrote, sorted by name, and nothing else.
    for (name, hooks) in [
        (
            "business_hours",
            vec![
                HookName::Availability,
                HookName::OfflineRequest,
                HookName::OfflineTimeout,
            ],
        ),
        (
            "channel_router",
            vec![
                HookName::ChatClosed,
                HookName::OperatorAlert,
                HookName::RouteNotification,
            ],
        ),
        ("branded_template", vec![HookName::EmailTemplate]),
    ] {
        let plugin = host
            .validate(guest(name), MAX, CallLimits::default())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plugin.manifest.name, name.replace('_', "-"));
        assert_eq!(plugin.manifest.world, "0.2.0");
        assert_eq!(plugin.manifest.hooks, hooks, "{name}");
        assert_eq!(plugin.sha256.len(), 64);
    }
}

/// Tuesday 2026-11-24 10:00 in Moscow (07:00 UTC).
const TUESDAY_MORNING_MOSCOW: i64 = 1_795_503_600_000;

/// The settings a plugin's hooks get before an admin saved any: its schema's defaults.
fn default_settings(plugin: &CompiledPlugin) -> String {
    plugin
        .manifest
        .settings_schema
        .as_deref()
        .map(|schema| {
            SettingsSchema::parse(schema)
                .expect("a schema")
                .defaults()
                .to_string()
        })
        .unwrap_or_else(|| "{}".into())
}

#[tokio::test]
async fn business_hours_answer_short_by_day_and_long_by_night_in_both_worlds() {
    let day = TUESDAY_MORNING_MOSCOW;
    let night = day + 13 * 3_600_000;
    let saturday_noon = day + 4 * 86_400_000 + 2 * 3_600_000;
    // Today's example (world 0.2.0, its hours in settings) and the frozen copy built for 0.1.0
    // (its hours in constants) answer alike.
    for (name, world) in [
        ("business_hours", "0.2.0"),
        ("business_hours_v0_1_0", "0.1.0"),
    ] {
        let (host, plugin) = loaded(name).await;
        assert_eq!(plugin.manifest.world, world);
        for (now_ms, expected) in [(day, 120), (night, 1800), (saturday_noon, 1800)] {
            let mut ctx = context("acme");
            ctx.tenant.now_ms = now_ms;
            ctx.tenant.settings = default_settings(&plugin);
            let call = host
                .offline_timeout(&plugin, CallLimits::default(), &ctx)
                .await;
            assert_eq!(call.result, Ok(Some(expected)), "{name} at {now_ms}");
        }
    }
}

#[tokio::test]
async fn business_hours_follow_their_settings() {
    let (host, plugin) = loaded("business_hours").await;
    assert_eq!(
        plugin.manifest.hooks,
        vec![
            HookName::Availability,
            HookName::OfflineRequest,
            HookName::OfflineTimeout
        ]
    );
    let mut ctx = context("acme");
    ctx.tenant.now_ms = TUESDAY_MORNING_MOSCOW;
    // 10:00 in Moscow is 02:00 in New York: closed there.
    let mut settings: serde_json::Value =
        serde_json::from_str(&default_settings(&plugin)).expect("json");
    settings["time_zone"] = "America/New_York".into();
    settings["off_hours_timeout_minutes"] = 45.into();
    settings["closed_message"] = "Back at nine, New York time.".into();
    ctx.tenant.settings = settings.to_string();
    let limits = CallLimits::default();
    let timeout = host.offline_timeout(&plugin, limits, &ctx).await;
    assert_eq!(timeout.result, Ok(Some(45 * 60)));
    let availability = host
        .availability(
            &plugin,
            limits,
            &ctx.tenant,
            Staff {
                online: 3,
                available: 2,
            },
        )
        .await;
    assert_eq!(
        availability.result,
        Ok(Some(Availability {
            mode: WidgetMode::OfflineForm,
            message: Some("Back at nine, New York time.".into()),
        }))
    );
    let request = OfflineRequest {
        name: Some("Fedor".into()),
        email: "fedor@example.org".into(),
        message: "Where is my order?".into(),
        page_url: None,
    };
    let answer = host
        .offline_request(&plugin, limits, &ctx, &request)
        .await
        .result
        .expect("answers")
        .expect("an opinion");
    assert_eq!(
        answer.auto_reply.as_deref(),
        Some(
            "Thank you, we have your message. We are back at 09:00 (America/New_York) and will \
             answer by email."
        )
    );
    assert_eq!(answer.tags, vec!["after-hours".to_owned()]);

    // Open in Moscow: no opinion on the widget or the request, the short timeout.
    ctx.tenant.settings = default_settings(&plugin);
    let open = host
        .availability(&plugin, limits, &ctx.tenant, Staff::default())
        .await;
    assert_eq!(open.result, Ok(None));
    let open = host.offline_request(&plugin, limits, &ctx, &request).await;
    assert_eq!(open.result, Ok(None));

    // A night shift, 22:00 to 06:00 Monday night to Saturday morning: at 23:00 on Tuesday in
    // Moscow it is at work; the Monday night shift still counts at 02:00 on Tuesday.
    let mut night_shift: serde_json::Value =
        serde_json::from_str(&default_settings(&plugin)).expect("json");
    night_shift["opens"] = 22.into();
    night_shift["closes"] = 6.into();
    ctx.tenant.settings = night_shift.to_string();
    for (now_ms, expected) in [
        (TUESDAY_MORNING_MOSCOW + 13 * 3_600_000, 120),
        (TUESDAY_MORNING_MOSCOW - 8 * 3_600_000, 120),
        (TUESDAY_MORNING_MOSCOW, 1800),
    ] {
        ctx.tenant.now_ms = now_ms;
        let call = host.offline_timeout(&plugin, limits, &ctx).await;
        assert_eq!(call.result, Ok(Some(expected)), "night shift at {now_ms}");
    }
    ctx.tenant.now_ms = TUESDAY_MORNING_MOSCOW;

    // Settings it cannot use (an unknown zone): the default, and the plugin says why.
    settings["time_zone"] = "Mars/Olympus".into();
    ctx.tenant.settings = settings.to_string();
    let confused = host.offline_timeout(&plugin, limits, &ctx).await;
    assert_eq!(confused.result, Ok(None));
    assert!(
        confused.output.contains("unknown time zone"),
        "{}",
        confused.output
    );
}

#[tokio::test]
async fn the_router_routes_alerts_and_closed_chats_to_the_team() {
    for router in ROUTERS {
        router_routes_alerts_and_closed_chats(router).await;
    }
}

/// The channel router in Rust and its JavaScript twin: every test of one is a test of both.
const ROUTERS: [&str; 2] = ["channel_router", "channel_router_js"];

async fn router_routes_alerts_and_closed_chats(router: &str) {
    let (host, plugin) = loaded(router).await;
    let limits = CallLimits::default();
    let ctx = context("acme");
    let alert = Alert {
        kind: AlertKind::LongWait { minutes: 12 },
        preview: "Hello?".into(),
        workspace_url: "https://tandem.example/app#chat".into(),
    };
    let routes = host
        .operator_alert(&plugin, limits, &ctx, &alert)
        .await
        .result
        .expect("answers")
        .expect("an opinion");
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[0], AlertRoute::Operators);
    let AlertRoute::Webhook(hook) = &routes[1] else {
        panic!("{routes:?}")
    };
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("json");
    assert_eq!(
        body["text"],
        "Fedor has waited 12 minutes for an answer: \"Hello?\" https://tandem.example/app#chat"
    );
    let closed = ClosedChat {
        closed_by: "Olga".into(),
        messages: 7,
        rating: Some(Rating {
            good: true,
            comment: None,
        }),
        opened_at_ms: 1,
        closed_at_ms: 2,
    };
    let hooks = host
        .chat_closed(&plugin, limits, &ctx, &closed)
        .await
        .result
        .expect("answers")
        .expect("an opinion");
    let body: serde_json::Value = serde_json::from_str(&hooks[0].body).expect("json");
    assert_eq!(body["messages"], 7);
    assert!(body["text"].as_str().unwrap().contains("rated good"));
}

/// The JavaScript router is the Rust one's twin: the same answers to the same calls, with and
/// without a webhook URL allowed.
#[tokio::test]
async fn the_routers_in_rust_and_javascript_answer_alike() {
    let mut answers = Vec::new();
    for router in ROUTERS {
        let (host, plugin) = loaded(router).await;
        let limits = CallLimits::default();
        let mut answer = vec![serde_json::json!({
            "name": plugin.manifest.name,
            "version": plugin.manifest.version,
            "hooks": plugin.manifest.hooks,
        })];
        let urls = [vec!["https://hooks.example.com/team".to_owned()], vec![]];
        let names = [Some("Fedor".to_owned()), None];
        for (urls, name) in urls
            .iter()
            .flat_map(|u| names.iter().map(move |n| (u.clone(), n.clone())))
        {
            let mut ctx = context("acme");
            ctx.tenant.webhook_urls = urls;
            ctx.visitor.name = name;
            let messages = vec![UnreadMessage {
                id: "m1".into(),
                author: "Olga".into(),
                body: "Ваш заказ \"42\" едет".into(),
                sent_at_ms: 1,
            }];
            let email = RenderedEmail {
                to: None,
                subject: "Olga ждёт вас".into(),
                text: "t".into(),
            };
            let routed = host
                .route_notification(&plugin, limits, &ctx, &messages, &email)
                .await;
            answer.push(serde_json::to_value(routed.result.expect(router)).expect("JSON"));
            for kind in [
                AlertKind::OfflineRequest,
                AlertKind::LongWait { minutes: 3 },
            ] {
                let alert = Alert {
                    kind,
                    preview: "Есть доставка?".into(),
                    workspace_url: "https://tandem.example/app#chat".into(),
                };
                let alerted = host.operator_alert(&plugin, limits, &ctx, &alert).await;
                answer.push(serde_json::to_value(alerted.result.expect(router)).expect("JSON"));
            }
            for rating in [None, Some(false), Some(true)] {
                let closed = ClosedChat {
                    closed_by: "Olga".into(),
                    messages: 2,
                    rating: rating.map(|good| Rating {
                        good,
                        comment: None,
                    }),
                    opened_at_ms: 1,
                    closed_at_ms: 2,
                };
                let summed = host.chat_closed(&plugin, limits, &ctx, &closed).await;
                answer.push(serde_json::to_value(summed.result.expect(router)).expect("JSON"));
            }
        }
        answers.push(with_bodies_parsed(serde_json::Value::Array(answer)));
    }
    assert_eq!(answers[0], answers[1]);
}

/// `value` with every `body` that holds JSON text replaced by the JSON it holds: the two
/// languages may spell one document differently.
fn with_bodies_parsed(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(with_bodies_parsed).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| match (key.as_str(), &value) {
                    ("body", Value::String(text)) => {
                        let parsed = serde_json::from_str(text).expect("a JSON body");
                        (key, parsed)
                    }
                    _ => (key, with_bodies_parsed(value)),
                })
                .collect(),
        ),
        other => other,
    }
}

#[tokio::test]
async fn the_router_sends_the_email_and_posts_to_the_allowed_webhook() {
    for router in ROUTERS {
        router_sends_the_email_and_posts_to_the_allowed_webhook(router).await;
    }
}

async fn router_sends_the_email_and_posts_to_the_allowed_webhook(router: &str) {
    let (host, plugin) = loaded(router).await;
    let messages = vec![UnreadMessage {
        id: "m1".into(),
        author: "Olga".into(),
        body: "Your order \"42\" ships today".into(),
        sent_at_ms: 1,
    }];
    let email = RenderedEmail {
        to: Some("fedor@example.org".into()),
        subject: "s".into(),
        text: "t".into(),
    };
    let call = host
        .route_notification(
            &plugin,
            CallLimits::default(),
            &context("acme"),
            &messages,
            &email,
        )
        .await;
    let deliveries = call.result.expect("a route").expect("an opinion");
    assert_eq!(deliveries[0], Delivery::Email { to: None });
    let Delivery::Webhook(hook) = &deliveries[1] else {
        panic!("a webhook: {deliveries:?}")
    };
    assert_eq!(hook.url, "https://hooks.example.com/team");
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("JSON");
    assert_eq!(body["unread"], 1);
    assert!(body["text"].as_str().is_some_and(|t| t.contains("Fedor")));
}

#[tokio::test]
async fn the_branded_template_speaks_the_visitors_language() {
    let (host, plugin) = loaded("branded_template").await;
    let ru = host
        .email_template(&plugin, CallLimits::default(), &context("acme"))
        .await;
    let template = ru.result.expect("a template").expect("an opinion");
    assert!(
        template.subject.contains("ждёт вас"),
        "{}",
        template.subject
    );
    assert!(template.html.contains("{{#each replies}}"));
}

/// The hostile plugin misbehaves as the visitor's name says.
fn hostile(how: &str) -> HookContext {
    let mut ctx = context("acme");
    ctx.visitor.name = Some(how.into());
    ctx
}

async fn hostile_call(how: &str) -> (Result<Option<u32>, CallError>, Duration, String) {
    let (host, plugin) = loaded("hostile").await;
    let call = host
        .offline_timeout(&plugin, CallLimits::default(), &hostile(how))
        .await;
    (call.result, call.elapsed, call.output)
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let (result, elapsed, _) = hostile_call("loop").await;
    assert_eq!(result, Err(CallError::Timeout(50)));
    // The limit, not the test, bounds the call; generous slack for a loaded CI machine.
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn the_hooks_of_world_0_2_0_are_contained_like_the_first_ones() {
    let (host, plugin) = loaded("hostile").await;
    let limits = CallLimits::default();
    let request = OfflineRequest {
        name: None,
        email: "a@example.org".into(),
        message: "hi".into(),
        page_url: None,
    };
    let looping = host
        .offline_request(&plugin, limits, &hostile("loop"), &request)
        .await;
    assert_eq!(looping.result, Err(CallError::Timeout(50)));
    let shouting = host
        .offline_request(&plugin, limits, &hostile("shouter"), &request)
        .await;
    assert!(
        matches!(&shouting.result, Err(CallError::Malformed(m)) if m.contains("at most 2000")),
        "{:?}",
        shouting.result
    );
    // `availability` has no visitor: the tenant's slug says how to misbehave.
    let growing = host
        .availability(
            &plugin,
            memory_bound(),
            &context("grow").tenant,
            Staff::default(),
        )
        .await;
    assert_eq!(growing.result, Err(CallError::MemoryLimit(32)));
    let alert = Alert {
        kind: AlertKind::OfflineRequest,
        preview: "hi".into(),
        workspace_url: "https://tandem.example/app".into(),
    };
    let trapping = host
        .operator_alert(&plugin, limits, &hostile("trap"), &alert)
        .await;
    assert!(
        matches!(trapping.result, Err(CallError::Trap(_))),
        "{:?}",
        trapping.result
    );
    let closed = ClosedChat {
        closed_by: "Olga".into(),
        messages: 1,
        rating: None,
        opened_at_ms: 0,
        closed_at_ms: 1,
    };
    let sleeping = host
        .chat_closed(&plugin, limits, &hostile("sleep"), &closed)
        .await;
    assert_eq!(sleeping.result, Err(CallError::Timeout(50)));
    // A 0.1.0 plugin is never asked a hook its world does not have; asked anyway, it is the
    // default, not a crash.
    let (host, old) = loaded("business_hours_v0_1_0").await;
    let absent = host
        .offline_request(&old, limits, &hostile("x"), &request)
        .await;
    assert!(
        matches!(absent.result, Err(CallError::Host(_))),
        "{:?}",
        absent.result
    );
}

#[tokio::test]
async fn unbounded_memory_growth_hits_the_memory_limit() {
    let (host, plugin) = loaded("hostile").await;
    let call = host
        .offline_timeout(&plugin, memory_bound(), &hostile("grow"))
        .await;
    assert_eq!(call.result, Err(CallError::MemoryLimit(32)));
}

#[tokio::test]
async fn deep_recursion_overflows_the_wasm_stack_not_the_host() {
    let (result, _, _) = hostile_call("recurse").await;
    let Err(CallError::Trap(reason)) = result else {
        panic!("a trap: {result:?}")
    };
    assert!(reason.contains("stack"), "{reason}");
}

#[tokio::test]
async fn a_panic_is_a_trap_and_its_message_is_kept() {
    let (result, _, output) = hostile_call("trap").await;
    assert!(matches!(result, Err(CallError::Trap(_))), "{result:?}");
    assert!(output.contains("panics on purpose"), "{output}");
}

#[tokio::test]
async fn a_plugin_that_prints_too_much_is_cut_off_at_the_log_cap() {
    let (result, _, output) = hostile_call("chatty").await;
    // A guest that writes past the cap gets an error from its stdout, which a Rust guest turns
    // into a panic: the call fails, the log keeps the first 16 KiB.
    assert!(matches!(result, Err(CallError::Trap(_))), "{result:?}");
    assert!(output.starts_with("line 0 of a plugin that prints too much"));
    assert!(
        output.len() <= tandem_plugins::limits::LOG_BYTES,
        "{}",
        output.len()
    );
    assert!(output.len() > tandem_plugins::limits::LOG_BYTES / 2);
}

#[tokio::test]
async fn a_plugin_that_behaves_answers_and_its_output_is_kept() {
    let (result, _, output) = hostile_call("calm").await;
    assert_eq!(result, Ok(Some(1)));
    assert!(output.contains("offline timeout for"), "{output}");
}

/// The JavaScript SDK refuses a plugin's mistakes while it is built (componentize-js evaluates
/// the module then, so `npm run build` names them), and fills in the hooks not written.
#[test]
fn the_javascript_sdk_names_mistakes_and_fills_in_the_rest() {
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk-js/tandem-plugin.js");
    let script = format!(
        r#"
        const {{ definePlugin }} = await import({sdk:?});
        const refused = (spec) => {{
          try {{ definePlugin({{ name: "x", version: "1", ...spec }}); return "accepted"; }}
          catch (e) {{ return e.message; }}
        }};
        const plugin = definePlugin({{
          name: "x", version: "1",
          hooks: {{ chatClosed: () => null, offlineTimeout() {{ return this.chatClosed ? 60 : 0; }} }},
        }});
        const later = definePlugin({{ name: "x", version: "1", hooks: {{ async availability() {{}} }} }});
        let promised;
        try {{ later.availability(); }} catch (e) {{ promised = e.message; }}
        console.log(JSON.stringify({{
          manifest: plugin.describe(),
          timeout: plugin.offlineTimeout(),
          closed: plugin.chatClosed() === undefined,
          absent: plugin.emailTemplate() === undefined,
          unknown: refused({{ hooks: {{ toString() {{}} }} }}),
          number: refused({{ hooks: {{ offlineTimeout: 900 }} }}),
          promised,
        }}));
        "#
    );
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node runs (scripts/build-plugins needs it too)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        seen["manifest"]["hooks"],
        serde_json::json!(["chat-closed", "offline-timeout"])
    );
    assert_eq!(seen["timeout"], 60, "hooks keep `this`");
    assert_eq!(seen["closed"], true, "null is no opinion");
    assert_eq!(seen["absent"], true);
    let said = |key: &str| seen[key].as_str().unwrap_or_default().to_owned();
    assert!(
        said("unknown").contains("no hook is called toString"),
        "{seen}"
    );
    assert!(said("number").contains("must be a function"), "{seen}");
    assert!(said("promised").contains("cannot be async"), "{seen}");
}

/// JavaScript runs on an engine compiled to wasm, which imports clocks and randomness and
/// manages its own heap: each way it can misbehave ends as hostile Rust's does.
#[tokio::test]
async fn hostile_javascript_is_contained_like_hostile_rust() {
    let (host, plugin) = loaded("hostile_js").await;
    let limits = CallLimits::default();
    let timeout = |how: &'static str| {
        let (host, plugin) = (host.clone(), plugin.clone());
        async move { host.offline_timeout(&plugin, limits, &hostile(how)).await }
    };
    for how in ["loop", "sleep"] {
        let call = timeout(how).await;
        assert_eq!(call.result, Err(CallError::Timeout(50)), "{how}");
        assert!(
            call.elapsed < Duration::from_secs(2),
            "{how}: {:?}",
            call.elapsed
        );
    }
    let growing = host
        .offline_timeout(&plugin, memory_bound(), &hostile("grow"))
        .await;
    assert_eq!(growing.result, Err(CallError::MemoryLimit(32)));
    let deep = timeout("recurse").await;
    assert!(
        matches!(deep.result, Err(CallError::Trap(_))),
        "{:?}",
        deep.result
    );
    assert!(
        deep.output.contains("too much recursion"),
        "{}",
        deep.output
    );
    let thrown = timeout("trap").await;
    assert!(
        matches!(thrown.result, Err(CallError::Trap(_))),
        "{:?}",
        thrown.result
    );
    assert!(
        thrown.output.contains("throws on purpose"),
        "{}",
        thrown.output
    );
    let chatty = timeout("chatty").await;
    // console.log does not fail when the log is full (Rust's println! panics); 100,000 lines
    // run the call past its deadline instead.
    assert_eq!(chatty.result, Err(CallError::Timeout(50)));
    assert!(
        chatty
            .output
            .starts_with("line 0 of a plugin that prints too much")
    );
    assert!(chatty.output.len() <= tandem_plugins::limits::LOG_BYTES);
    let calm = timeout("calm").await;
    assert_eq!(calm.result, Ok(Some(1)));
    assert!(
        calm.output.contains("offline timeout for"),
        "{}",
        calm.output
    );

    // The hooks of world 0.2.0, and answers the host refuses.
    let growing = host
        .availability(
            &plugin,
            memory_bound(),
            &context("grow").tenant,
            Staff::default(),
        )
        .await;
    assert_eq!(growing.result, Err(CallError::MemoryLimit(32)));
    let request = OfflineRequest {
        name: None,
        email: "a@example.org".into(),
        message: "hi".into(),
        page_url: None,
    };
    let shouting = host
        .offline_request(&plugin, limits, &hostile("shouter"), &request)
        .await;
    assert!(
        matches!(&shouting.result, Err(CallError::Malformed(m)) if m.contains("at most 2000")),
        "{:?}",
        shouting.result
    );
}

#[tokio::test]
async fn a_huge_template_is_refused_as_malformed() {
    let (host, plugin) = loaded("hostile").await;
    let call = host
        .email_template(&plugin, CallLimits::default(), &hostile("huge"))
        .await;
    let Err(CallError::Malformed(reason)) = call.result else {
        panic!("malformed: {:?}", call.result)
    };
    assert!(reason.contains("html"), "{reason}");
}

#[tokio::test]
async fn tighter_limits_of_a_tenant_apply() {
    let (host, plugin) = loaded("hostile").await;
    let call = host
        .offline_timeout(&plugin, CallLimits::new(10, 32), &hostile("loop"))
        .await;
    assert_eq!(call.result, Err(CallError::Timeout(10)));
}

#[tokio::test]
async fn a_module_over_the_size_limit_is_refused() {
    let err = host()
        .validate(guest("hostile"), 1024, CallLimits::default())
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(err, ValidationError::TooLarge { limit: 1024, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn bytes_that_are_not_a_component_are_refused() {
    for bytes in [b"hello".to_vec(), wat::parse_str("(module)").expect("wat")] {
        let err = host()
            .validate(bytes, MAX, CallLimits::default())
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, ValidationError::NotAComponent(_)), "{err}");
    }
}

/// A component exporting one `offline-timeout` function that answers a bare `u32` (not the
/// `option<u32>` of every released world) under `export`.
fn component_exporting(export: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
            (core module $m (func (export "f") (result i32) i32.const 0))
            (core instance $i (instantiate $m))
            (func $f (result u32) (canon lift (core func $i "f")))
            (instance $hooks (export "offline-timeout" (func $f)))
            (export "{export}" (instance $hooks)))"#
    ))
    .expect("wat")
}

#[tokio::test]
async fn a_component_of_a_world_version_not_released_is_refused_naming_those_supported() {
    let err = host()
        .validate(
            component_exporting("tandem:plugin/hooks@0.9.0"),
            MAX,
            CallLimits::default(),
        )
        .await
        .err()
        .expect("refused");
    assert_eq!(err, ValidationError::UnsupportedWorld("0.9.0".into()));
    assert!(
        err.to_string().contains("it supports 0.1.0, 0.2.0"),
        "{err}"
    );
}

#[tokio::test]
async fn a_component_without_the_hooks_or_with_the_wrong_types_is_refused() {
    let err = host()
        .validate(
            component_exporting("tandem:plugin/other@0.2.0"),
            MAX,
            CallLimits::default(),
        )
        .await
        .err()
        .expect("refused");
    assert_eq!(
        err,
        ValidationError::WrongWorld {
            found: Some("tandem:plugin/other@0.2.0".into())
        }
    );
    assert!(err.to_string().contains("0.1.0, 0.2.0"), "{err}");
    for version in tandem_plugins::SUPPORTED_WORLDS {
        let wasm = component_exporting(&format!("tandem:plugin/hooks@{version}"));
        let err = host()
            .validate(wasm, MAX, CallLimits::default())
            .await
            .err()
            .expect("refused");
        assert!(
            matches!(err, ValidationError::NotAComponent(_)),
            "{version}: {err}"
        );
    }
}

#[tokio::test]
async fn a_component_importing_what_the_host_does_not_offer_is_refused() {
    let wasm = wat::parse_str(
        r#"(component
            (import "evil:host/spawn" (instance (export "run" (func)))))"#,
    )
    .expect("wat");
    let err = host()
        .validate(wasm, MAX, CallLimits::default())
        .await
        .err()
        .expect("refused");
    assert_eq!(
        err,
        ValidationError::ForbiddenImport("evil:host/spawn".into())
    );
}

#[tokio::test]
async fn a_compiled_plugin_is_kept_by_its_hash() {
    let host = host();
    let first = host
        .load(guest("business_hours"), CallLimits::default())
        .await
        .expect("loads");
    let again = host.cached(&first.sha256).expect("kept");
    assert_eq!(again.manifest, first.manifest);
    assert!(host.cached("0000").is_none());
}

#[tokio::test]
async fn a_plugin_sleeping_inside_a_wasi_call_is_stopped_at_the_deadline() {
    // Epoch interruption never fires inside a host call; the host's own timeout does.
    let (result, elapsed, _) = hostile_call("sleep").await;
    assert_eq!(result, Err(CallError::Timeout(50)));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[tokio::test]
async fn a_manifest_call_that_never_returns_refuses_the_upload() {
    let err = host()
        .validate(guest("sleepy"), MAX, CallLimits::default())
        .await
        .err()
        .expect("refused");
    // Given a second, whatever the tenant's hooks are given.
    assert_eq!(err, ValidationError::Manifest(CallError::Timeout(1000)));
}

#[tokio::test]
async fn one_tenant_cannot_take_every_plugin_instance() {
    let (host, plugin) = loaded("hostile").await;
    let greedy = CallLimits::new(1_000, 32).of_tenant(tandem_core::ids::TenantId::new());
    let calls: Vec<_> = (0..64)
        .map(|_| {
            let (host, plugin) = (host.clone(), plugin.clone());
            tokio::spawn(async move {
                host.offline_timeout(&plugin, greedy, &hostile("sleep"))
                    .await
                    .result
            })
        })
        .collect();
    // Another tenant's call, made while all 64 are waiting or sleeping, runs at once.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let other = CallLimits::default().of_tenant(tandem_core::ids::TenantId::new());
    let call = host.offline_timeout(&plugin, other, &hostile("calm")).await;
    assert_eq!(call.result, Ok(Some(1)));
    let mut busy = 0;
    let mut timed_out = 0;
    for call in calls {
        match call.await.expect("joined") {
            Err(CallError::Busy(_)) => busy += 1,
            Err(CallError::Timeout(1000)) => timed_out += 1,
            other => panic!("{other:?}"),
        }
    }
    // At most its share ran; the rest were told the instances were busy.
    assert!(timed_out <= 8, "{timed_out} ran");
    assert_eq!(busy + timed_out, 64);
}

#[tokio::test]
async fn a_module_loaded_by_many_callers_at_once_is_compiled_once() {
    let host = host();
    let loads: Vec<_> = (0..8)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(async move {
                host.load(guest("business_hours"), CallLimits::default())
                    .await
                    .map(|p| p.sha256)
            })
        })
        .collect();
    for load in loads {
        load.await.expect("joined").expect("loads");
    }
    assert_eq!(host.compilations(), 1);
}

#[tokio::test]
async fn a_deleted_plugin_is_dropped_from_the_compiled_cache() {
    let host = host();
    let plugin = host
        .load(guest("business_hours"), CallLimits::default())
        .await
        .expect("loads");
    host.forget(&plugin.sha256);
    assert!(host.cached(&plugin.sha256).is_none());
}

#[tokio::test]
async fn an_answer_larger_than_the_host_copies_is_a_failure() {
    let (host, plugin) = loaded("hostile").await;
    let email = RenderedEmail {
        to: Some("flood@example.org".into()),
        subject: "s".into(),
        text: "t".into(),
    };
    let call = host
        .route_notification(
            &plugin,
            CallLimits::default(),
            &hostile("flood"),
            &[],
            &email,
        )
        .await;
    let Err(CallError::Trap(reason)) = call.result else {
        panic!("a trap: {:?}", call.result.map(|d| d.map(|d| d.len())))
    };
    assert!(reason.contains("too much data"), "{reason}");
}

//! The test suite's hostile plugin: it behaves according to the visitor's name (or, without
//! one, the tenant's slug), so one module exercises every way a plugin can misbehave. Called
//! for anyone else it behaves: a 1 s timeout, a short template, no opinion on the routes.

use tandem_plugin_sdk::prelude::*;

struct Hostile;

tandem_plugin_sdk::plugin! {
    impl Plugin for Hostile {
        const NAME: &'static str = "hostile";
        const VERSION: &'static str = "0.2.0";

        fn offline_timeout(ctx: Context) -> Option<u32> {
            misbehave(how(&ctx));
            println!("offline timeout for {}", ctx.chat_id);
            Some(1)
        }

        fn email_template(ctx: Context) -> Option<TemplateSources> {
            misbehave(how(&ctx));
            let html = match how(&ctx) {
                "huge" => "x".repeat(1024 * 1024),
                // Strict mode: a value the host does not have fails the render.
                "badtemplate" => "<p>{{no_such_value}}</p>".into(),
                // Each would abort a host that rendered it unchecked.
                "partials" => r#"{{#*inline "a"}}x{{> a}}{{/inline}}{{> a}}"#.into(),
                "eachbomb" => "{{#each @root.replies}}".repeat(40) + "x" + &"{{/each}}".repeat(40),
                "deepif" => "{{#if visitor_name}}".repeat(3000) + &"{{/if}}".repeat(3000),
                "rawhtml" => "<p>{{{visitor_name}}}</p>".into(),
                _ => "<p>{{visitor_name}}</p>".into(),
            };
            Some(TemplateSources {
                subject: "Hostile says hello".into(),
                html,
                text: "text".into(),
            })
        }

        fn route_notification(
            ctx: Context,
            _messages: Vec<UnreadMessage>,
            _email: RenderedEmail,
        ) -> Option<Vec<Delivery>> {
            misbehave(how(&ctx));
            match how(&ctx) {
                // Neither is the tenant's to allow: the host refuses the whole answer.
                "stealer" => Some(vec![
                    Delivery::Email(None),
                    Delivery::Webhook(Webhook {
                        url: "http://169.254.169.254/latest/meta-data".into(),
                        body: "{}".into(),
                    }),
                ]),
                "spammer" => Some(vec![Delivery::Email(Some(
                    "someone@elsewhere.example".into(),
                ))]),
                // 100 webhooks of 64 KiB each: more than the host copies out of one answer.
                "flood" => Some(
                    (0..100)
                        .map(|_| {
                            Delivery::Webhook(Webhook {
                                url: "https://hooks.example.com/team".into(),
                                body: "x".repeat(64 * 1024),
                            })
                        })
                        .collect(),
                ),
                _ => None,
            }
        }

        fn offline_request(ctx: Context, _request: OfflineForm) -> Option<RequestAnswer> {
            misbehave(how(&ctx));
            match how(&ctx) {
                // Not one of the tenant's operators: the host refuses the whole answer.
                "assigner" => Some(RequestAnswer {
                    auto_reply: Some("Assigned to an outsider".into()),
                    tags: vec![],
                    priority: Some(Priority::Urgent),
                    assign_to: Some("outsider@elsewhere.example".into()),
                }),
                "shouter" => Some(RequestAnswer {
                    auto_reply: Some("!".repeat(10_000)),
                    tags: vec![],
                    priority: None,
                    assign_to: None,
                }),
                _ => None,
            }
        }

        fn availability(ctx: TenantContext, _staff: Staff) -> Option<Offer> {
            misbehave(&ctx.tenant_slug);
            None
        }

        fn operator_alert(ctx: Context, _alert: Alert) -> Option<Vec<AlertRoute>> {
            misbehave(how(&ctx));
            match how(&ctx) {
                "stealer" => Some(vec![AlertRoute::Webhook(Webhook {
                    url: "http://169.254.169.254/latest/meta-data".into(),
                    body: "{}".into(),
                })]),
                _ => None,
            }
        }

        fn chat_closed(ctx: Context, _chat: ClosedChat) -> Option<Vec<Webhook>> {
            misbehave(how(&ctx));
            match how(&ctx) {
                "stealer" => Some(vec![Webhook {
                    url: "http://169.254.169.254/latest/meta-data".into(),
                    body: "{}".into(),
                }]),
                _ => None,
            }
        }
    }
}

fn how(ctx: &Context) -> &str {
    ctx.visitor
        .name
        .as_deref()
        .unwrap_or(&ctx.tenant.tenant_slug)
}

fn misbehave(how: &str) {
    match how {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1024 * 1024]);
                std::hint::black_box(&hoard);
            }
        }
        "recurse" => {
            std::hint::black_box(recurse(u64::MAX));
        }
        "trap" => panic!("this plugin panics on purpose"),
        // Blocks in a host call (wasi:io/poll on a clock), where epoch interruption never fires.
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(6)),
        "chatty" => {
            for i in 0..100_000 {
                println!("line {i} of a plugin that prints too much");
            }
        }
        _ => {}
    }
}

fn recurse(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 + recurse(std::hint::black_box(n - 1))
    }
}

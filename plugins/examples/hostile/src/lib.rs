//! The test suite's hostile plugin: it behaves according to the visitor's name (or, without
//! one, the tenant's slug), so one module exercises every way a plugin can misbehave. Called
//! for anyone else it behaves: a 1 s timeout, a short template, no opinion on the routes.

wit_bindgen::generate!({ path: "../../wit", world: "plugin" });

use exports::tandem::plugin::hooks::{
    Context, Delivery, Guest, Hook, Manifest, RenderedEmail, TemplateSources, UnreadMessage,
    Webhook,
};

struct Hostile;

impl Guest for Hostile {
    fn describe() -> Manifest {
        Manifest {
            name: "hostile".into(),
            version: "0.1.0".into(),
            hooks: vec![
                Hook::OfflineTimeout,
                Hook::EmailTemplate,
                Hook::RouteNotification,
            ],
        }
    }

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
}

fn how(ctx: &Context) -> &str {
    ctx.visitor.name.as_deref().unwrap_or(&ctx.tenant_slug)
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

export!(Hostile);

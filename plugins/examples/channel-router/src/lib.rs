//! Channel router: every batch of unread replies goes to the visitor by email, as usual, and is
//! also posted to the team's chat through the first webhook URL the tenant admin allowed — so
//! the team sees which visitors are waiting on a reply they have not read.

wit_bindgen::generate!({ path: "../../wit", world: "plugin" });

use exports::tandem::plugin::hooks::{
    Context, Delivery, Guest, Hook, Manifest, RenderedEmail, TemplateSources, UnreadMessage,
    Webhook,
};

struct ChannelRouter;

impl Guest for ChannelRouter {
    fn describe() -> Manifest {
        Manifest {
            name: "channel-router".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            hooks: vec![Hook::RouteNotification],
        }
    }

    fn offline_timeout(_: Context) -> Option<u32> {
        None
    }

    fn email_template(_: Context) -> Option<TemplateSources> {
        None
    }

    fn route_notification(
        ctx: Context,
        messages: Vec<UnreadMessage>,
        email: RenderedEmail,
    ) -> Option<Vec<Delivery>> {
        let mut deliveries = vec![Delivery::Email(None)];
        match ctx.webhook_urls.first() {
            Some(url) => deliveries.push(Delivery::Webhook(Webhook {
                url: url.clone(),
                body: team_message(&ctx, &messages, &email),
            })),
            None => deliveries.push(Delivery::Skip(
                "no webhook URL is allowed in the settings".into(),
            )),
        }
        Some(deliveries)
    }
}

/// A Slack/Mattermost-style `{"text": ...}` document.
fn team_message(ctx: &Context, messages: &[UnreadMessage], email: &RenderedEmail) -> String {
    let who = ctx.visitor.name.as_deref().unwrap_or("A visitor");
    let text = format!(
        "{who} has not read {} repl{} in chat {}; they are being emailed \"{}\".",
        messages.len(),
        if messages.len() == 1 { "y" } else { "ies" },
        ctx.chat_id,
        email.subject
    );
    format!(
        "{{\"text\":{},\"chat_id\":{},\"unread\":{}}}",
        json_string(&text),
        json_string(&ctx.chat_id),
        messages.len()
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

export!(ChannelRouter);

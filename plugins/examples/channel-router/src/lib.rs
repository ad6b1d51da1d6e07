//! Channel router: the team's chat (the first webhook URL the tenant admin allowed) hears what
//! it should, beside Tandem's own paths:
//! - every batch of unread replies goes to the visitor by email, as usual, and is posted to the
//!   team's chat, so the team sees which visitors are waiting on a reply they have not read;
//! - an alert for the operators (an offline request, a long wait) goes to them as usual and to
//!   the team's chat;
//! - a closed dialog is summed up in the team's chat, with its rating.

use tandem_plugin_sdk::prelude::*;

struct ChannelRouter;

tandem_plugin_sdk::plugin! {
    impl Plugin for ChannelRouter {
        const NAME: &'static str = "channel-router";
        const VERSION: &'static str = env!("CARGO_PKG_VERSION");

        fn route_notification(
            ctx: Context,
            messages: Vec<UnreadMessage>,
            email: RenderedEmail,
        ) -> Option<Vec<Delivery>> {
            let mut deliveries = vec![Delivery::Email(None)];
            match ctx.tenant.webhook_urls.first() {
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

        fn operator_alert(ctx: Context, alert: Alert) -> Option<Vec<AlertRoute>> {
            let url = ctx.tenant.webhook_urls.first()?;
            let what = match alert.kind {
                AlertKind::OfflineRequest => "left an offline request".to_owned(),
                AlertKind::LongWait(minutes) => format!("has waited {minutes} minutes for an answer"),
            };
            let who = ctx.visitor.name.as_deref().unwrap_or("A visitor");
            let text = format!("{who} {what}: \"{}\" {}", alert.preview, alert.workspace_url);
            Some(vec![
                AlertRoute::Operators,
                AlertRoute::Webhook(Webhook {
                    url: url.clone(),
                    body: format!(
                        "{{\"text\":{},\"chat_id\":{}}}",
                        json_string(&text),
                        json_string(&ctx.chat_id)
                    ),
                }),
            ])
        }

        fn chat_closed(ctx: Context, chat: ClosedChat) -> Option<Vec<Webhook>> {
            let url = ctx.tenant.webhook_urls.first()?;
            let rating = match &chat.rating {
                Some(Rating { good: true, .. }) => "rated good",
                Some(Rating { good: false, .. }) => "rated bad",
                None => "not rated",
            };
            let text = format!(
                "{} closed chat {} after {} messages ({rating}).",
                chat.closed_by, ctx.chat_id, chat.messages
            );
            Some(vec![Webhook {
                url: url.clone(),
                body: format!(
                    "{{\"text\":{},\"chat_id\":{},\"messages\":{}}}",
                    json_string(&text),
                    json_string(&ctx.chat_id),
                    chat.messages
                ),
            }])
        }
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

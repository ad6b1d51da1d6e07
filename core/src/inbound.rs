//! Answers to unread-reply mails coming back in. Each mail carries a `Reply-To` of its dialog
//! (`reply+<token>@<inbound domain>`, the token bound to the address the mail went to); a reply
//! from that address becomes the visitor's message in that dialog, marked as come by email,
//! and goes on like any visitor message (live to operators, the chat's category follows).
//!
//! Reading MIME is not the domain's business: the caller hands over an [`InboundMail`] already
//! parsed, its new text separated from the quoted history.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::PaginatorTrait;
use sea_orm::entity::prelude::*;

use crate::delivery::{Channel, DeliveryStatus};
use crate::entity::{delivery, message, resume_token, tenant};
use crate::error::CoreError;
use crate::message::{Arrival, Message, MessageChannel, MessageService};
use crate::secret;
use crate::services::Deps;
use crate::tenant::{TenantSettings, parse_settings};
use crate::visitor::VisitorActor;
use crate::visitor::service::REPLY_TOKEN;

/// Replies by email one dialog takes in an hour; past it a loop or a flood is refused.
pub const REPLIES_PER_HOUR: u64 = 20;

/// The quoted history kept beside a reply: enough for the last few mails of a thread.
const MAX_QUOTED_CHARS: usize = 20_000;

/// A mail as the domain needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboundMail {
    /// Every address the mail was sent to (To, Cc, Delivered-To): the dialog's is one of them.
    pub recipients: Vec<String>,
    /// The sender's address (`From`).
    pub from: String,
    /// The mail says it is automatic: an auto-reply, a bounce, a list.
    pub automatic: bool,
    /// Its `Message-ID`: the same mail delivered twice is one message.
    pub message_id: Option<String>,
    /// What the visitor wrote, without the quoted history and signature.
    pub text: String,
    /// The quoted history and signature cut from it, kept for operators to expand.
    pub quoted: String,
}

/// Why a mail did not become a message. What is said back never tells whether a dialog exists.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("this address takes no mail")]
    UnknownAddress,
    #[error("automatic mail (auto-replies, bounces, lists) is not a message")]
    Automatic,
    #[error("only the visitor may answer by email")]
    ForeignSender,
    #[error("the mail has no text of its own")]
    Empty,
    #[error("too many mails to this conversation; try again later")]
    Flood,
    #[error(transparent)]
    Core(#[from] CoreError),
}

#[derive(Clone)]
pub struct InboundService {
    deps: Arc<Deps>,
    messages: MessageService,
}

impl InboundService {
    pub(crate) fn new(deps: Arc<Deps>, messages: MessageService) -> Self {
        Self { deps, messages }
    }

    pub async fn receive(&self, mail: InboundMail) -> Result<Message, InboundError> {
        let token = mail
            .recipients
            .iter()
            .find_map(|address| reply_token(address))
            .ok_or(InboundError::UnknownAddress)?;
        let row = resume_token::Entity::find()
            .filter(resume_token::Column::TokenHash.eq(secret::digest(&token)))
            .one(&self.deps.db)
            .await
            .map_err(CoreError::from)?
            .ok_or(InboundError::UnknownAddress)?;
        let now = self.deps.clock.now();
        if now.millis() >= row.expires_at {
            return Err(InboundError::UnknownAddress);
        }
        let company = tenant::Entity::find_by_id(row.tenant_id)
            .one(&self.deps.db)
            .await
            .map_err(CoreError::from)?
            .filter(|t| !t.suspended)
            .ok_or(InboundError::UnknownAddress)?;
        let settings = parse_settings(&company.settings)?;
        // From here the dialog is known: a refusal is a line of its tenant's delivery log.
        match self.take(&row, &settings, &mail, now).await {
            Err(refused) if !matches!(refused, InboundError::Core(_)) => {
                self.log_refusal(&row, &mail.from, &refused).await;
                Err(refused)
            }
            taken => taken,
        }
    }

    async fn take(
        &self,
        row: &resume_token::Model,
        settings: &TenantSettings,
        mail: &InboundMail,
        now: crate::clock::Timestamp,
    ) -> Result<Message, InboundError> {
        if mail.automatic {
            return Err(InboundError::Automatic);
        }
        let from = mail.from.trim();
        let sender_is_visitor = row
            .sent_to
            .as_deref()
            .is_some_and(|to| to.eq_ignore_ascii_case(from));
        let allowed = sender_is_visitor || (settings.replies_from_any_sender && !from.is_empty());
        if !allowed {
            return Err(InboundError::ForeignSender);
        }
        let text = mail.text.trim();
        if text.is_empty() {
            return Err(InboundError::Empty);
        }
        let hour_ago = now.millis().saturating_sub(3_600_000);
        let recent = message::Entity::find()
            .filter(message::Column::TenantId.eq(row.tenant_id))
            .filter(message::Column::ChatId.eq(row.chat_id))
            .filter(message::Column::Channel.eq(MessageChannel::Email))
            .filter(message::Column::CreatedAt.gte(hour_ago))
            .count(&self.deps.db)
            .await
            .map_err(CoreError::from)?;
        if recent >= REPLIES_PER_HOUR {
            return Err(InboundError::Flood);
        }
        let actor = VisitorActor {
            tenant: row.tenant_id,
            visitor: row.visitor_id,
        };
        let body = cut(text, self.deps.limits.max_message_chars);
        // The same mail delivered twice (a provider's retry) is one message.
        let client_id = mail
            .message_id
            .as_deref()
            .map(|id| format!("mail-{}", &secret::digest(id)[..40]));
        let quoted = cut(&without_secrets(mail.quoted.trim()), MAX_QUOTED_CHARS);
        let arrival = Arrival::Email {
            // Operators are told when someone other than the visitor answered.
            foreign_sender: (!sender_is_visitor).then(|| from.chars().take(254).collect()),
            quoted: (!quoted.is_empty()).then_some(quoted),
        };
        Ok(self
            .messages
            .send_as_visitor_by(&actor, &body, client_id.as_deref(), arrival)
            .await?)
    }

    /// "A reply by email from … was refused: …", in the tenant's delivery log.
    async fn log_refusal(&self, row: &resume_token::Model, from: &str, why: &InboundError) {
        let line = delivery::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(row.tenant_id),
            chat_id: Set(row.chat_id),
            visitor_id: Set(row.visitor_id),
            channel: Set(Channel::Email),
            recipient: Set(Some(from.chars().take(254).collect())),
            status: Set(DeliveryStatus::Skipped),
            reason: Set(Some(format!("a reply by email was refused: {why}"))),
            message_ids: Set("[]".into()),
            created_at: Set(self.deps.clock.now().millis()),
        };
        let written = async {
            let txn = self.deps.write().await?;
            delivery::Entity::insert(line)
                .exec_without_returning(&txn)
                .await?;
            txn.commit().await?;
            Ok::<_, CoreError>(())
        };
        if let Err(e) = written.await {
            tracing::warn!(error = %e, "cannot log a refused reply by email");
        }
    }
}

/// `reply+rp_<hex>@…` → `rp_<hex>`, whatever case the mail servers on the way gave it.
fn reply_token(address: &str) -> Option<String> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, _domain) = address.rsplit_once('@')?;
    let token = local.strip_prefix("reply+").or_else(|| {
        local
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("reply+"))
            .map(|_| &local[6..])
    })?;
    let token = token.to_ascii_lowercase();
    secret::looks_like(&token, REPLY_TOKEN).then_some(token)
}

/// The quoted mail is usually Tandem's own, with the visitor's links in it: the resume link
/// (which acts as the visitor), the unsubscribe link and the reply address. Operators see the
/// quote, never those keys.
fn without_secrets(quoted: &str) -> String {
    const KEYS: [&str; 3] = ["resume_token=", "unsubscribe?token=", "reply+rp_"];
    quoted
        .lines()
        .map(|line| {
            if !KEYS
                .iter()
                .any(|key| line.to_ascii_lowercase().contains(key))
            {
                return line.to_owned();
            }
            line.split(' ')
                .map(|word| {
                    let lower = word.to_ascii_lowercase();
                    if KEYS.iter().any(|key| lower.contains(key)) {
                        "[link removed]"
                    } else {
                        word
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// At most `max` characters, cut where a word ends when one does nearby.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let marker = " […]";
    let keep: String = text
        .chars()
        .take(max.saturating_sub(marker.len()))
        .collect();
    let at = keep
        .rfind(char::is_whitespace)
        .filter(|&i| i > keep.len() / 2);
    format!("{}{marker}", &keep[..at.unwrap_or(keep.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_address_in_any_case() {
        let token = format!("rp_{}", "ab12".repeat(10));
        for address in [
            format!("reply+{token}@in.example.com"),
            format!("<REPLY+{}@IN.EXAMPLE.COM>", token.to_uppercase()),
        ] {
            assert_eq!(reply_token(&address), Some(token.clone()), "{address}");
        }
        for address in [
            "support@example.com",
            "reply+rt_x@in.example.com",
            "reply+@x",
            "nope",
        ] {
            assert_eq!(reply_token(address), None, "{address}");
        }
    }

    #[test]
    fn the_visitor_s_keys_are_taken_out_of_the_quote() {
        let quoted = "On Tue, Acme <reply+rp_abc@in.example> wrote:\n\
                      > Continue: https://chat.example/c/wk_1?resume_token=rt_secret\n\
                      > Stop: https://chat.example/api/v1/widget/wk_1/unsubscribe?token=us_x_y\n\
                      > It ships today.";
        let kept = without_secrets(quoted);
        for key in ["rp_abc", "rt_secret", "us_x_y"] {
            assert!(!kept.contains(key), "{kept}");
        }
        assert!(kept.contains("> It ships today."));
        assert!(
            kept.starts_with("On Tue, Acme [link removed] wrote:"),
            "{kept}"
        );
    }

    #[test]
    fn long_replies_are_cut_at_a_word() {
        assert_eq!(cut("short", 100), "short");
        let long = "word ".repeat(100);
        let cut = cut(&long, 50);
        assert!(cut.chars().count() <= 50, "{cut}");
        assert!(cut.ends_with(" […]"));
    }
}

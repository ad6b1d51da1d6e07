//! Visitor sessions (new, restored by token, resumed from an email link) and visitor details.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use crate::chat::{Chat, chat_of_visitor, chat_row_of_visitor};
use crate::clock::Timestamp;
use crate::email::EmailAddress;
use crate::entity::{chat, resume_token, visitor, visitor_token};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::ids::{ChatId, TenantId, VisitorId};
use crate::outbox::OutboxEntry;
use crate::secret;
use crate::services::{Deps, WriteTxn};
use crate::tenant::Tenant;

use super::{Visitor, VisitorActor};

/// Long enough to follow a link, short enough that a copied URL soon opens nothing.
const HAND_OVER_LIFETIME: Duration = Duration::from_secs(10 * 60);

const VISITOR_TOKEN: &str = "vt";
/// Email links: reusable until they expire, as the visitor may open the mail again.
const RESUME_TOKEN: &str = "rt";
/// Hand-over links (the hosted chat to the company's site): good for one use.
const HAND_OVER_TOKEN: &str = "ht";
/// The `Reply-To` of a mail: lets a reply by email into the dialog, never restores it.
pub(crate) const REPLY_TOKEN: &str = "rp";
/// How long a mail can be answered.
const REPLY_LIFETIME: Duration = Duration::from_secs(180 * 24 * 3600);

/// How a widget asks for a session: with nothing (a new visitor), its stored token, or the
/// resume token from an email link (with the device's own token when it has one).
#[derive(Clone, Debug, Default)]
pub struct SessionRequest {
    pub visitor_token: Option<String>,
    pub resume_token: Option<String>,
    /// The person at the device agreed to leave its own dialog for the link's.
    pub replace: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub actor: VisitorActor,
    /// The token this device keeps; new when the visitor or the device is new.
    pub visitor_token: String,
    pub chat: Option<Chat>,
}

/// A change to what the visitor told us; absent fields keep their value.
#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub email: Option<String>,
    pub locale: Option<String>,
}

#[derive(Clone)]
pub struct VisitorService {
    pub(super) deps: Arc<Deps>,
    /// When the operators last heard of each visitor's pages.
    pub(super) context_feed: super::context_feed::SharedFeed,
}

impl VisitorService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self {
            deps,
            context_feed: Default::default(),
        }
    }

    pub(super) fn deps(&self) -> &Deps {
        &self.deps
    }

    pub async fn start_session(
        &self,
        tenant: &Tenant,
        request: SessionRequest,
    ) -> CoreResult<Session> {
        if let Some(resume) = request.resume_token.as_deref() {
            return self
                .resume(
                    tenant.id,
                    resume,
                    request.visitor_token.as_deref(),
                    request.replace,
                )
                .await;
        }
        if let Some(token) = request.visitor_token {
            let actor = self.authenticate(tenant.id, &token).await?;
            let chat = self.chat_of(&actor).await?;
            return Ok(Session {
                actor,
                visitor_token: token,
                chat,
            });
        }
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let id = VisitorId::new();
        visitor::Entity::insert(visitor::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.id),
            name: Set(None),
            email: Set(None),
            locale: Set(None),
            online: Set(false),
            leaving_at: Set(None),
            created_at: Set(now.millis()),
            last_seen_at: Set(now.millis()),
            emails_stopped: Set(false),
            email_confirmed: Set(None),
            visits: Set(0),
            visit_started_at: Set(None),
            referrer: Set(None),
            user_agent: Set(None),
            time_zone: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        let token = issue_visitor_token(&txn, tenant.id, id, now).await?;
        txn.commit().await?;
        self.deps
            .count(tenant.id, crate::usage::Metric::NewVisitors, 1);
        Ok(Session {
            actor: VisitorActor {
                tenant: tenant.id,
                visitor: id,
            },
            visitor_token: token,
            chat: None,
        })
    }

    /// The visitor a token belongs to, within this tenant only.
    pub async fn authenticate(&self, tenant: TenantId, token: &str) -> CoreResult<VisitorActor> {
        let unknown = CoreError::Unauthorized("unknown visitor token");
        if !secret::looks_like(token, VISITOR_TOKEN) {
            return Err(unknown);
        }
        let row = visitor_token::Entity::find()
            .filter(visitor_token::Column::TokenHash.eq(secret::digest(token)))
            .filter(visitor_token::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(unknown)?;
        Ok(VisitorActor {
            tenant,
            visitor: row.visitor_id,
        })
    }

    pub async fn get(&self, actor: &VisitorActor) -> CoreResult<Visitor> {
        Ok(load(&self.deps.db, actor).await?.into())
    }

    pub async fn update_profile(
        &self,
        actor: &VisitorActor,
        patch: ProfilePatch,
    ) -> CoreResult<Visitor> {
        let name = patch
            .name
            .as_deref()
            .map(crate::text::parse_name)
            .transpose()?;
        let email = patch
            .email
            .as_deref()
            .map(EmailAddress::parse)
            .transpose()?;
        let locale = patch.locale.as_deref().map(parse_locale).transpose()?;
        let change = ProfileChange {
            name,
            email,
            locale,
        };
        if change.is_empty() {
            return Ok(load(&self.deps.db, actor).await?.into());
        }
        let txn = self.deps.write().await?;
        let (updated, revived) = write_profile(&txn, actor, &change, self.deps.clock.now()).await?;
        // Operators see the visitor's name and address on the chat (not their locale).
        let shown_on_chat = change.name.is_some() || change.email.is_some();
        let chat = if shown_on_chat {
            chat_row_of_visitor(&txn, actor.tenant, actor.visitor).await?
        } else {
            None
        };
        txn.commit().await?;
        crate::delivery::schedule_revived(&self.deps, &revived).await;
        if let Some(chat) = chat {
            self.deps.publish(DomainEvent::ChatUpdated {
                tenant: actor.tenant,
                chat: Chat::from_rows(chat, &updated),
            });
        }
        Ok(updated.into())
    }

    /// A short-lived resume token for the visitor's own dialog, to carry it from the hosted chat
    /// to the company's site (another origin, so another storage) in the same browser.
    pub async fn hand_over(&self, actor: &VisitorActor) -> CoreResult<String> {
        let (chat, _) = chat_of_visitor(&self.deps.db, actor.tenant, actor.visitor)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        self.insert_resume_token(actor.tenant, chat.id, HAND_OVER_LIFETIME, HAND_OVER_TOKEN)
            .await
    }

    /// A secret for an email link that brings the visitor back to this chat, on any device,
    /// until it expires.
    pub async fn issue_resume_token(
        &self,
        tenant: TenantId,
        chat: ChatId,
        valid_for: Duration,
    ) -> CoreResult<String> {
        self.insert_resume_token(tenant, chat, valid_for, RESUME_TOKEN)
            .await
    }

    /// The token of a mail's `Reply-To` address (lowercase: it travels in an address's local
    /// part): a reply sent to it from `address` becomes a message in the dialog.
    pub async fn issue_reply_token(
        &self,
        tenant: TenantId,
        chat: ChatId,
        address: &str,
    ) -> CoreResult<String> {
        let token = secret::generate_hex(REPLY_TOKEN);
        self.store_token(tenant, chat, REPLY_LIFETIME, &token, Some(address))
            .await?;
        Ok(token)
    }

    async fn insert_resume_token(
        &self,
        tenant: TenantId,
        chat: ChatId,
        valid_for: Duration,
        kind: &str,
    ) -> CoreResult<String> {
        let token = secret::generate(kind);
        self.store_token(tenant, chat, valid_for, &token, None)
            .await?;
        Ok(token)
    }

    async fn store_token(
        &self,
        tenant: TenantId,
        chat: ChatId,
        valid_for: Duration,
        token: &str,
        sent_to: Option<&str>,
    ) -> CoreResult<()> {
        let row = chat::Entity::find_by_id(chat)
            .filter(chat::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let issued = Issued {
            visitor: row.visitor_id,
            chat,
            sent_to,
            now,
        };
        insert_token(&txn, tenant, &issued, token, valid_for).await?;
        txn.commit().await?;
        Ok(())
    }

    /// The dialog a link restores. A device that has a dialog of its own (another visitor's,
    /// with a chat) keeps it unless `replace`: a link must never silently put someone into a
    /// conversation that is not theirs, nor take theirs away.
    async fn resume(
        &self,
        tenant: TenantId,
        token: &str,
        device_token: Option<&str>,
        replace: bool,
    ) -> CoreResult<Session> {
        let unknown = || CoreError::Unauthorized("unknown resume link");
        let single_use = secret::looks_like(token, HAND_OVER_TOKEN);
        if !single_use && !secret::looks_like(token, RESUME_TOKEN) {
            return Err(unknown());
        }
        let row = resume_token::Entity::find()
            .filter(resume_token::Column::TokenHash.eq(secret::digest(token)))
            .filter(resume_token::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .ok_or_else(unknown)?;
        let now = self.deps.clock.now();
        if now.millis() >= row.expires_at {
            return Err(CoreError::Unauthorized("this link has expired"));
        }
        let actor = VisitorActor {
            tenant,
            visitor: row.visitor_id,
        };
        let device = match device_token {
            Some(device) => self.authenticate(tenant, device).await.ok(),
            None => None,
        };
        if let Some(device) = device
            && device.visitor != actor.visitor
            && !replace
            && self.chat_of(&device).await?.is_some()
        {
            return Err(CoreError::Conflict(
                "this device has a conversation of its own; open the link's instead only if the person here agrees (replace: true)".into(),
            ));
        }
        // Using the link, confirming the address and this device's token: one write.
        let txn = self.deps.write().await?;
        if single_use {
            let taken = resume_token::Entity::delete_many()
                .filter(resume_token::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
            if taken.rows_affected != 1 {
                // Another request used it a moment ago.
                return Err(unknown());
            }
        }
        if let Some(address) = &row.sent_to {
            // Only the address the link went to, and only while it is still the visitor's.
            visitor::Entity::update_many()
                .col_expr(
                    visitor::Column::EmailConfirmed,
                    Expr::value(address.clone()),
                )
                .filter(visitor::Column::Id.eq(row.visitor_id))
                .filter(visitor::Column::TenantId.eq(tenant))
                .filter(visitor::Column::Email.eq(address.clone()))
                .exec(&txn)
                .await?;
        }
        let visitor_token = match (device, device_token) {
            // The same visitor on the same device: nothing to swap.
            (Some(device), Some(device_token)) if device.visitor == actor.visitor => {
                device_token.to_owned()
            }
            // This device gets a token of its own; the visitor's other devices keep theirs.
            _ => issue_visitor_token(&txn, tenant, row.visitor_id, now).await?,
        };
        txn.commit().await?;
        let chat = self.chat_of(&actor).await?;
        Ok(Session {
            actor,
            visitor_token,
            chat,
        })
    }

    /// The visitor's chat, if they ever wrote.
    pub async fn chat_of(&self, actor: &VisitorActor) -> CoreResult<Option<Chat>> {
        let found = chat_of_visitor(&self.deps.db, actor.tenant, actor.visitor).await?;
        Ok(found.map(|(chat, visitor)| Chat::from_rows(chat, &visitor)))
    }
}

/// A visitor's new details, checked.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<EmailAddress>,
    pub locale: Option<String>,
}

impl ProfileChange {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none() && self.locale.is_none()
    }
}

/// Writes the visitor's new details. A new address also revives the unread replies skipped for
/// want of one, in the same transaction: they are returned for the scheduler, to hand over once
/// it commits.
pub(crate) async fn write_profile(
    txn: &WriteTxn,
    actor: &VisitorActor,
    change: &ProfileChange,
    now: Timestamp,
) -> CoreResult<(visitor::Model, Vec<OutboxEntry>)> {
    // Proves the visitor is this tenant's before anything is written.
    let row = load(txn, actor).await?;
    if change.is_empty() {
        return Ok((row, Vec::new()));
    }
    let mut update = visitor::ActiveModel {
        id: Set(actor.visitor),
        ..Default::default()
    };
    if let Some(name) = &change.name {
        update.name = Set(Some(name.clone()));
    }
    if let Some(email) = &change.email {
        update.email = Set(Some(email.to_string()));
    }
    if let Some(locale) = &change.locale {
        update.locale = Set(Some(locale.clone()));
    }
    let updated = visitor::Entity::update(update).exec(txn).await?;
    let revived = match &change.email {
        Some(_) => crate::delivery::revive_for_new_address(txn, actor, now).await?,
        None => Vec::new(),
    };
    Ok((updated, revived))
}

pub(crate) async fn load(
    db: &impl ConnectionTrait,
    actor: &VisitorActor,
) -> CoreResult<visitor::Model> {
    visitor::Entity::find_by_id(actor.visitor)
        .filter(visitor::Column::TenantId.eq(actor.tenant))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("visitor"))
}

async fn issue_visitor_token(
    db: &WriteTxn,
    tenant: TenantId,
    visitor: VisitorId,
    now: Timestamp,
) -> CoreResult<String> {
    let token = secret::generate(VISITOR_TOKEN);
    visitor_token::Entity::insert(visitor_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        visitor_id: Set(visitor),
        token_hash: Set(secret::digest(&token)),
        created_at: Set(now.millis()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// A BCP 47 language tag such as `en` or `ru-RU`.
pub(crate) fn parse_locale(raw: &str) -> CoreResult<String> {
    let ok = (2..=35).contains(&raw.len())
        && raw.split('-').all(|part| {
            !part.is_empty() && part.len() <= 8 && part.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(CoreError::invalid(
            "locale",
            "must be a language tag such as en or ru-RU",
        ))
    }
}

/// Whom a token is issued to, and when.
pub(crate) struct Issued<'a> {
    pub visitor: VisitorId,
    pub chat: ChatId,
    /// The address the token is mailed to, if any.
    pub sent_to: Option<&'a str>,
    pub now: Timestamp,
}

/// The resume link and `Reply-To` token of a mail to `issued.sent_to`, written in the caller's
/// transaction (a delivery's claim): `(resume, reply)`, the reply token when `reply` asks.
/// Following the link also confirms that the visitor reads mail there (while their address is
/// still that one).
pub(crate) async fn insert_mail_tokens(
    txn: &WriteTxn,
    tenant: TenantId,
    issued: &Issued<'_>,
    resume_for: Duration,
    reply: bool,
) -> CoreResult<(String, Option<String>)> {
    let resume = secret::generate(RESUME_TOKEN);
    insert_token(txn, tenant, issued, &resume, resume_for).await?;
    let reply = match reply {
        true => {
            let token = secret::generate_hex(REPLY_TOKEN);
            insert_token(txn, tenant, issued, &token, REPLY_LIFETIME).await?;
            Some(token)
        }
        false => None,
    };
    Ok((resume, reply))
}

async fn insert_token(
    txn: &WriteTxn,
    tenant: TenantId,
    issued: &Issued<'_>,
    token: &str,
    valid_for: Duration,
) -> CoreResult<()> {
    resume_token::Entity::insert(resume_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant),
        visitor_id: Set(issued.visitor),
        chat_id: Set(issued.chat),
        token_hash: Set(secret::digest(token)),
        created_at: Set(issued.now.millis()),
        expires_at: Set(issued.now.saturating_add(valid_for).millis()),
        sent_to: Set(issued.sent_to.map(str::to_owned)),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

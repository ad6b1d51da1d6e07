//! The tenant's recent real cases, as a trial replays them: each with the facts its hook was
//! (or would have been) told at the time.

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::TRIAL_CASES;
use crate::alert::{AlertToRoute, OperatorAlert};
use crate::automation::{ClosedFacts, DialogContext, RequestFacts, Staff, TenantFacts};
use crate::chat::{Category, chat_with_visitor};
use crate::clock::Timestamp;
use crate::delivery::{UnreadBatch, batch_of};
use crate::entity::{chat, delivery, message, operator_alert, user, visitor};
use crate::error::CoreResult;
use crate::ids::{MessageId, TenantId};
use crate::message::MessageChannel;

/// Delivery log lines read to find [`TRIAL_CASES`] distinct batches (a batch may have an email
/// line and webhook lines).
const DELIVERY_LINES: u64 = 50;

/// An offline request, as the offline-request hook was told it.
pub(super) struct RequestCase {
    pub ctx: DialogContext,
    pub request: RequestFacts,
}

/// A batch of unread replies that went out (or was skipped), as the delivery hooks saw it.
pub(super) struct UnreadCase {
    pub batch: UnreadBatch,
    /// When the first reply was written: when the offline timeout was asked.
    pub replied_at: Timestamp,
    /// When the batch was delivered: when the template and routes were asked.
    pub delivered_at: Timestamp,
}

/// A chat an operator closed.
pub(super) struct ClosedCase {
    pub ctx: DialogContext,
    pub closed: ClosedFacts,
}

/// The newest offline requests, newest first. The page the visitor was on is not kept, so
/// the hook is told none.
pub(super) async fn offline_requests(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Vec<RequestCase>> {
    let requests = message::Entity::find()
        .filter(message::Column::TenantId.eq(tenant))
        .filter(message::Column::Channel.eq(MessageChannel::OfflineForm))
        .order_by_desc(message::Column::CreatedAt)
        .limit(TRIAL_CASES)
        .all(db)
        .await?;
    let mut cases = Vec::with_capacity(requests.len());
    for request in requests {
        let (_, visitor) = chat_with_visitor(db, tenant, request.chat_id).await?;
        let at = Timestamp::from_millis(request.created_at);
        let ctx = DialogContext::load(db, tenant, request.chat_id, &visitor, at).await?;
        cases.push(RequestCase {
            ctx,
            request: RequestFacts {
                name: visitor.name.clone(),
                email: visitor.email.clone().unwrap_or_default(),
                message: request.body,
                page_url: None,
            },
        });
    }
    Ok(cases)
}

/// The newest batches in the delivery log, newest first, each once.
pub(super) async fn unread_batches(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Vec<UnreadCase>> {
    let lines = delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(tenant))
        .order_by_desc(delivery::Column::CreatedAt)
        .limit(DELIVERY_LINES)
        .all(db)
        .await?;
    let mut seen: Vec<String> = Vec::new();
    let mut cases = Vec::new();
    for line in lines {
        if cases.len() as u64 >= TRIAL_CASES {
            break;
        }
        if seen.contains(&line.message_ids) {
            continue;
        }
        seen.push(line.message_ids.clone());
        let ids: Vec<MessageId> = serde_json::from_str(&line.message_ids).unwrap_or_default();
        let replies = message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::ChatId.eq(line.chat_id))
            .order_by_asc(message::Column::Seq)
            .all(db)
            .await?;
        let Some(first) = replies.first() else {
            continue;
        };
        let replied_at = Timestamp::from_millis(first.created_at);
        let (chat, visitor) = chat_with_visitor(db, tenant, line.chat_id).await?;
        cases.push(UnreadCase {
            batch: batch_of(db, chat, visitor, replies).await?,
            replied_at,
            delivered_at: Timestamp::from_millis(line.created_at),
        });
    }
    Ok(cases)
}

/// The chats closed most recently, newest first. Who closed a chat is not kept: the hook is
/// told the name of the operator it was assigned to.
pub(super) async fn closed_chats(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Vec<ClosedCase>> {
    let chats = chat::Entity::find()
        .filter(chat::Column::TenantId.eq(tenant))
        .filter(chat::Column::Category.eq(Category::Closed))
        .order_by_desc(chat::Column::LastMessageAt)
        .limit(TRIAL_CASES)
        .find_also_related(visitor::Entity)
        .all(db)
        .await?;
    let mut cases = Vec::with_capacity(chats.len());
    for (row, visitor) in chats {
        let Some(visitor) = visitor else {
            continue;
        };
        let closed_at = Timestamp::from_millis(row.closed_at.unwrap_or(row.last_message_at));
        let closed_by = match row.operator_id {
            Some(id) => user::Entity::find_by_id(id)
                .filter(user::Column::TenantId.eq(tenant))
                .one(db)
                .await?
                .map(|u| u.name),
            None => None,
        };
        let ctx = DialogContext::load(db, tenant, row.id, &visitor, closed_at).await?;
        cases.push(ClosedCase {
            ctx,
            closed: ClosedFacts {
                closed_by: closed_by.unwrap_or_else(|| "An operator".to_owned()),
                messages: u32::try_from(row.last_seq).unwrap_or(u32::MAX),
                opened_at: Timestamp::from_millis(row.created_at),
                closed_at,
            },
        });
    }
    Ok(cases)
}

/// The newest alerts for the operators, newest first, each as its routing was (or would have
/// been) told it.
pub(super) async fn recent_alerts(
    db: &impl ConnectionTrait,
    tenant: TenantId,
) -> CoreResult<Vec<AlertToRoute>> {
    let alerts = operator_alert::Entity::find()
        .filter(operator_alert::Column::TenantId.eq(tenant))
        .order_by_desc(operator_alert::Column::CreatedAt)
        .limit(TRIAL_CASES)
        .all(db)
        .await?;
    let mut cases = Vec::with_capacity(alerts.len());
    for row in alerts {
        let (_, visitor) = chat_with_visitor(db, tenant, row.chat_id).await?;
        let at = Timestamp::from_millis(row.created_at);
        let ctx = DialogContext::load(db, tenant, row.chat_id, &visitor, at).await?;
        cases.push(AlertToRoute {
            alert: OperatorAlert::from_row(&row, visitor.name.clone()),
            ctx,
            claimed_until: at,
        });
    }
    Ok(cases)
}

/// Who is there to answer now, as the widget would ask.
pub(super) async fn availability_now(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    now: Timestamp,
) -> CoreResult<(TenantFacts, Staff)> {
    let staff = crate::operator::staff(db, tenant).await?;
    Ok((TenantFacts::load(db, tenant, now).await?, staff))
}

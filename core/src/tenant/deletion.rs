//! Deleting a whole tenant, as the platform decides (a company leaves, or asks for its data to
//! go). The platform schedules it after a grace period: the company is suspended at once (its
//! widget and its staff are refused) and the platform may still export its data or call the
//! deletion off. When the time comes, the housekeeping deletes everything it owns, table by
//! table in batches so that no transaction holds the database for long, and lists the bytes it
//! kept in the file store (files, photos, exports) for removal. The tenant row goes last, with
//! its own audit trail; an entry of the installation's records that it was deleted.

use std::time::Duration;

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{QueryOrder, QuerySelect, QueryTrait};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{self, Action, Change, PlatformActor, Target, TargetKind};
use crate::clock::Timestamp;
use crate::entity::{
    alert_digest, alert_digest_item, audit_event, canned_reply, chat, chat_note, chat_rating,
    delivery, dev_mail, email_template, export, file, message, message_edit, operator_alert,
    operator_session, outbox, page_view, plugin, plugin_log, push_send, push_subscription,
    reply_wait, resume_token, tenant, transcript_request, usage_day, user, visitor,
    visitor_connection, visitor_token, webhook_call, webhook_secret,
};
use crate::error::{CoreError, CoreResult};
use crate::events::DomainEvent;
use crate::file::{Variant, remove_later, store_key};
use crate::ids::{ChatId, TenantId};
use crate::services::{Deps, WriteTxn};

use super::{Tenant, TenantService};

/// The grace period unless the platform says otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest grace period.
pub const MAX_GRACE: Duration = Duration::from_secs(365 * 24 * 3600);
/// Rows deleted in one transaction.
const BATCH: u64 = 500;

/// A tenant the housekeeping deleted.
#[derive(Clone, Debug, Default)]
pub struct DeletedTenants {
    pub tenants: Vec<TenantId>,
    /// Their mails in the development mailbox, whose `.eml` files are the caller's to remove.
    pub dev_mails: Vec<Uuid>,
    /// The sha256 of their plugins' modules, for the caller to drop from its caches.
    pub plugin_modules: Vec<String>,
}

#[derive(Serialize)]
struct Scheduled {
    suspended: bool,
    deletion_due_at: Option<Timestamp>,
}

impl TenantService {
    /// Schedules the tenant's deletion after `grace`, and suspends it now.
    pub async fn schedule_deletion(
        &self,
        by: &PlatformActor,
        id: TenantId,
        grace: Duration,
    ) -> CoreResult<Tenant> {
        if grace > MAX_GRACE {
            return Err(CoreError::invalid("grace_days", "must be at most 365 days"));
        }
        let deps = self.deps();
        let now = deps.clock.now();
        let due = now.saturating_add(grace);
        let txn = deps.write().await?;
        let row = tenant::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        if row.deletion_due_at.is_some_and(|at| at <= now.millis()) {
            return Err(begun());
        }
        tenant::Entity::update_many()
            .col_expr(tenant::Column::Suspended, Expr::value(true))
            .col_expr(tenant::Column::DeletionDueAt, Expr::value(due.millis()))
            .filter(tenant::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let before = Scheduled {
            suspended: row.suspended,
            deletion_due_at: row.deletion_due_at.map(Timestamp::from_millis),
        };
        let after = Scheduled {
            suspended: true,
            deletion_due_at: Some(due),
        };
        let target = Target::new(TargetKind::Tenant, id, row.name);
        let change = Change::between(&before, &after);
        let action = Action::TenantDeletionScheduled;
        audit::record(&txn, now, by.into(), Some(id), action, target, change).await?;
        txn.commit().await?;
        deps.publish(DomainEvent::AccessRevoked {
            tenant: id,
            user: None,
            session: None,
        });
        tracing::info!(tenant = %id, due = %due, "tenant deletion scheduled");
        self.by_id(id).await
    }

    /// Calls a scheduled deletion off while its grace period runs; the tenant stays suspended
    /// until the platform resumes it.
    pub async fn cancel_deletion(&self, by: &PlatformActor, id: TenantId) -> CoreResult<Tenant> {
        let deps = self.deps();
        let now = deps.clock.now();
        let txn = deps.write().await?;
        let row = tenant::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("tenant"))?;
        match row.deletion_due_at {
            None => return Err(CoreError::Conflict("no deletion is scheduled".into())),
            Some(due) if due <= now.millis() => return Err(begun()),
            Some(_) => {}
        }
        tenant::Entity::update_many()
            .col_expr(tenant::Column::DeletionDueAt, Expr::value(None::<i64>))
            .filter(tenant::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        let target = Target::new(TargetKind::Tenant, id, row.name);
        let change = Change::between(
            &serde_json::json!({ "deletion_due_at": row.deletion_due_at.map(Timestamp::from_millis) }),
            &serde_json::json!({ "deletion_due_at": null }),
        );
        let action = Action::TenantDeletionCancelled;
        audit::record(&txn, now, by.into(), Some(id), action, target, change).await?;
        txn.commit().await?;
        self.by_id(id).await
    }

    /// Deletes the tenants whose deletion is due, for the housekeeping. A deletion cut short
    /// (a restart, a failing database) goes on where it stopped at the next round.
    pub async fn delete_due(&self) -> CoreResult<DeletedTenants> {
        let deps = self.deps();
        let now = deps.clock.now();
        let due: Vec<TenantId> = tenant::Entity::find()
            .select_only()
            .column(tenant::Column::Id)
            .filter(tenant::Column::DeletionDueAt.lte(now.millis()))
            .order_by_asc(tenant::Column::DeletionDueAt)
            .limit(10)
            .into_tuple()
            .all(&deps.db)
            .await?;
        let mut deleted = DeletedTenants::default();
        // One company's failure (its next round retries it) holds up none of the others.
        for id in due {
            let scheduled_by = scheduled_by(deps, id).await;
            let plugins: Vec<String> = plugin::Entity::find()
                .select_only()
                .column(plugin::Column::Sha256)
                .filter(plugin::Column::TenantId.eq(id))
                .into_tuple()
                .all(&deps.db)
                .await
                .unwrap_or_default();
            let done = async {
                purge(deps, id, &mut deleted.dev_mails).await?;
                finish(deps, id, scheduled_by).await
            };
            match done.await {
                Ok(()) => {
                    deps.quotas.forget(id);
                    deps.tenant_settings.forget(id);
                    deps.usage.forget(id);
                    deleted.tenants.push(id);
                    deleted.plugin_modules.extend(plugins);
                    tracing::info!(tenant = %id, "tenant deleted with everything it owned");
                }
                Err(e) => {
                    tracing::warn!(tenant = %id, error = %e, "a tenant's deletion goes on at the next round");
                }
            }
        }
        Ok(deleted)
    }
}

fn begun() -> CoreError {
    CoreError::Conflict("the deletion has begun; it cannot be changed".into())
}

/// Who scheduled the deletion, from the company's trail (which goes with it), for the
/// installation's entry.
async fn scheduled_by(deps: &Deps, id: TenantId) -> Option<serde_json::Value> {
    let entry = audit_event::Entity::find()
        .filter(audit_event::Column::TenantId.eq(id))
        .filter(audit_event::Column::Action.eq(Action::TenantDeletionScheduled))
        .order_by_desc(audit_event::Column::Id)
        .one(&deps.db)
        .await
        .ok()??;
    Some(serde_json::json!({
        "by": entry.actor_label,
        "from": entry.actor_ip,
        "at": Timestamp::from_millis(entry.at),
    }))
}

/// Deletes every row of the tenant in each of these tables, in `txn`.
macro_rules! delete_all {
    ($txn:expr, $id:expr; $($table:ident),+ $(,)?) => {
        $($table::Entity::delete_many()
            .filter($table::Column::TenantId.eq($id))
            .exec($txn)
            .await?;)+
    };
}

/// Deletes every row the tenant owns but the tenant itself; the ids of its dev-mailbox mails,
/// gone with it, are added to `dev_mails` as each batch commits.
async fn purge(deps: &Deps, id: TenantId, dev_mails: &mut Vec<Uuid>) -> CoreResult<()> {
    purge_chats_content(deps, id, dev_mails).await?;
    purge_files(deps, id).await?;
    purge_exports(deps, id).await?;
    macro_rules! purge_rows {
        ($($table:ident),+ $(,)?) => {
            $(purge_by_id::<$table::Entity>(deps, $table::Column::TenantId.eq(id), $table::Column::Id).await?;)+
        };
    }
    purge_rows!(
        chat_note,
        chat_rating,
        delivery,
        outbox,
        webhook_call,
        transcript_request,
        push_send,
        operator_alert,
        reply_wait,
        resume_token,
        visitor_connection,
        visitor_token,
        page_view,
        chat,
        visitor,
        operator_session,
        push_subscription,
        canned_reply,
        plugin_log,
        plugin,
    );
    // Small tables without an `id` of their own: at once.
    let txn = deps.write().await?;
    delete_all!(&txn, id; alert_digest_item, alert_digest, email_template, webhook_secret);
    txn.commit().await?;
    purge_operators(deps, id).await?;
    purge_by_id::<audit_event::Entity>(
        deps,
        audit_event::Column::TenantId.eq(id),
        audit_event::Column::Id,
    )
    .await?;
    Ok(())
}

/// The tenant row and its trail go together, and the installation's trail keeps that it was.
/// Its use counts go in the same transaction, after the tenant row: a flush of counts under
/// way holds that row, and what it wrote is deleted here once it has committed.
async fn finish(
    deps: &Deps,
    id: TenantId,
    scheduled_by: Option<serde_json::Value>,
) -> CoreResult<()> {
    let now = deps.clock.now();
    let txn = deps.write().await?;
    let Some(row) = tenant::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    // Another node finishing the same deletion at the same moment records nothing.
    let gone = tenant::Entity::delete_by_id(id).exec(&txn).await?;
    if gone.rows_affected != 1 {
        return Ok(());
    }
    // An export asked for while the purge ran, and trail entries written since the trail
    // was purged (a platform change during the deletion).
    delete_exports(&txn, id, now).await?;
    delete_all!(&txn, id; usage_day, audit_event);
    let target = Target::new(TargetKind::Tenant, id, &row.name);
    let change = Change::removed(&serde_json::json!({
        "slug": row.slug,
        "name": row.name,
        "created_at": Timestamp::from_millis(row.created_at),
        "deletion_due_at": row.deletion_due_at.map(Timestamp::from_millis),
        "deletion_scheduled": scheduled_by,
    }));
    let by = PlatformActor::schedule();
    audit::record(
        &txn,
        now,
        (&by).into(),
        None,
        Action::TenantDeleted,
        target,
        change,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Messages (with their earlier versions) and dev-mailbox mails, a batch of chats at a time.
async fn purge_chats_content(
    deps: &Deps,
    id: TenantId,
    dev_mails: &mut Vec<Uuid>,
) -> CoreResult<()> {
    let any_dev_mail = dev_mail::Entity::find().count(&deps.db).await? > 0;
    let mut after: Option<ChatId> = None;
    loop {
        let chats: Vec<ChatId> = chat::Entity::find()
            .select_only()
            .column(chat::Column::Id)
            .filter(chat::Column::TenantId.eq(id))
            .apply_if(after, |q, last| q.filter(chat::Column::Id.gt(last)))
            .order_by_asc(chat::Column::Id)
            .limit(BATCH / 10)
            .into_tuple()
            .all(&deps.db)
            .await?;
        let Some(last) = chats.last().copied() else {
            return Ok(());
        };
        purge_by_id::<message_edit::Entity>(
            deps,
            message_edit::Column::TenantId.eq(id).and(
                message_edit::Column::MessageId.in_subquery(
                    message::Entity::find()
                        .select_only()
                        .column(message::Column::Id)
                        .filter(message::Column::ChatId.is_in(chats.iter().copied()))
                        .into_query(),
                ),
            ),
            message_edit::Column::Id,
        )
        .await?;
        purge_by_id::<message::Entity>(
            deps,
            message::Column::TenantId
                .eq(id)
                .and(message::Column::ChatId.is_in(chats.iter().copied())),
            message::Column::Id,
        )
        .await?;
        if any_dev_mail {
            let txn = deps.write().await?;
            let erased = crate::visitor::erase_dev_mails(&txn, &chats).await?;
            txn.commit().await?;
            dev_mails.extend(erased);
        }
        after = Some(last);
    }
}

/// File rows, with their bytes listed for removal in the same transaction.
async fn purge_files(deps: &Deps, id: TenantId) -> CoreResult<()> {
    loop {
        let now = deps.clock.now();
        let txn = deps.write().await?;
        let rows: Vec<(crate::ids::FileId, i64)> = file::Entity::find()
            .select_only()
            .column(file::Column::Id)
            .column(file::Column::ThumbnailSize)
            .filter(file::Column::TenantId.eq(id))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for (file, thumbnail) in &rows {
            remove_later(&txn, id, &store_key(id, *file, Variant::Original), now).await?;
            if *thumbnail > 0 {
                remove_later(&txn, id, &store_key(id, *file, Variant::Thumbnail), now).await?;
            }
        }
        file::Entity::delete_many()
            .filter(file::Column::Id.is_in(rows.iter().map(|(file, _)| *file)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
}

/// Export rows, with their archives' parts listed for removal.
async fn purge_exports(deps: &Deps, id: TenantId) -> CoreResult<()> {
    let txn = deps.write().await?;
    delete_exports(&txn, id, deps.clock.now()).await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes the tenant's exports in `txn`, listing their parts for removal. The rows are locked:
/// a build that completes meanwhile waits, then finds its row gone and removes its parts itself.
async fn delete_exports(txn: &WriteTxn, id: TenantId, now: Timestamp) -> CoreResult<()> {
    let rows = export::Entity::find()
        .filter(export::Column::TenantId.eq(id))
        .lock_exclusive()
        .all(txn)
        .await?;
    for row in &rows {
        for key in crate::export::part_keys(row) {
            remove_later(txn, id, &key, now).await?;
        }
    }
    delete_all!(txn, id; export);
    Ok(())
}

/// Operators last of the rows (chats named them), with their photos listed for removal.
async fn purge_operators(deps: &Deps, id: TenantId) -> CoreResult<()> {
    loop {
        let now = deps.clock.now();
        let txn = deps.write().await?;
        let rows: Vec<(crate::ids::UserId, Option<crate::ids::AvatarId>)> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .column(user::Column::Avatar)
            .filter(user::Column::TenantId.eq(id))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if rows.is_empty() {
            return Ok(());
        }
        for avatar in rows.iter().filter_map(|(_, avatar)| *avatar) {
            remove_later(&txn, id, &crate::operator::avatar_key(id, avatar), now).await?;
        }
        user::Entity::delete_many()
            .filter(user::Column::Id.is_in(rows.iter().map(|(user, _)| *user)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
}

/// Deletes the rows matching `which`, [`BATCH`] to a transaction.
async fn purge_by_id<E: EntityTrait>(
    deps: &Deps,
    which: sea_orm::sea_query::SimpleExpr,
    id: E::Column,
) -> CoreResult<()> {
    loop {
        let txn = deps.write().await?;
        let ids: Vec<Uuid> = E::find()
            .select_only()
            .column(id)
            .filter(which.clone())
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            return Ok(());
        }
        let done = ids.len() as u64;
        E::delete_many().filter(id.is_in(ids)).exec(&txn).await?;
        txn.commit().await?;
        if done < BATCH {
            return Ok(());
        }
    }
}

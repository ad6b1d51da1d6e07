//! Writing messages: the visitor's (which opens or reopens the chat), the operator's (which
//! assigns the chat and writes the unread-reply outbox row), edits, and read marks.
//!
//! Each write is one short transaction that starts with the chat row's update, so that on
//! SQLite the write lock is taken first and on PostgreSQL concurrent writers to one chat queue on
//! that row; the chat's `last_seq` then numbers the new message.

use std::sync::Arc;

use sea_orm::Iterable;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::{Expr, Func, Query};
use sea_orm::{
    ActiveValue::Set, Condition, ConnectionTrait, DbBackend, FromQueryResult, PaginatorTrait,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Statement,
};

use crate::alert::raise_offline_request;
use crate::automation::{DialogContext, RequestDecision, RequestFacts, TenantFacts, within_wait};
use crate::chat::{
    Chat, ChatOf, ChatRead, ChatState, ChatStatus, chat_of_visitor, chat_with_visitor,
    may_handle_chat, store_status,
};
use crate::clock::Timestamp;
use crate::delivery::schedule_revived;
use crate::email::EmailAddress;
use crate::entity::{chat, message, message_edit, outbox};
use crate::error::{CoreError, CoreResult, is_refused_statement, is_unique_violation};
use crate::events::DomainEvent;
use crate::file::FileRecord;
use crate::ids::{AlertId, ChatId, MessageId, OutboxId, TenantId, UserId, VisitorId};
use crate::operator::{OperatorActor, active_operator_by_email, publish_availability};
use crate::outbox::{OutboxEntry, OutboxStatus, clamp_timeout};
use crate::reply_time::{wait_answered, wait_started};
use crate::services::{Deps, WriteTxn};
use crate::storage::UpdatedRow;
use crate::usage::Metric;
use crate::visitor::VisitorActor;
use crate::visitor::service::{ProfileChange, write_profile};

use super::{Arrival, Author, ClientId, EarlierText, Message, MessageBody, MessageChannel, Reader};

/// The offline form: who the visitor is, and what they want.
#[derive(Clone, Debug)]
pub struct OfflineRequest {
    pub name: String,
    pub email: String,
    pub message: String,
    /// The page the visitor was on, when the widget said.
    pub page_url: Option<String>,
}

#[derive(Clone)]
pub struct MessageService {
    deps: Arc<Deps>,
}

/// What one write did to the chat, for the events that follow the commit.
struct Appended {
    message: message::Model,
    chat: chat::Model,
    chat_changed: bool,
    /// The unread-reply notification an operator message wrote, when its job is still to be
    /// queued (a queue that took it in the transaction leaves `None`).
    outbox: Option<OutboxEntry>,
    /// Replies skipped for want of an address, due again now that the visitor left one.
    revived: Vec<OutboxEntry>,
    /// The operators' alert the write raised (an offline request's), to be routed.
    alert: Option<AlertId>,
    /// The message started the visitor's chat.
    started_chat: bool,
}

impl Appended {
    /// A message that changed nothing of its chat but its last message, numbered from the
    /// chat's row as its write left it.
    fn plain(mut message: message::Model, chat: chat::Model, outbox: Option<OutboxEntry>) -> Self {
        number_from(&mut message, &chat);
        Self {
            message,
            chat,
            chat_changed: false,
            outbox,
            revived: Vec::new(),
            alert: None,
            started_chat: false,
        }
    }
}

/// Whether a reply whose write failed with its job's row is written again without it: the queue
/// may have refused the row (a table of another shape, say). Which of the statements failed is
/// not told (on SQLite they run as one query), so a failure that was not the job's fails that
/// second try too. Only a write the database refused: one that may have been committed (the
/// connection lost on the way, a row that did not read back) is never written twice.
fn without_job_row(job_in_row: bool, e: &DbErr) -> bool {
    let again = job_in_row && is_refused_statement(e) && !is_unique_violation(e);
    if again {
        tracing::warn!(error = %e, "a reply's write with its job's row failed; trying it without");
    }
    again
}

/// Where an operator reply's unread-reply job is queued.
#[derive(Clone, Copy, Debug)]
enum JobWith {
    /// By the queue's statement in the reply's transaction, when the queue offers one.
    Row,
    /// After the commit, by [`crate::outbox::NotificationScheduler::schedule`].
    AfterCommit,
}

impl MessageService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// A visitor writes. Opens their chat if they have none, reopens it if closed. Resending a
    /// `client_id` returns the message it first created.
    pub async fn send_as_visitor(
        &self,
        actor: &VisitorActor,
        body: &str,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        self.send_as_visitor_by(actor, body, client_id, Arrival::Widget)
            .await
    }

    /// As [`Self::send_as_visitor`], the message having come in as `arrival` says.
    pub(crate) async fn send_as_visitor_by(
        &self,
        actor: &VisitorActor,
        body: &str,
        client_id: Option<&str>,
        arrival: Arrival,
    ) -> CoreResult<Message> {
        self.send_visitor_message(actor, body, client_id, arrival, None, None)
            .await
    }

    /// A visitor's file, stored and checked: their message, its body the file's name.
    pub(crate) async fn send_file_as_visitor(
        &self,
        actor: &VisitorActor,
        file: &FileRecord,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        let name = file.attachment.name.clone();
        self.send_visitor_message(actor, &name, client_id, Arrival::Widget, None, Some(file))
            .await
    }

    /// The message an earlier send with this client id created, if any (for the visitor who
    /// sent it).
    pub(crate) async fn resent_by_visitor(
        &self,
        actor: &VisitorActor,
        client_id: Option<&str>,
    ) -> CoreResult<Option<Message>> {
        let Some(cid) = ClientId::parse_optional(client_id)? else {
            return Ok(None);
        };
        match visitor_message_by_client_id(&self.deps.db, actor, &cid).await? {
            Some(found) => same_sender(found, Author::Visitor, None).map(Some),
            None => Ok(None),
        }
    }

    /// A visitor's message, and with it (in the same transaction) their new details when
    /// `contact` has them.
    async fn send_visitor_message(
        &self,
        actor: &VisitorActor,
        body: &str,
        client_id: Option<&str>,
        arrival: Arrival,
        contact: Option<&ProfileChange>,
        file: Option<&FileRecord>,
    ) -> CoreResult<Message> {
        let body = MessageBody::parse(body, self.deps.limits.max_message_chars)?;
        let client_id = ClientId::parse_optional(client_id)?;
        // A resend returns what the first send made, and costs nothing of the allowance.
        if let Some(cid) = &client_id
            && let Some(found) = visitor_message_by_client_id(&self.deps.db, actor, cid).await?
        {
            return same_sender(found, Author::Visitor, None);
        }
        // Whether this message starts a wait is known only in the write (an operator may
        // answer at any moment): the tenant's alert comes along in case it does.
        let alert_after = self
            .deps
            .tenant_settings
            .get(&self.deps.db, actor.tenant)
            .await?
            .settings
            .long_wait_alert();
        self.deps
            .quotas
            .charge(&self.deps.db, actor.tenant, Author::Visitor)
            .await?;
        let turn = Turn::Visitor { alert_after };
        // A race (two first messages creating the chat, or one client id sent twice at once)
        // surfaces as a unique-index refusal; the second pass then finds what the winner wrote.
        for attempt in 0..2 {
            match self
                .append_visitor_message(
                    actor,
                    turn,
                    (&body, file),
                    client_id.as_ref(),
                    &arrival,
                    contact,
                )
                .await
            {
                Err(CoreError::Storage(e)) if attempt == 0 && is_unique_violation(&e) => {
                    self.deps.storage.settle().await;
                    if let Some(cid) = &client_id
                        && let Some(found) =
                            visitor_message_by_client_id(&self.deps.db, actor, cid).await?
                    {
                        return same_sender(found, Author::Visitor, None);
                    }
                    continue;
                }
                Err(CoreError::Storage(e)) if is_unique_violation(&e) => {
                    return Err(CoreError::Conflict(
                        "the message collided with another; send it again".into(),
                    ));
                }
                other => return self.after_append(actor.tenant, other?).await,
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// The visitor's message in one transaction that finds their chat (or starts it) with its
    /// first statement: no read before the write.
    async fn append_visitor_message(
        &self,
        actor: &VisitorActor,
        turn: Turn,
        (body, file): (&MessageBody, Option<&FileRecord>),
        client_id: Option<&ClientId>,
        arrival: &Arrival,
        contact: Option<&ProfileChange>,
    ) -> CoreResult<Appended> {
        let now = self.deps.clock.now();
        let mut message = new_message(actor.tenant, Author::Visitor, None, body, client_id, now);
        message.channel = arrival.channel();
        if let Arrival::Email {
            foreign_sender,
            quoted,
        } = arrival
        {
            message.mail_from = foreign_sender.clone();
            message.quoted = quoted.clone();
        }
        attach(&mut message, file)?;
        let backend = self.deps.storage.backend();
        // Built before the turn to write is taken: the writers queued behind wait on the turn.
        let appending = |chat: &ChatRead, message: &message::Model| {
            let with = vec![wait_started(backend, chat, now)?];
            appending(backend, chat, (now, turn), message, with)
        };
        let visitors_chat = ChatOf::Visitor(actor.visitor);
        let plain = file.is_none() && contact.is_none() && !matches!(arrival, Arrival::OfflineForm);
        if plain {
            // An open chat: a closed one reopens, which is more than the statements.
            let open = |read| ChatRead {
                still: Condition::all().add(chat::Column::State.eq(ChatState::Open)),
                read,
                ..ChatRead::any(actor.tenant, visitors_chat)
            };
            let statements = |read| appending(&open(read), &message);
            if let Some(row) = self.append_plainly(statements).await? {
                return Ok(Appended::plain(message, row, None));
            }
        }
        let to_visitors_chat = appending(&ChatRead::any(actor.tenant, visitors_chat), &message)?;
        let txn = self.deps.write().await?;
        let (row, created) = match append_to_chat(&txn, to_visitors_chat, &mut message).await? {
            Some(row) => (row, false),
            None => {
                let started = ChatOf::Id(start_chat(&txn, actor, now).await?);
                let to_started = appending(&ChatRead::any(actor.tenant, started), &message)?;
                let row = append_to_chat(&txn, to_started, &mut message).await?;
                (row.ok_or(CoreError::NotFound("chat"))?, true)
            }
        };
        insert_file(&txn, &message, file, actor.visitor).await?;
        let status = row.status();
        let (row, changed) = store_status(&txn, row, status.visitor_wrote(), now).await?;
        // The operators hear of an offline request whatever becomes of the rest.
        let alert = match arrival {
            Arrival::OfflineForm => raise_offline_request(&txn, &row, &message, now).await?,
            _ => None,
        };
        let revived = match contact {
            Some(contact) => write_profile(&txn, actor, contact, now).await?.1,
            None => Vec::new(),
        };
        txn.commit().await?;
        Ok(Appended {
            message,
            chat: row,
            // A new name or address shows on the chat.
            chat_changed: changed || created || contact.is_some(),
            outbox: None,
            revived,
            alert,
            started_chat: created,
        })
    }

    /// The offline form. It closes nothing: it records who the visitor is and opens the ordinary
    /// chat with their request as its first message, where they can go on writing or edit it.
    /// Then the tenant's plugins may answer it at once, tag it, rate its urgency and assign it.
    pub async fn submit_offline_request(
        &self,
        actor: &VisitorActor,
        request: OfflineRequest,
    ) -> CoreResult<(Chat, Message)> {
        let page_url = request
            .page_url
            .as_deref()
            .map(crate::text::parse_page_url)
            .transpose()?;
        let contact = ProfileChange {
            name: Some(crate::text::parse_name(&request.name)?),
            email: Some(EmailAddress::parse(&request.email)?),
            locale: None,
        };
        let message = self
            .send_visitor_message(
                actor,
                &request.message,
                None,
                Arrival::OfflineForm,
                Some(&contact),
                None,
            )
            .await?;
        let facts = RequestFacts {
            name: contact.name.clone(),
            email: request.email.trim().to_owned(),
            message: message.body.clone(),
            page_url,
        };
        // The request is kept whatever the plugins do; their part failing changes nothing.
        if let Err(e) = self.automate_request(actor, message.chat_id, &facts).await {
            tracing::warn!(tenant = %actor.tenant, error = %e, "an offline request's automation was not applied");
        }
        let chat = self.chat_view(actor.tenant, message.chat_id).await?;
        Ok((chat, message))
    }

    /// Asks the tenant's plugins what to do with an offline request, and does it: the automatic
    /// reply, the tags, the priority and the assignment in one transaction. An operator the
    /// tenant does not have makes the whole answer refused (the plugin's failure).
    async fn automate_request(
        &self,
        actor: &VisitorActor,
        chat_id: ChatId,
        facts: &RequestFacts,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let visitor = crate::visitor::load(&self.deps.db, actor).await?;
        let ctx = DialogContext::load(&self.deps.db, actor.tenant, chat_id, &visitor, now).await?;
        let asked = self.deps.automation.offline_request(&ctx, facts);
        let Some(decided) = within_wait("offline_request", actor.tenant, asked).await else {
            return Ok(());
        };
        let decision = decided.answer;
        let limit = self.deps.limits.max_message_chars;
        let (assignee, reply) =
            match vet_request(&self.deps.db, actor.tenant, limit, &decision).await? {
                Ok(vetted) => vetted,
                Err(reason) => {
                    self.deps
                        .automation
                        .refused(actor.tenant, decided.plugin, "offline_request", &reason)
                        .await;
                    return Ok(());
                }
            };

        let txn = self.deps.write().await?;
        // The visitor still waits for a person: the automatic reply leaves the chat unanswered.
        let mut message = None;
        let mut row = match &reply {
            Some(body) => {
                let mut system = new_message(actor.tenant, Author::System, None, body, None, now);
                let chat = ChatRead::any(actor.tenant, ChatOf::Id(chat_id));
                let backend = txn.get_database_backend();
                let statements =
                    appending(backend, &chat, (now, Turn::Automatic), &system, Vec::new())?;
                let row = append_to_chat(&txn, statements, &mut system)
                    .await?
                    .ok_or(CoreError::NotFound("chat"))?;
                message = Some(system);
                row
            }
            None => chat_with_visitor(&txn, actor.tenant, chat_id).await?.0,
        };
        // A chat an operator already holds (a returning visitor's) stays theirs.
        let mut assigned = false;
        if let Some(user) = assignee
            && row.operator_id.is_none()
            && let Ok(next) = row.status().assigned(Some(user))
        {
            row = store_status(&txn, row, next, now).await?.0;
            assigned = true;
        }
        // Tags add to those the chat has; a priority replaces the earlier one, none keeps it.
        let mut tags: Vec<String> = serde_json::from_str(&row.tags).unwrap_or_default();
        tags.extend(decision.tags.iter().cloned());
        tags.sort();
        tags.dedup();
        let tags = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
        let mut triage =
            chat::Entity::update_many().col_expr(chat::Column::Tags, Expr::value(tags));
        if let Some(priority) = decision.priority {
            triage = triage.col_expr(chat::Column::Priority, Expr::value(priority));
        }
        triage
            .filter(chat::Column::Id.eq(chat_id))
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await?;
        txn.commit().await?;

        let appended_chat = row;
        let chat = self.chat_view(actor.tenant, appended_chat.id).await?;
        self.deps.publish(DomainEvent::ChatUpdated {
            tenant: actor.tenant,
            chat,
        });
        if let Some(message) = message {
            count_message(&self.deps, actor.tenant, message.author);
            self.deps.publish(DomainEvent::MessageCreated {
                tenant: actor.tenant,
                visitor: appended_chat.visitor_id,
                message: Message::from(message),
            });
        }
        if assigned && let Err(e) = publish_availability(&self.deps, actor.tenant).await {
            tracing::warn!(tenant = %actor.tenant, error = %e, "operators' availability not published");
        }
        Ok(())
    }

    /// An operator replies. The chat becomes theirs if it was unassigned (or reopens as theirs if
    /// closed); a chat assigned to someone else takes replies from admins only. The unread-reply
    /// outbox row, and its job where the queue allows, are written in the same transaction.
    pub async fn send_as_operator(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        body: &str,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        self.send_operator_message(actor, chat_id, body, client_id, None)
            .await
    }

    /// An operator's file, stored and checked: their reply, its body the file's name.
    pub(crate) async fn send_file_as_operator(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        file: &FileRecord,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        let name = file.attachment.name.clone();
        self.send_operator_message(actor, chat_id, &name, client_id, Some(file))
            .await
    }

    /// The message an earlier send with this client id created in the chat, if any (for the
    /// operator who sent it).
    pub(crate) async fn resent_by_operator(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        client_id: Option<&str>,
    ) -> CoreResult<Option<Message>> {
        let Some(cid) = ClientId::parse_optional(client_id)? else {
            return Ok(None);
        };
        let (chat, _) = chat_with_visitor(&self.deps.db, actor.tenant, chat_id).await?;
        match by_client_id(&self.deps.db, chat.id, &cid).await? {
            Some(found) => same_sender(found, Author::Operator, Some(actor)).map(Some),
            None => Ok(None),
        }
    }

    /// Whether the operator may answer the chat now (before a file is stored for it).
    pub(crate) async fn check_may_answer(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
    ) -> CoreResult<()> {
        let (chat, _) = chat_with_visitor(&self.deps.db, actor.tenant, chat_id).await?;
        may_handle_chat(actor, chat.operator_id)
    }

    async fn send_operator_message(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        body: &str,
        client_id: Option<&str>,
        file: Option<&FileRecord>,
    ) -> CoreResult<Message> {
        let body = MessageBody::parse(body, self.deps.limits.max_message_chars)?;
        let client_id = ClientId::parse_optional(client_id)?;
        let (chat, visitor) = chat_with_visitor(&self.deps.db, actor.tenant, chat_id).await?;
        if let Some(cid) = &client_id
            && let Some(found) = by_client_id(&self.deps.db, chat.id, cid).await?
        {
            return same_sender(found, Author::Operator, Some(actor));
        }
        may_handle_chat(actor, chat.operator_id)?;

        // Ask the policy (possibly a tenant plugin) before the transaction, never inside it.
        let now = self.deps.clock.now();
        let facts = TenantFacts::kept(&self.deps, actor.tenant, now).await?;
        let context = DialogContext::of(facts, chat.id, &visitor);
        let due_at = now.saturating_add(clamp_timeout(
            crate::outbox::bounded_timeout(self.deps.timeout_policy.as_ref(), &context).await,
        ));
        self.deps
            .quotas
            .charge(&self.deps.db, actor.tenant, Author::Operator)
            .await?;

        let append = |job| {
            self.append_operator_message(
                actor,
                &chat,
                (&body, file),
                client_id.as_ref(),
                (now, due_at),
                job,
            )
        };
        let appended = match append(JobWith::Row).await {
            // The write failed with the job's row in it (the queue may have refused the row: a
            // table of another shape, say): the reply must not fail for it; it is written again
            // without, and its job queued after the commit.
            Ok(None) => append(JobWith::AfterCommit).await,
            other => other,
        }
        // Only a write with a job's row answers `None`, and the second pass has none.
        .and_then(|appended| appended.ok_or(CoreError::NotFound("chat")));
        let appended = match appended {
            Err(CoreError::Storage(e)) if is_unique_violation(&e) => {
                // The same client id won a race: answer with that message.
                let cid = client_id.as_ref().ok_or(CoreError::Storage(e))?;
                self.deps.storage.settle().await;
                let found = by_client_id(&self.deps.db, chat.id, cid)
                    .await?
                    .ok_or(CoreError::NotFound("message"))?;
                return same_sender(found, Author::Operator, Some(actor));
            }
            other => other?,
        };
        let assignment_changed = appended.chat.operator_id != chat.operator_id;
        if let Some(entry) = &appended.outbox
            && let Err(e) = self.deps.scheduler.schedule(entry).await
        {
            // The outbox row is committed: the sweep delivers it even so.
            tracing::warn!(error = %e, message = %entry.message, "unread-reply notification left to the sweep");
        }
        let message = self.after_append(actor.tenant, appended).await?;
        if assignment_changed {
            publish_availability(&self.deps, actor.tenant).await?;
        }
        Ok(message)
    }

    /// The reply's write; `None` when `job` asked for its job's row and the write failed with
    /// it (the transaction is rolled back then, and the caller tries again without).
    async fn append_operator_message(
        &self,
        actor: &OperatorActor,
        read_before: &chat::Model,
        (body, file): (&MessageBody, Option<&FileRecord>),
        client_id: Option<&ClientId>,
        (now, due_at): (Timestamp, Timestamp),
        job: JobWith,
    ) -> CoreResult<Option<Appended>> {
        let chat_id = read_before.id;
        let mut message = new_message(
            actor.tenant,
            Author::Operator,
            Some(actor),
            body,
            client_id,
            now,
        );
        attach(&mut message, file)?;
        let entry = OutboxEntry {
            id: OutboxId::new(),
            tenant: actor.tenant,
            chat: chat_id,
            message: message.id,
            due_at,
        };
        // Built before the turn to write is taken: the writers queued behind wait on the turn.
        let backend = self.deps.storage.backend();
        let job_row = match job {
            JobWith::Row => self.deps.scheduler.enqueue_with_row(backend, &entry),
            JobWith::AfterCommit => None,
        };
        let job_in_row = job_row.is_some();
        let outbox = outbox_row(&entry, now);
        let to_schedule = (!job_in_row).then_some(entry);
        let statements = |chat: &ChatRead, message: &message::Model| {
            let mut with = vec![
                wait_answered(backend, chat, chat_id, actor.user, now),
                insert_from_chat(backend, chat, &outbox, |_| None)?,
            ];
            if let Some(job_row) = &job_row {
                with.push(job_row.inserted_from(backend, chat.select())?);
            }
            appending(backend, chat, (now, Turn::Operator), message, with)
        };
        if file.is_none() {
            let answerable = |read| ChatRead {
                still: answerable_as_it_was(actor, read_before, read),
                read,
                ..ChatRead::any(actor.tenant, ChatOf::Id(chat_id))
            };
            let plainly = |read| statements(&answerable(read), &message);
            match self.append_plainly(plainly).await {
                Ok(Some(row)) => return Ok(Some(Appended::plain(message, row, to_schedule))),
                Ok(None) => {}
                Err(CoreError::Storage(e)) if without_job_row(job_in_row, &e) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let chat = ChatRead::any(actor.tenant, ChatOf::Id(chat_id));
        let statements = statements(&chat, &message)?;
        let txn = self.deps.write().await?;
        let row = match append_to_chat(&txn, statements, &mut message).await {
            Err(CoreError::Storage(e)) if without_job_row(job_in_row, &e) => return Ok(None),
            other => other?.ok_or(CoreError::NotFound("chat"))?,
        };
        // Checked again on the locked row: the chat may have been given to someone else since
        // (the transaction, dropped, takes back what the statements wrote).
        may_handle_chat(actor, row.operator_id)?;
        insert_file(&txn, &message, file, row.visitor_id).await?;
        let (row, changed) = store_status(
            &txn,
            row.clone(),
            row.status().operator_replied(actor.user),
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(Some(Appended {
            message,
            chat: row,
            chat_changed: changed,
            outbox: to_schedule,
            revived: Vec::new(),
            alert: None,
            started_chat: false,
        }))
    }

    /// The visitor corrects one of their own messages. Every earlier text is kept.
    pub async fn edit_as_visitor(
        &self,
        actor: &VisitorActor,
        id: MessageId,
        body: &str,
    ) -> CoreResult<Message> {
        let body = MessageBody::parse(body, self.deps.limits.max_message_chars)?;
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let row = visitor_message(&txn, actor, id).await?;
        if row.author != Author::Visitor {
            return Err(CoreError::NotAllowed(
                "visitors can edit only their own messages",
            ));
        }
        if row.attachment.is_some() || row.deleted_at.is_some() {
            return Err(CoreError::Conflict(
                "a file cannot be edited: delete it and send another".into(),
            ));
        }
        if row.body == body.as_str() {
            return Ok(row.into());
        }
        message_edit::Entity::insert(message_edit::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(actor.tenant),
            message_id: Set(row.id),
            body: Set(row.body.clone()),
            written_at: Set(row.edited_at.unwrap_or(row.created_at)),
            replaced_at: Set(now.millis()),
        })
        .exec_without_returning(&txn)
        .await?;
        message::Entity::update_many()
            .col_expr(message::Column::Body, Expr::value(body.as_str()))
            .col_expr(message::Column::EditedAt, Expr::value(now.millis()))
            .filter(message::Column::Id.eq(row.id))
            .filter(message::Column::TenantId.eq(actor.tenant))
            .exec(&txn)
            .await?;
        // The newest message is the chat's preview: an edit of it changes the preview too.
        chat::Entity::update_many()
            .col_expr(
                chat::Column::Preview,
                Expr::value(preview_of(body.as_str())),
            )
            .filter(chat::Column::Id.eq(row.chat_id))
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .filter(chat::Column::LastSeq.eq(row.seq))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        let message = Message::from(message::Model {
            body: body.into_string(),
            edited_at: Some(now.millis()),
            ..row
        });
        self.deps.publish(DomainEvent::MessageUpdated {
            tenant: actor.tenant,
            visitor: actor.visitor,
            message: message.clone(),
        });
        Ok(message)
    }

    /// The visitor deletes one of their files: the message keeps its place in the dialog,
    /// empty, and the file is gone for everyone.
    pub async fn delete_as_visitor(
        &self,
        actor: &VisitorActor,
        id: MessageId,
    ) -> CoreResult<Message> {
        let found = visitor_message(&self.deps.db, actor, id).await?;
        if found.author != Author::Visitor {
            return Err(CoreError::NotAllowed(
                "visitors can delete only their own files",
            ));
        }
        self.delete_file_message(actor.tenant, found.chat_id, id, actor.visitor)
            .await
    }

    /// An operator deletes a file they sent.
    pub async fn delete_as_operator(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        id: MessageId,
    ) -> CoreResult<Message> {
        let (chat, _) = chat_with_visitor(&self.deps.db, actor.tenant, chat_id).await?;
        let found = message::Entity::find_by_id(id)
            .filter(message::Column::TenantId.eq(actor.tenant))
            .filter(message::Column::ChatId.eq(chat.id))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("message"))?;
        if found.author != Author::Operator || found.operator_id != Some(actor.user) {
            return Err(CoreError::NotAllowed(
                "operators can delete only files they sent",
            ));
        }
        self.delete_file_message(actor.tenant, chat.id, id, chat.visitor_id)
            .await
    }

    /// Deletes a file message whose sender was checked. The chat row is locked first, as read
    /// marks and deliveries lock it, and the message read again under it: two deletes at once
    /// delete once.
    async fn delete_file_message(
        &self,
        tenant: TenantId,
        chat_id: ChatId,
        id: MessageId,
        visitor: VisitorId,
    ) -> CoreResult<Message> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        crate::delivery::lock_chat(&txn, tenant, chat_id).await?;
        let row = message::Entity::find_by_id(id)
            .filter(message::Column::TenantId.eq(tenant))
            .filter(message::Column::ChatId.eq(chat_id))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("message"))?;
        if row.deleted_at.is_some() {
            return Ok(row.into());
        }
        if row.attachment.is_none() {
            return Err(CoreError::Conflict(
                "only a file can be deleted; a text can be edited".into(),
            ));
        }
        message::Entity::update_many()
            .col_expr(message::Column::Body, Expr::value(""))
            .col_expr(message::Column::Attachment, Expr::value(None::<String>))
            .col_expr(message::Column::DeletedAt, Expr::value(now.millis()))
            .filter(message::Column::Id.eq(row.id))
            .filter(message::Column::TenantId.eq(tenant))
            .exec(&txn)
            .await?;
        let file = crate::entity::file::Entity::find()
            .filter(crate::entity::file::Column::MessageId.eq(row.id))
            .filter(crate::entity::file::Column::TenantId.eq(tenant))
            .one(&txn)
            .await?;
        crate::entity::file::Entity::update_many()
            .col_expr(
                crate::entity::file::Column::DeletedAt,
                Expr::value(now.millis()),
            )
            .filter(crate::entity::file::Column::MessageId.eq(row.id))
            .filter(crate::entity::file::Column::TenantId.eq(tenant))
            .exec(&txn)
            .await?;
        // A deleted newest message is no preview.
        chat::Entity::update_many()
            .col_expr(chat::Column::Preview, Expr::value(None::<String>))
            .filter(chat::Column::Id.eq(chat_id))
            .filter(chat::Column::TenantId.eq(tenant))
            .filter(chat::Column::LastSeq.eq(row.seq))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        // Its bytes go now if the store answers in time, else at a housekeeping round.
        if let Some(file) = file
            && let Err(e) = crate::file::purge_deleted(&self.deps, Some(file.id)).await
        {
            tracing::warn!(error = %e, "a deleted file is left to the housekeeping");
        }
        let message = Message::from(message::Model {
            body: String::new(),
            attachment: None,
            deleted_at: Some(now.millis()),
            ..row
        });
        self.deps.publish(DomainEvent::MessageUpdated {
            tenant,
            visitor,
            message: message.clone(),
        });
        Ok(message)
    }

    /// The visitor has seen the operator's messages up to and including `up_to`. Their pending
    /// unread-reply notifications are settled at once.
    pub async fn mark_read_by_visitor(
        &self,
        actor: &VisitorActor,
        up_to: MessageId,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let txn = self.deps.write().await?;
        let target = visitor_message(&txn, actor, up_to).await?;
        // Before the messages and outbox rows, as a delivery claim does (no lock-order cycles).
        crate::delivery::lock_chat(&txn, actor.tenant, target.chat_id).await?;
        let read = message::Entity::update_many()
            .col_expr(message::Column::ReadByVisitorAt, Expr::value(now.millis()))
            .filter(message::Column::ChatId.eq(target.chat_id))
            .filter(message::Column::Author.eq(Author::Operator))
            .filter(message::Column::Seq.lte(target.seq))
            .filter(message::Column::ReadByVisitorAt.is_null())
            .exec(&txn)
            .await?;
        if read.rows_affected > 0 {
            crate::delivery::settle_read(&txn, actor.tenant, target.chat_id, target.seq, now)
                .await?;
        }
        txn.commit().await?;
        if read.rows_affected > 0 {
            self.deps.publish(DomainEvent::MessageRead {
                tenant: actor.tenant,
                visitor: actor.visitor,
                chat: target.chat_id,
                up_to,
                by: Reader::Visitor,
            });
        }
        Ok(())
    }

    /// An operator has seen the visitor's messages up to and including `up_to`.
    pub async fn mark_read_by_operator(
        &self,
        actor: &OperatorActor,
        chat_id: ChatId,
        up_to: MessageId,
    ) -> CoreResult<()> {
        let now = self.deps.clock.now();
        let chat = chat::Entity::find_by_id(chat_id)
            .filter(chat::Column::TenantId.eq(actor.tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("chat"))?;
        let target = message::Entity::find_by_id(up_to)
            .filter(message::Column::ChatId.eq(chat.id))
            .filter(message::Column::TenantId.eq(actor.tenant))
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("message"))?;
        let txn = self.deps.write().await?;
        // Locked first: a visitor's message being written now (which holds the row from its
        // first statement) is committed before the count below, and counted by it.
        crate::delivery::lock_chat(&txn, actor.tenant, chat.id).await?;
        let read = message::Entity::update_many()
            .col_expr(message::Column::ReadByOperatorAt, Expr::value(now.millis()))
            .filter(message::Column::ChatId.eq(chat.id))
            .filter(message::Column::TenantId.eq(actor.tenant))
            .filter(message::Column::Author.eq(Author::Visitor))
            .filter(message::Column::Seq.lte(target.seq))
            .filter(message::Column::ReadByOperatorAt.is_null())
            .exec(&txn)
            .await?;
        // Counted again rather than taken down by what this read flipped: the count heals
        // whatever a node of an older version wrote without counting.
        if read.rows_affected > 0 {
            let unread = message::Entity::find()
                .filter(message::Column::ChatId.eq(chat.id))
                .filter(message::Column::TenantId.eq(actor.tenant))
                .filter(message::Column::Author.eq(Author::Visitor))
                .filter(message::Column::ReadByOperatorAt.is_null())
                .count(&txn)
                .await?;
            chat::Entity::update_many()
                .col_expr(chat::Column::Unread, Expr::value(unread as i64))
                .filter(chat::Column::Id.eq(chat.id))
                .filter(chat::Column::TenantId.eq(actor.tenant))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        if read.rows_affected > 0 {
            self.deps.publish(DomainEvent::MessageRead {
                tenant: actor.tenant,
                visitor: chat.visitor_id,
                chat: chat.id,
                up_to,
                by: Reader::Operator,
            });
            // Every workspace's lists show the chat's new unread count.
            let chat = self.chat_view(actor.tenant, chat.id).await?;
            self.deps.publish(DomainEvent::ChatUpdated {
                tenant: actor.tenant,
                chat,
            });
        }
        Ok(())
    }

    /// The earlier texts of an edited message, oldest first.
    pub async fn earlier_texts(
        &self,
        actor: &OperatorActor,
        chat: ChatId,
        id: MessageId,
    ) -> CoreResult<Vec<EarlierText>> {
        // The message of that chat of this tenant: an id from another chat is not found.
        let exists = message::Entity::find_by_id(id)
            .filter(message::Column::TenantId.eq(actor.tenant))
            .filter(message::Column::ChatId.eq(chat))
            .one(&self.deps.db)
            .await?;
        if exists.is_none() {
            return Err(CoreError::NotFound("message"));
        }
        let rows = message_edit::Entity::find()
            .filter(message_edit::Column::MessageId.eq(id))
            .filter(message_edit::Column::TenantId.eq(actor.tenant))
            .order_by_asc(message_edit::Column::ReplacedAt)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(EarlierText::from).collect())
    }

    /// The visitor's dialog (every visit), newest messages first page, or nothing if they
    /// never wrote.
    pub async fn dialog_of_visitor(
        &self,
        actor: &VisitorActor,
    ) -> CoreResult<(Option<Chat>, Vec<Message>)> {
        let (chat, messages, _) = self
            .dialog_page_of_visitor(actor, crate::chat::Page::default())
            .await?;
        Ok((chat, messages))
    }

    /// One page of the visitor's dialog, and whether older messages remain.
    pub async fn dialog_page_of_visitor(
        &self,
        actor: &VisitorActor,
        page: crate::chat::Page,
    ) -> CoreResult<(Option<Chat>, Vec<Message>, bool)> {
        let Some((chat, visitor)) =
            chat_of_visitor(&self.deps.db, actor.tenant, actor.visitor).await?
        else {
            return Ok((None, Vec::new(), false));
        };
        let (messages, has_more) =
            crate::chat::dialog_messages(&self.deps.db, chat.id, page).await?;
        Ok((Some(Chat::from_rows(chat, &visitor)), messages, has_more))
    }

    /// A message that is only its statements — its chat exists and is as `statements` guard it
    /// (see [`ChatRead`]) — written with the other writers' queued meanwhile on SQLite, as one
    /// statement on PostgreSQL (see [`crate::storage::Storage::write_updating`]). Returns the
    /// chat's row as the write left it; `None`, and nothing of it written, when it is more than
    /// that: the caller writes it the long way.
    async fn append_plainly(
        &self,
        statements: impl Fn(UpdatedRow) -> CoreResult<Vec<Statement>>,
    ) -> CoreResult<Option<chat::Model>> {
        let read = |row: &QueryResult| chat::Model::from_query_result(row, "");
        self.deps.storage.write_updating(statements, read).await
    }

    async fn after_append(&self, tenant: TenantId, appended: Appended) -> CoreResult<Message> {
        let visitor_id = appended.chat.visitor_id;
        count_message(&self.deps, tenant, appended.message.author);
        if appended.started_chat {
            self.deps.count(tenant, Metric::ChatsStarted, 1);
        }
        schedule_revived(&self.deps, &appended.revived).await;
        if let Some(alert) = appended.alert
            && let Err(e) = self.deps.scheduler.schedule_alert(alert).await
        {
            tracing::warn!(%alert, error = %e, "an alert is left to the sweep");
        }
        // Read after the commit, so that of two writes published out of order the later
        // publisher still sends the chat as it is now.
        if appended.chat_changed {
            let chat = self.chat_view(tenant, appended.chat.id).await?;
            self.deps.publish(DomainEvent::ChatUpdated { tenant, chat });
        }
        let message = Message::from(appended.message);
        self.deps.publish(DomainEvent::MessageCreated {
            tenant,
            visitor: visitor_id,
            message: message.clone(),
        });
        Ok(message)
    }

    async fn chat_view(&self, tenant: TenantId, id: ChatId) -> CoreResult<Chat> {
        let (chat, visitor) = chat_with_visitor(&self.deps.db, tenant, id).await?;
        Ok(Chat::from_rows(chat, &visitor))
    }
}

/// Counts a message that committed, by who wrote it (Tandem's own lines are not counted).
fn count_message(deps: &Deps, tenant: TenantId, author: Author) {
    let metric = match author {
        Author::Visitor => Metric::VisitorMessages,
        Author::Operator => Metric::OperatorReplies,
        Author::System => return,
    };
    deps.count(tenant, metric, 1);
}

/// Creates the visitor's one chat, open and unassigned, placed by their presence.
async fn start_chat(txn: &WriteTxn, actor: &VisitorActor, now: Timestamp) -> CoreResult<ChatId> {
    // Locked as presence locks it: a socket that opens while this chat is being created either
    // commits first (and the chat starts online) or finds the chat when this commits.
    let visitor = crate::presence::lock_visitor(txn, actor.tenant, actor.visitor).await?;
    let status = ChatStatus::started(visitor.online);
    let id = ChatId::new();
    chat::Entity::insert(chat::ActiveModel {
        id: Set(id),
        tenant_id: Set(actor.tenant),
        visitor_id: Set(actor.visitor),
        state: Set(status.state),
        category: Set(status.category()),
        visitor_online: Set(status.visitor_online),
        operator_id: Set(None),
        unanswered: Set(true),
        last_seq: Set(0),
        created_at: Set(now.millis()),
        last_message_at: Set(now.millis()),
        closed_at: Set(None),
        tags: Set("[]".into()),
        priority: Set(None),
        // The first message's write starts the wait.
        waiting_since: Set(None),
        wait_alert_at: Set(None),
        // The first message's write sets these too.
        preview: Set(None),
        preview_author: Set(None),
        unread: Set(0),
        rating: Set(None),
        rating_comment: Set(None),
        rated_at: Set(None),
        rated_close_at: Set(None),
        erased_at: Set(None),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(id)
}

/// Whose message a write adds, for the chat's wait: a visitor's starts one (or goes on with it),
/// an operator's answers it, the company's automatic reply leaves it as it is.
#[derive(Clone, Copy, Debug)]
enum Turn {
    /// `alert_after`: the tenant's long-wait alert, for a wait this message starts.
    Visitor {
        alert_after: Option<std::time::Duration>,
    },
    Operator,
    Automatic,
}

/// The statements that append the message to the chat `which` picks, then `with`, for
/// [`append_to_chat`]. The chat's update comes first, so the transaction holds the chat row from
/// the start; the message takes its chat and number from the row so updated. The statements of
/// `with` run even when there is no such chat, so each must write nothing without it — reading
/// `chat`, or guarded by it — and none may return rows: the first row returned is taken for the
/// chat's.
fn appending(
    backend: DbBackend,
    chat: &ChatRead,
    (now, turn): (Timestamp, Turn),
    message: &message::Model,
    with: Vec<Statement>,
) -> CoreResult<Vec<Statement>> {
    let mut statements = vec![
        bump(backend, chat, (now, turn), &message.body),
        insert_into_chat(backend, chat, message)?,
    ];
    statements.extend(with);
    Ok(statements)
}

/// Runs the statements [`appending`] made in one round trip (see [`WriteTxn::run_together`])
/// and returns the chat's row as they left it, the message numbered from it; `None`, and no
/// message, when there is no such chat.
async fn append_to_chat(
    txn: &WriteTxn,
    statements: Vec<Statement>,
    message: &mut message::Model,
) -> CoreResult<Option<chat::Model>> {
    let rows = txn.run_together(statements).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let row = chat::Model::from_query_result(row, "")?;
    number_from(message, &row);
    Ok(Some(row))
}

/// The message's chat and number, from its chat's row as the write left it.
fn number_from(message: &mut message::Model, row: &chat::Model) {
    message.chat_id = row.id;
    message.seq = row.last_seq;
}

/// The message's insert into `chat`, its chat and number read from that row.
fn insert_into_chat(
    backend: DbBackend,
    chat: &ChatRead,
    message: &message::Model,
) -> CoreResult<Statement> {
    insert_from_chat(backend, chat, message, |column| match column {
        message::Column::ChatId => Some(chat.column(chat::Column::Id)),
        message::Column::Seq => Some(chat.column(chat::Column::LastSeq)),
        _ => None,
    })
}

/// An insert of `row` as a SELECT from `chat`, the columns `from_chat` names read from that
/// row: it writes nothing when there is no such chat, since the statements run with a chat's
/// update go on when the update found none.
fn insert_from_chat<M: ModelTrait>(
    backend: DbBackend,
    chat: &ChatRead,
    row: &M,
    from_chat: impl Fn(<M::Entity as EntityTrait>::Column) -> Option<Expr>,
) -> CoreResult<Statement> {
    let values = <M::Entity as EntityTrait>::Column::iter()
        .map(|column| from_chat(column).unwrap_or_else(|| Expr::val(row.get(column))));
    let from = chat.select().exprs(values).to_owned();
    let insert = Query::insert()
        .into_table(M::Entity::default())
        .columns(<M::Entity as EntityTrait>::Column::iter())
        .select_from(from)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    Ok(backend.build(&insert))
}

/// The unread-reply notification's outbox row, pending.
fn outbox_row(entry: &OutboxEntry, now: Timestamp) -> outbox::Model {
    outbox::Model {
        id: entry.id,
        tenant_id: entry.tenant,
        chat_id: entry.chat,
        message_id: entry.message,
        due_at: entry.due_at.millis(),
        status: OutboxStatus::Pending,
        attempts: 0,
        last_error: None,
        created_at: now.millis(),
        processed_at: None,
        claimed_until: None,
    }
}

/// The chat as an operator's reply changes nothing of but its last message and its wait: open
/// and assigned — to the operator, unless they are an admin. Anything else (an unassigned or
/// closed chat, which the reply takes; another's, which refuses it) goes the long way.
///
/// Written as one statement (`read` is [`UpdatedRow::Returned`]), the reply's end of the
/// visitor's wait sees only what was committed when the statement began, while its update of
/// the chat waits for the row's newest version: a visitor's message committed in between may
/// have started a wait the reply would not end. So the update goes on only while the chat waits
/// as it did when the operator's reply read it (the wait's start, or none).
fn answerable_as_it_was(
    actor: &OperatorActor,
    read_before: &chat::Model,
    read: UpdatedRow,
) -> Condition {
    let mut still = Condition::all()
        .add(chat::Column::State.eq(ChatState::Open))
        .add(chat::Column::OperatorId.is_not_null());
    if !actor.is_admin() {
        still = still.add(chat::Column::OperatorId.eq(actor.user));
    }
    if read == UpdatedRow::Returned {
        still = still.add(match read_before.waiting_since {
            Some(since) => chat::Column::WaitingSince.eq(since),
            None => chat::Column::WaitingSince.is_null(),
        });
    }
    still
}

/// The update that numbers the next message of the chat and records its time and the visitor's
/// wait, returning the row as it leaves it.
fn bump(
    backend: DbBackend,
    chat: &ChatRead,
    (now, turn): (Timestamp, Turn),
    body: &str,
) -> Statement {
    let author = match turn {
        Turn::Visitor { .. } => Author::Visitor,
        Turn::Operator => Author::Operator,
        Turn::Automatic => Author::System,
    };
    let mut update = chat::Entity::update_many()
        .col_expr(
            chat::Column::LastSeq,
            Expr::col(chat::Column::LastSeq).add(1),
        )
        .col_expr(chat::Column::LastMessageAt, Expr::value(now.millis()))
        .col_expr(chat::Column::Preview, Expr::value(preview_of(body)))
        .col_expr(chat::Column::PreviewAuthor, Expr::value(author));
    update = match turn {
        // SET expressions read the row as it was: a wait starts only where none runs.
        Turn::Visitor { alert_after } => {
            let alert_at = alert_after.map(|after| now.saturating_add(after).millis());
            update
                .col_expr(chat::Column::Unanswered, Expr::value(true))
                .col_expr(chat::Column::Unread, Expr::col(chat::Column::Unread).add(1))
                .col_expr(
                    chat::Column::WaitingSince,
                    Func::coalesce([
                        Expr::col(chat::Column::WaitingSince),
                        Expr::value(now.millis()),
                    ])
                    .into(),
                )
                .col_expr(
                    chat::Column::WaitAlertAt,
                    Expr::case(
                        Expr::col(chat::Column::WaitingSince).is_null(),
                        Expr::value(alert_at),
                    )
                    .finally(Expr::col(chat::Column::WaitAlertAt))
                    .into(),
                )
        }
        Turn::Operator => update
            .col_expr(chat::Column::Unanswered, Expr::value(false))
            .col_expr(chat::Column::WaitingSince, Expr::value(None::<i64>))
            .col_expr(chat::Column::WaitAlertAt, Expr::value(None::<i64>)),
        Turn::Automatic => update,
    };
    let mut update = update.filter(chat.condition()).into_query();
    backend.build(update.returning_all())
}

/// A message as its chat's preview.
fn preview_of(body: &str) -> String {
    crate::text::cut(body, crate::chat::PREVIEW_CHARS)
}

/// What core would apply of a plugin's answer to an offline request: the operator to assign
/// and the automatic reply, checked. `Err` says why the whole answer is refused (an operator
/// the tenant does not have, a reply no message could hold).
pub(crate) async fn vet_request(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    max_message_chars: usize,
    decision: &RequestDecision,
) -> CoreResult<Result<(Option<UserId>, Option<MessageBody>), String>> {
    let assignee = match &decision.assign_to {
        None => None,
        Some(email) => match active_operator_by_email(db, tenant, email).await? {
            Some(id) => Some(id),
            None => {
                return Ok(Err(format!(
                    "assign to {email}: not an active operator of this tenant; nothing was applied"
                )));
            }
        },
    };
    let reply = match &decision.auto_reply {
        None => None,
        Some(text) => match MessageBody::parse(text, max_message_chars) {
            Ok(body) => Some(body),
            Err(e) => {
                return Ok(Err(format!(
                    "the automatic reply: {e}; nothing was applied"
                )));
            }
        },
    };
    Ok(Ok((assignee, reply)))
}

/// A new message of the tenant's; its chat and number are those of the row
/// [`append_to_chat`] writes it to.
fn new_message(
    tenant: TenantId,
    author: Author,
    operator: Option<&OperatorActor>,
    body: &MessageBody,
    client_id: Option<&ClientId>,
    now: Timestamp,
) -> message::Model {
    message::Model {
        id: MessageId::new(),
        tenant_id: tenant,
        chat_id: ChatId::new(),
        seq: 0,
        author,
        operator_id: operator.map(|o| o.user),
        body: body.as_str().to_owned(),
        client_id: client_id.map(|c| c.as_str().to_owned()),
        created_at: now.millis(),
        edited_at: None,
        read_by_visitor_at: None,
        read_by_operator_at: None,
        emailed_at: None,
        channel: MessageChannel::Widget,
        quoted: None,
        mail_from: None,
        attachment: None,
        deleted_at: None,
    }
}

/// The file a message carries, as the API shows it.
fn attach(message: &mut message::Model, file: Option<&FileRecord>) -> CoreResult<()> {
    if let Some(file) = file {
        message.attachment = Some(
            serde_json::to_string(&file.attachment)
                .map_err(|e| CoreError::Storage(DbErr::Json(e.to_string())))?,
        );
    }
    Ok(())
}

/// The row of the file a message carries (the visitor is the chat's).
async fn insert_file(
    txn: &WriteTxn,
    message: &message::Model,
    file: Option<&FileRecord>,
    visitor: VisitorId,
) -> CoreResult<()> {
    if let Some(file) = file {
        crate::entity::file::Entity::insert(file.row(message, visitor))
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

async fn by_client_id(
    db: &impl ConnectionTrait,
    chat: ChatId,
    client_id: &ClientId,
) -> CoreResult<Option<message::Model>> {
    Ok(message::Entity::find()
        .filter(message::Column::ChatId.eq(chat))
        .filter(message::Column::ClientId.eq(client_id.as_str()))
        .one(db)
        .await?)
}

/// The message with this client id in the visitor's one chat, in one statement.
async fn visitor_message_by_client_id(
    db: &impl ConnectionTrait,
    actor: &VisitorActor,
    client_id: &ClientId,
) -> CoreResult<Option<message::Model>> {
    let visitors_chat = chat::Entity::find()
        .select_only()
        .column(chat::Column::Id)
        .filter(ChatOf::Visitor(actor.visitor).condition(actor.tenant))
        .into_query();
    Ok(message::Entity::find()
        .filter(message::Column::ChatId.in_subquery(visitors_chat))
        .filter(message::Column::TenantId.eq(actor.tenant))
        .filter(message::Column::ClientId.eq(client_id.as_str()))
        .one(db)
        .await?)
}

/// A resent client id returns the original, but only to the one who sent it.
fn same_sender(
    found: message::Model,
    author: Author,
    operator: Option<&OperatorActor>,
) -> CoreResult<Message> {
    let same = found.author == author && found.operator_id == operator.map(|o| o.user);
    if same {
        Ok(found.into())
    } else {
        Err(CoreError::Conflict(
            "client_id is already used by another message in this chat".into(),
        ))
    }
}

/// A message of the visitor's own chat; anything else does not exist for them.
async fn visitor_message(
    db: &impl ConnectionTrait,
    actor: &VisitorActor,
    id: MessageId,
) -> CoreResult<message::Model> {
    let row = message::Entity::find_by_id(id)
        .filter(message::Column::TenantId.eq(actor.tenant))
        .one(db)
        .await?
        .ok_or(CoreError::NotFound("message"))?;
    let owns = chat::Entity::find_by_id(row.chat_id)
        .filter(chat::Column::VisitorId.eq(actor.visitor))
        .filter(chat::Column::TenantId.eq(actor.tenant))
        .one(db)
        .await?
        .is_some();
    if owns {
        Ok(row)
    } else {
        Err(CoreError::NotFound("message"))
    }
}

impl MessageService {
    /// One message as events show it, for a node that was told of it by id only (the bus
    /// between nodes keeps its payloads small). `None` when it is gone.
    pub async fn for_event(&self, tenant: TenantId, id: MessageId) -> CoreResult<Option<Message>> {
        Ok(message::Entity::find_by_id(id)
            .filter(message::Column::TenantId.eq(tenant))
            .one(&self.deps.db)
            .await?
            .map(Message::from))
    }
}

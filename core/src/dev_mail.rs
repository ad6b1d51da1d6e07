//! The dev mailbox's record: with no SMTP server configured, mail stays on this machine, in
//! the database (for `/dev/mailbox`). How a mail is built and encoded is the worker's business;
//! this keeps what it hands over.

use std::sync::Arc;

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::clock::Timestamp;
use crate::entity::dev_mail;
use crate::error::CoreResult;
use crate::services::Deps;

/// A mail to keep: its parts as they were written, and its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevMail {
    pub recipient: String,
    pub sender: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub eml: String,
}

/// A kept mail, as `/dev/mailbox` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevMail {
    pub id: Uuid,
    pub recipient: String,
    /// Empty for mail kept before the parts were.
    pub sender: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub eml: String,
    pub created_at: Timestamp,
}

#[derive(Clone)]
pub struct DevMailService {
    deps: Arc<Deps>,
}

impl DevMailService {
    pub(crate) fn new(deps: Arc<Deps>) -> Self {
        Self { deps }
    }

    /// Keeps a mail; its id names it (and its `.eml` file).
    pub async fn keep(&self, mail: NewDevMail) -> CoreResult<Uuid> {
        let id = Uuid::now_v7();
        let txn = self.deps.write().await?;
        dev_mail::Entity::insert(dev_mail::ActiveModel {
            id: Set(id),
            recipient: Set(mail.recipient),
            sender: Set(Some(mail.sender)),
            subject: Set(mail.subject),
            text: Set(Some(mail.text)),
            html: Set(Some(mail.html)),
            eml: Set(mail.eml),
            created_at: Set(self.deps.clock.now().millis()),
        })
        .exec_without_returning(&txn)
        .await?;
        txn.commit().await?;
        Ok(id)
    }

    /// The newest mails first.
    pub async fn list(&self, limit: u64) -> CoreResult<Vec<DevMail>> {
        let rows = dev_mail::Entity::find()
            .order_by_desc(dev_mail::Column::CreatedAt)
            .limit(limit)
            .all(&self.deps.db)
            .await?;
        Ok(rows.into_iter().map(DevMail::from).collect())
    }

    pub async fn get(&self, id: Uuid) -> CoreResult<Option<DevMail>> {
        Ok(dev_mail::Entity::find_by_id(id)
            .one(&self.deps.db)
            .await?
            .map(DevMail::from))
    }
}

impl From<dev_mail::Model> for DevMail {
    fn from(row: dev_mail::Model) -> Self {
        Self {
            id: row.id,
            recipient: row.recipient,
            sender: row.sender.unwrap_or_default(),
            subject: row.subject,
            text: row.text.unwrap_or_default(),
            html: row.html.unwrap_or_default(),
            eml: row.eml,
            created_at: Timestamp::from_millis(row.created_at),
        }
    }
}

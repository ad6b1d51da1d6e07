//! With no SMTP server configured, mail stays on this machine: in the database (for
//! `/dev/mailbox`) and as `.eml` files that any mail client opens.

use std::path::PathBuf;

use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DatabaseConnection, QueryOrder, QuerySelect};
use tandem_core::clock::Timestamp;

use super::{Email, Mailer, SendError};

pub struct DevMailbox {
    db: DatabaseConnection,
    dir: PathBuf,
}

/// A kept mail, as `/dev/mailbox` lists it: the parts as they were written, and the source.
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

impl DevMailbox {
    pub fn new(db: DatabaseConnection, dir: impl Into<PathBuf>) -> Self {
        Self {
            db,
            dir: dir.into(),
        }
    }

    /// The newest mails first.
    pub async fn list(&self, limit: u64) -> Result<Vec<DevMail>, DbErr> {
        let rows = dev_mail::Entity::find()
            .order_by_desc(dev_mail::Column::CreatedAt)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(DevMail::from).collect())
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<DevMail>, DbErr> {
        Ok(dev_mail::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(DevMail::from))
    }
}

#[async_trait::async_trait]
impl Mailer for DevMailbox {
    async fn send(&self, email: &Email) -> Result<(), SendError> {
        let eml = String::from_utf8_lossy(&email.to_message()?.formatted()).into_owned();
        let id = Uuid::now_v7();
        let now = now_millis();
        dev_mail::Entity::insert(dev_mail::ActiveModel {
            id: Set(id),
            recipient: Set(email.to.to_string()),
            sender: Set(Some(email.from.to_string())),
            subject: Set(email.subject.clone()),
            text: Set(Some(email.text.clone())),
            html: Set(Some(email.html.clone())),
            eml: Set(eml.clone()),
            created_at: Set(now),
        })
        .exec_without_returning(&self.db)
        .await
        .map_err(|e| SendError::Transient(format!("dev mailbox: {e}")))?;
        // The file is a convenience; the database row is the record.
        if let Err(e) = tokio::fs::create_dir_all(&self.dir).await {
            tracing::warn!(error = %e, dir = %self.dir.display(), "cannot create the mailbox folder");
        } else if let Err(e) = tokio::fs::write(self.dir.join(format!("{id}.eml")), eml).await {
            tracing::warn!(error = %e, "cannot write the .eml file");
        }
        tracing::info!(to = %email.to, subject = %email.subject, "mail kept in the dev mailbox");
        Ok(())
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

mod dev_mail {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "dev_mails")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub recipient: String,
        pub sender: Option<String>,
        pub subject: String,
        pub text: Option<String>,
        pub html: Option<String>,
        pub eml: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

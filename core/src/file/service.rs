//! Sending and opening files. A file is checked (type by content, size, the tenant's rules and
//! storage), its bytes put in the store, then its message written like any other — so files
//! count in the dialog's history, its unread-reply mail and its delivery log. Reading one needs
//! the visitor of its chat, an operator of its tenant, or a signed link from a mail.

use std::sync::Arc;

use bytes::Bytes;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use crate::entity::file;
use crate::error::{CoreError, CoreResult};
use crate::ids::{ChatId, FileId, TenantId};
use crate::message::{Author, Message, MessageService};
use crate::operator::OperatorActor;
use crate::server_key::server_key;
use crate::services::Deps;
use crate::tenant::Tenant;
use crate::visitor::VisitorActor;

use super::image::{inspect, off_thread};
use super::link::KEY_NAME;
use super::metadata::without_metadata;
use super::{
    Attachment, FileKind, FileLink, FileName, FileRefusal, FileStoreError, FileStream, sniff,
};

/// Which bytes of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Original,
    /// The small copy of a large image (a small image is its own).
    Thumbnail,
}

/// A file on its way to the client.
pub struct Download {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// A checked image may be shown; anything else is only ever downloaded.
    pub inline: bool,
    pub body: FileStream,
}

/// A file checked and stored, waiting for its message: what the message's transaction writes.
#[derive(Clone, Debug)]
pub(crate) struct FileRecord {
    pub attachment: Attachment,
    pub thumbnail_size: u64,
}

impl FileRecord {
    /// The file's row, for the message that carries it.
    pub(crate) fn row(
        &self,
        message: &crate::entity::message::Model,
        visitor: crate::ids::VisitorId,
    ) -> file::ActiveModel {
        use sea_orm::ActiveValue::Set;
        let a = &self.attachment;
        file::ActiveModel {
            id: Set(a.id),
            tenant_id: Set(message.tenant_id),
            chat_id: Set(message.chat_id),
            message_id: Set(message.id),
            visitor_id: Set(visitor),
            author: Set(message.author),
            operator_id: Set(message.operator_id),
            name: Set(a.name.clone()),
            content_type: Set(a.content_type.clone()),
            kind: Set(a.kind),
            size: Set(i64::try_from(a.size).unwrap_or(i64::MAX)),
            thumbnail_size: Set(i64::try_from(self.thumbnail_size).unwrap_or(i64::MAX)),
            created_at: Set(message.created_at),
            deleted_at: Set(None),
            purged_at: Set(None),
        }
    }
}

#[derive(Clone)]
pub struct FileService {
    deps: Arc<Deps>,
    messages: MessageService,
}

impl FileService {
    pub(crate) fn new(deps: Arc<Deps>, messages: MessageService) -> Self {
        Self { deps, messages }
    }

    /// The largest file the tenant takes: read no more of a request's body than this.
    pub fn max_bytes(tenant: &Tenant) -> u64 {
        tenant.settings.files.max_bytes(tenant.limits.file_mib)
    }

    /// A visitor sends a file; it becomes their message (opening or reopening their chat).
    /// Resending a `client_id` returns the message it first created.
    pub async fn send_as_visitor(
        &self,
        actor: &VisitorActor,
        tenant: &Tenant,
        name: &str,
        bytes: Bytes,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        let tenant = serving(tenant, actor.tenant)?;
        if !tenant.settings.files.from_visitors {
            return Err(FileRefusal::Off.into());
        }
        if let Some(found) = self.messages.resent_by_visitor(actor, client_id).await? {
            return Ok(found);
        }
        self.within_daily_limit(actor, tenant).await?;
        let record = self.check_and_store(tenant, name, bytes).await?;
        let sent = self
            .messages
            .send_file_as_visitor(actor, &record, client_id)
            .await;
        self.keep_if_used(tenant, &record, sent).await
    }

    /// An operator sends a file in a chat they may answer; it is their reply (with its
    /// unread-reply notification).
    pub async fn send_as_operator(
        &self,
        actor: &OperatorActor,
        tenant: &Tenant,
        chat: ChatId,
        name: &str,
        bytes: Bytes,
        client_id: Option<&str>,
    ) -> CoreResult<Message> {
        let tenant = serving(tenant, actor.tenant)?;
        if let Some(found) = self
            .messages
            .resent_by_operator(actor, chat, client_id)
            .await?
        {
            return Ok(found);
        }
        self.messages.check_may_answer(actor, chat).await?;
        let record = self.check_and_store(tenant, name, bytes).await?;
        let sent = self
            .messages
            .send_file_as_operator(actor, chat, &record, client_id)
            .await;
        self.keep_if_used(tenant, &record, sent).await
    }

    /// A file of the visitor's own chat.
    pub async fn open_for_visitor(
        &self,
        actor: &VisitorActor,
        id: FileId,
        variant: Variant,
    ) -> CoreResult<Download> {
        let row = self.row(actor.tenant, id).await?;
        if row.visitor_id != actor.visitor {
            return Err(CoreError::NotFound("file"));
        }
        self.open(row, variant).await
    }

    /// A file of the operator's tenant.
    pub async fn open_for_operator(
        &self,
        actor: &OperatorActor,
        id: FileId,
        variant: Variant,
    ) -> CoreResult<Download> {
        let row = self.row(actor.tenant, id).await?;
        self.open(row, variant).await
    }

    /// A file through a mailed link.
    pub async fn open_by_link(
        &self,
        tenant: TenantId,
        id: FileId,
        link: &FileLink,
        variant: Variant,
    ) -> CoreResult<Download> {
        let key = server_key(&self.deps, KEY_NAME).await?;
        link.check(&key, tenant, id, self.deps.clock.now())?;
        let row = self.row(tenant, id).await?;
        self.open(row, variant).await
    }

    /// A link that opens the file for [`super::LINK_LIFETIME`], for mail.
    pub async fn link(&self, tenant: TenantId, id: FileId) -> CoreResult<FileLink> {
        let key = server_key(&self.deps, KEY_NAME).await?;
        Ok(FileLink::sign(&key, tenant, id, self.deps.clock.now()))
    }

    /// Removes the bytes of deleted files from the store, then their rows; a store that fails
    /// leaves them for the next round. Returns how many were purged.
    /// Objects listed for removal (a replaced photo's bytes) go in the same round.
    pub async fn purge_deleted(&self) -> CoreResult<usize> {
        let files = purge_deleted(&self.deps, None).await?;
        Ok(files + super::removals::remove_listed(&self.deps).await?)
    }

    /// Deleted files count too (their rows stay): sending and deleting does not reset the day.
    async fn within_daily_limit(&self, actor: &VisitorActor, tenant: &Tenant) -> CoreResult<()> {
        let per_day = tenant.settings.files.visitor_files_per_day;
        let since = self.deps.clock.now().millis() - 24 * 3600 * 1000;
        let sent = file::Entity::find()
            .filter(file::Column::TenantId.eq(actor.tenant))
            .filter(file::Column::VisitorId.eq(actor.visitor))
            .filter(file::Column::Author.eq(Author::Visitor))
            .filter(file::Column::CreatedAt.gt(since))
            .count(&self.deps.db)
            .await?;
        if sent >= u64::from(per_day) {
            return Err(FileRefusal::TooMany { per_day }.into());
        }
        Ok(())
    }

    /// Checks a file against the tenant's rules, then puts it (and its thumbnail) in the store.
    async fn check_and_store(
        &self,
        tenant: &Tenant,
        name: &str,
        bytes: Bytes,
    ) -> CoreResult<FileRecord> {
        let rules = &tenant.settings.files;
        let max_bytes = Self::max_bytes(tenant);
        let size = bytes.len() as u64;
        if size == 0 {
            return Err(FileRefusal::Empty.into());
        }
        if size > max_bytes {
            return Err(FileRefusal::TooLarge { max_bytes }.into());
        }
        let name = FileName::clean(name);
        let sniffed = sniff(&bytes, name.as_str()).map_err(|refusal| match refusal {
            FileRefusal::TypeNotAllowed { found, .. } => {
                FileRefusal::type_not_allowed(&found, &rules.accepted)
            }
            other => other,
        })?;
        match sniffed.group {
            Some(group) if rules.accepted.contains(&group) => {}
            _ => {
                return Err(
                    FileRefusal::type_not_allowed(sniffed.content_type, &rules.accepted).into(),
                );
            }
        }
        let quota = u64::from(tenant.limits.storage_mib) * 1024 * 1024;
        if self.storage_used(tenant.id).await?.saturating_add(size) > quota {
            return Err(FileRefusal::StorageFull.into());
        }
        // An image is decoded (which proves it is one) and loses what it says besides its
        // pixels (where and when it was taken) before it is kept.
        let (pictured, bytes) = if sniffed.image {
            let (pictured, clean) = off_thread(&self.deps.images, move || {
                let pictured = inspect(&bytes)?;
                let clean = without_metadata(&bytes, pictured.orientation).unwrap_or(bytes);
                Ok((pictured, clean))
            })
            .await?;
            (Some(pictured), clean)
        } else {
            (None, bytes)
        };
        let size = bytes.len() as u64;
        let id = FileId::new();
        let thumbnail = pictured.as_ref().and_then(|p| p.thumbnail.clone());
        let record = FileRecord {
            attachment: Attachment {
                id,
                name: sniffed.fit_name(name.as_str()),
                size,
                content_type: sniffed.content_type.to_owned(),
                kind: if sniffed.image {
                    FileKind::Image
                } else {
                    FileKind::File
                },
                width: pictured.as_ref().map(|p| p.width),
                height: pictured.as_ref().map(|p| p.height),
                thumbnail: thumbnail.is_some(),
            },
            thumbnail_size: thumbnail.as_ref().map_or(0, |t| t.len() as u64),
        };
        let store = &self.deps.files;
        store
            .put(&key(tenant.id, id, Variant::Original), bytes)
            .await
            .map_err(store_error)?;
        if let Some(thumbnail) = thumbnail
            && let Err(e) = store
                .put(&key(tenant.id, id, Variant::Thumbnail), thumbnail.into())
                .await
        {
            self.remove(tenant.id, &record).await;
            return Err(store_error(e));
        }
        Ok(record)
    }

    /// Bytes of the tenant's files (and thumbnails) not deleted.
    async fn storage_used(&self, tenant: TenantId) -> CoreResult<u64> {
        // Cast: PostgreSQL sums BIGINT into NUMERIC; SQLite's integer stays as it is.
        let used: Option<i64> = file::Entity::find()
            .select_only()
            .column_as(
                sea_orm::sea_query::Expr::cust(
                    "CAST(COALESCE(SUM(size + thumbnail_size), 0) AS BIGINT)",
                ),
                "used",
            )
            .filter(file::Column::TenantId.eq(tenant))
            .filter(file::Column::DeletedAt.is_null())
            .into_tuple()
            .one(&self.deps.db)
            .await?;
        Ok(used.map_or(0, |used| u64::try_from(used).unwrap_or(0)))
    }

    /// The stored file stays only if its message is the one written: a failed write, or a
    /// resent client id answered with the earlier message, leaves nothing behind.
    async fn keep_if_used(
        &self,
        tenant: &Tenant,
        record: &FileRecord,
        sent: CoreResult<Message>,
    ) -> CoreResult<Message> {
        let id = record.attachment.id;
        let used = match &sent {
            Ok(message) => message.attachment.as_ref().map(|a| a.id) == Some(id),
            // The write may have committed before what failed (an event's chat view): the row
            // says whether the file is in use.
            Err(_) => file::Entity::find_by_id(id)
                .one(&self.deps.db)
                .await
                .map_or(true, |row| row.is_some()),
        };
        if !used {
            self.remove(tenant.id, record).await;
        }
        sent
    }

    /// An unused upload's bytes go now, or are listed for the housekeeping's next rounds.
    async fn remove(&self, tenant: TenantId, record: &FileRecord) {
        let id = record.attachment.id;
        let keys: Vec<String> = variants(record.thumbnail_size > 0)
            .iter()
            .map(|variant| key(tenant, id, *variant))
            .collect();
        super::let_go(&self.deps, tenant, &keys).await;
    }

    async fn row(&self, tenant: TenantId, id: FileId) -> CoreResult<file::Model> {
        file::Entity::find_by_id(id)
            .filter(file::Column::TenantId.eq(tenant))
            .filter(file::Column::DeletedAt.is_null())
            .one(&self.deps.db)
            .await?
            .ok_or(CoreError::NotFound("file"))
    }

    async fn open(&self, row: file::Model, variant: Variant) -> CoreResult<Download> {
        let image = row.kind == FileKind::Image;
        let (variant, content_type) = match variant {
            Variant::Thumbnail if !image => return Err(CoreError::NotFound("thumbnail")),
            Variant::Thumbnail if row.thumbnail_size > 0 => (Variant::Thumbnail, "image/jpeg"),
            _ => (Variant::Original, row.content_type.as_str()),
        };
        let (size, body) = self
            .deps
            .files
            .get(&key(row.tenant_id, row.id, variant))
            .await
            .map_err(store_error)?;
        Ok(Download {
            name: row.name.clone(),
            content_type: content_type.to_owned(),
            size,
            inline: image,
            body,
        })
    }
}

/// The tenant the caller read (with its settings and limits), if it is the actor's and serving.
fn serving(tenant: &Tenant, actor_tenant: TenantId) -> CoreResult<&Tenant> {
    if tenant.id != actor_tenant {
        return Err(CoreError::NotFound("tenant"));
    }
    if tenant.suspended {
        return Err(CoreError::TenantSuspended);
    }
    Ok(tenant)
}

/// Where a file's bytes are kept.
pub(crate) fn key(tenant: TenantId, id: FileId, variant: Variant) -> String {
    match variant {
        Variant::Original => format!("{tenant}/{id}"),
        Variant::Thumbnail => format!("{tenant}/{id}.thumb"),
    }
}

fn store_error(e: FileStoreError) -> CoreError {
    e.into_core("file")
}

/// A file's objects: the original, and the thumbnail when it has one.
fn variants(thumbnail: bool) -> &'static [Variant] {
    if thumbnail {
        &[Variant::Original, Variant::Thumbnail]
    } else {
        &[Variant::Original]
    }
}

/// Removes a file's bytes (and its thumbnail's) from the store, each within the removal's
/// timeout.
async fn remove_objects(
    deps: &Deps,
    tenant: TenantId,
    id: FileId,
    thumbnail: bool,
) -> Result<(), FileStoreError> {
    for variant in variants(thumbnail) {
        super::removals::delete_within(deps, &key(tenant, id, *variant)).await?;
    }
    Ok(())
}

/// See [`FileService::purge_deleted`]. `only`: one file (just deleted), else the oldest deleted
/// files of every tenant. Rows stay, marked purged.
pub(crate) async fn purge_deleted(deps: &Deps, only: Option<FileId>) -> CoreResult<usize> {
    let mut query = file::Entity::find()
        .filter(file::Column::DeletedAt.is_not_null())
        .filter(file::Column::PurgedAt.is_null());
    if let Some(id) = only {
        query = query.filter(file::Column::Id.eq(id));
    }
    let rows = query
        .order_by_asc(file::Column::DeletedAt)
        .limit(200)
        .all(&deps.db)
        .await?;
    let mut purged = Vec::new();
    for row in rows {
        match remove_objects(deps, row.tenant_id, row.id, row.thumbnail_size > 0).await {
            Ok(()) => purged.push(row.id),
            Err(e) => {
                tracing::warn!(file = %row.id, error = %e, "a deleted file's bytes are kept for the next round");
            }
        }
    }
    if purged.is_empty() {
        return Ok(0);
    }
    let txn = deps.write().await?;
    let done = file::Entity::update_many()
        .col_expr(
            file::Column::PurgedAt,
            sea_orm::sea_query::Expr::value(deps.clock.now().millis()),
        )
        .filter(file::Column::Id.is_in(purged))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(done.rows_affected as usize)
}

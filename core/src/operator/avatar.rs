//! Operators' photos. An upload is checked to be an image by its content, decoded within the
//! same bounds as images in dialogs, and only a small square copy made from its pixels is kept
//! (under the tenant's prefix in the file store). Each upload has a new id, so a photo's
//! address never shows another picture and may be cached for ever; an old id is gone.

use bytes::Bytes;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;

use crate::entity::user;
use crate::error::{CoreError, CoreResult};
use crate::file::{Download, FileGroup, FileRefusal, FileStoreError, sniff};
use crate::ids::{AvatarId, TenantId, UserId};

use super::{Operator, OperatorActor, OperatorService};

/// The largest photo taken, in bytes: a phone's camera makes less.
pub const AVATAR_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// How long removing a replaced photo's bytes may take before it is left behind.
const REMOVAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl OperatorService {
    /// Sets `id`'s photo: their own, or any operator's of the tenant for an admin.
    pub async fn set_avatar(
        &self,
        actor: &OperatorActor,
        id: UserId,
        bytes: Bytes,
    ) -> CoreResult<Operator> {
        may_change_photo(actor, id)?;
        let size = bytes.len() as u64;
        if size == 0 {
            return Err(FileRefusal::Empty.into());
        }
        if size > AVATAR_MAX_BYTES {
            return Err(FileRefusal::TooLarge {
                max_bytes: AVATAR_MAX_BYTES,
            }
            .into());
        }
        let sniffed = sniff(&bytes, "photo")
            .map_err(|_| FileRefusal::type_not_allowed("not an image", &[FileGroup::Images]))?;
        if !sniffed.image {
            return Err(
                FileRefusal::type_not_allowed(sniffed.content_type, &[FileGroup::Images]).into(),
            );
        }
        // Checked before the work: a foreign id is not found, and costs nothing.
        self.user_row(actor.tenant, id).await?;
        let deps = self.deps();
        let jpeg = crate::file::portrait_off_thread(&deps.images, bytes).await?;
        let avatar = AvatarId::new();
        deps.files
            .put(&key(actor.tenant, avatar), jpeg.into())
            .await
            .map_err(store_error)?;
        let written = self.replace_avatar(actor.tenant, id, Some(avatar)).await;
        if written.is_err() {
            self.remove_bytes(actor.tenant, avatar).await;
        }
        written
    }

    /// Removes `id`'s photo: visitors see their initials again.
    pub async fn remove_avatar(&self, actor: &OperatorActor, id: UserId) -> CoreResult<Operator> {
        may_change_photo(actor, id)?;
        self.replace_avatar(actor.tenant, id, None).await
    }

    /// The photo `avatar` of the tenant's operator `id`, while it is their photo.
    pub async fn open_avatar(
        &self,
        tenant: TenantId,
        id: UserId,
        avatar: AvatarId,
    ) -> CoreResult<Download> {
        let row = self.user_row(tenant, id).await?;
        if row.avatar != Some(avatar) {
            return Err(CoreError::NotFound("photo"));
        }
        let (size, body) = self
            .deps()
            .files
            .get(&key(tenant, avatar))
            .await
            .map_err(store_error)?;
        Ok(Download {
            name: format!("{avatar}.jpg"),
            content_type: "image/jpeg".into(),
            size,
            inline: true,
            body,
        })
    }

    /// Writes the new photo (or none) and removes the old one's bytes.
    async fn replace_avatar(
        &self,
        tenant: TenantId,
        id: UserId,
        avatar: Option<AvatarId>,
    ) -> CoreResult<Operator> {
        let txn = self.deps().write().await?;
        let row = user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant))
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("operator"))?;
        let old = row.avatar;
        let updated = user::Entity::update(user::ActiveModel {
            id: Set(id),
            avatar: Set(avatar),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        if let Some(old) = old.filter(|old| Some(*old) != avatar) {
            self.remove_bytes(tenant, old).await;
        }
        Ok(updated.into())
    }

    async fn remove_bytes(&self, tenant: TenantId, avatar: AvatarId) {
        let object = key(tenant, avatar);
        let removal = self.deps().files.delete(&object);
        match tokio::time::timeout(REMOVAL_TIMEOUT, removal).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(%tenant, %avatar, error = %e, "an old photo's bytes stay in the store");
            }
            Err(_) => {
                tracing::warn!(%tenant, %avatar, "an old photo's bytes stay in the store: it did not answer");
            }
        }
    }

    async fn user_row(&self, tenant: TenantId, id: UserId) -> CoreResult<user::Model> {
        user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant))
            .one(&self.deps().db)
            .await?
            .ok_or(CoreError::NotFound("operator"))
    }
}

fn may_change_photo(actor: &OperatorActor, id: UserId) -> CoreResult<()> {
    if actor.user == id || actor.is_admin() {
        Ok(())
    } else {
        Err(CoreError::NotAllowed(
            "only a tenant admin may change a colleague's photo",
        ))
    }
}

/// Where a photo's bytes are kept: under the tenant's prefix, like its files.
fn key(tenant: TenantId, avatar: AvatarId) -> String {
    format!("{tenant}/avatar-{avatar}")
}

fn store_error(e: FileStoreError) -> CoreError {
    match e {
        FileStoreError::NotFound => CoreError::NotFound("photo"),
        FileStoreError::Unavailable(reason) => CoreError::FilesUnavailable(reason),
    }
}

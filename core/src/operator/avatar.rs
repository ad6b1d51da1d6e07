//! Operators' photos. An upload is checked to be an image by its content, decoded within the
//! same bounds as images in dialogs, and only a small square copy made from its pixels is kept
//! (under the tenant's prefix in the file store). Each upload has a new id, so a photo's
//! address never shows another picture and may be cached; an old id is gone.

use bytes::Bytes;
use sea_orm::ActiveValue::Set;
use sea_orm::QuerySelect;
use sea_orm::entity::prelude::*;

use crate::audit::{self, Action, Change, Target, TargetKind};
use crate::entity::user;
use crate::error::{CoreError, CoreResult};
use crate::file::{
    Download, FileGroup, FileRefusal, FileStoreError, let_go, remove_later, remove_now, sniff,
};
use crate::ids::{AvatarId, TenantId, UserId};

use super::{Operator, OperatorActor, OperatorService};

/// The largest photo taken, in bytes: a phone's camera makes less.
pub const AVATAR_MAX_BYTES: u64 = 8 * 1024 * 1024;

impl OperatorService {
    /// Whether `actor` may change `id`'s photo (their own, or any colleague's for an admin, who
    /// must be of the tenant): asked before an upload is read.
    pub async fn check_photo_change(&self, actor: &OperatorActor, id: UserId) -> CoreResult<()> {
        may_change_photo(actor, id)?;
        self.user_row(actor.tenant, id).await.map(|_| ())
    }

    /// Sets `id`'s photo: their own, or any operator's of the tenant for an admin.
    pub async fn set_avatar(
        &self,
        actor: &OperatorActor,
        id: UserId,
        bytes: Bytes,
    ) -> CoreResult<Operator> {
        self.check_photo_change(actor, id).await?;
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
        let deps = self.deps();
        let jpeg = crate::file::portrait_off_thread(&deps.images, bytes).await?;
        let avatar = AvatarId::new();
        deps.files
            .put(&key(actor.tenant, avatar), jpeg.into())
            .await
            .map_err(store_error)?;
        let written = self.replace_avatar(actor, id, Some(avatar)).await;
        if written.is_err() {
            // Bytes no row points at: removed now, or listed for later.
            let_go(deps, actor.tenant, &[key(actor.tenant, avatar)]).await;
        }
        written
    }

    /// Removes `id`'s photo: visitors see their initials again.
    pub async fn remove_avatar(&self, actor: &OperatorActor, id: UserId) -> CoreResult<Operator> {
        may_change_photo(actor, id)?;
        self.replace_avatar(actor, id, None).await
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

    /// Writes the new photo (or none); the old one's bytes are listed for removal in the same
    /// transaction, then removed. The row is locked first: of two uploads at once, the second
    /// sees the first's photo as the old one.
    async fn replace_avatar(
        &self,
        actor: &OperatorActor,
        id: UserId,
        avatar: Option<AvatarId>,
    ) -> CoreResult<Operator> {
        let tenant = actor.tenant;
        let deps = self.deps();
        let txn = deps.write().await?;
        let row = user::Entity::find_by_id(id)
            .filter(user::Column::TenantId.eq(tenant))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(CoreError::NotFound("operator"))?;
        let old = row.avatar.filter(|old| Some(*old) != avatar);
        if let Some(old) = old {
            remove_later(&txn, tenant, &key(tenant, old), deps.clock.now()).await?;
        }
        let updated = user::Entity::update(user::ActiveModel {
            id: Set(id),
            avatar: Set(avatar),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        let action = match avatar {
            Some(_) => Action::PhotoChanged,
            None => Action::PhotoRemoved,
        };
        let target = Target::new(TargetKind::Operator, id, &row.name);
        let change = Change::between(
            &serde_json::json!({ "photo": row.avatar }),
            &serde_json::json!({ "photo": avatar }),
        );
        let now = deps.clock.now();
        audit::record(
            &txn,
            now,
            actor.into(),
            Some(tenant),
            action,
            target,
            change,
        )
        .await?;
        txn.commit().await?;
        if let Some(old) = old {
            remove_now(deps, &key(tenant, old)).await;
        }
        Ok(updated.into())
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
pub(crate) fn key(tenant: TenantId, avatar: AvatarId) -> String {
    format!("{tenant}/avatar-{avatar}")
}

fn store_error(e: FileStoreError) -> CoreError {
    e.into_core("photo")
}

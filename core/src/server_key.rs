//! Keys of the installation (not of a tenant): 32 random bytes each, generated on first use
//! and kept in `server_secrets`, so every node of a cluster uses the same.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;

use crate::entity::server_secret;
use crate::error::{CoreError, CoreResult};
use crate::services::Deps;

/// The key called `name`; concurrent first uses agree on one.
pub(crate) async fn server_key(deps: &Deps, name: &str) -> CoreResult<Vec<u8>> {
    if let Some(row) = server_secret::Entity::find_by_id(name.to_owned())
        .one(&deps.db)
        .await?
    {
        return decode_key(&row.value);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let txn = deps.write().await?;
    server_secret::Entity::insert(server_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(URL_SAFE_NO_PAD.encode(bytes)),
        created_at: Set(deps.clock.now().millis()),
    })
    .on_conflict(
        OnConflict::column(server_secret::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    let row = server_secret::Entity::find_by_id(name.to_owned())
        .one(&deps.db)
        .await?
        .ok_or_else(|| CoreError::Storage(DbErr::RecordNotFound(name.into())))?;
    decode_key(&row.value)
}

fn decode_key(value: &str) -> CoreResult<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| CoreError::Storage(DbErr::Custom("an installation key is corrupt".into())))
}

//! Objects the file store still has to remove. Bytes no row points at any more (a replaced
//! photo's) are written down in the same transaction that lets go of them, removed at once if
//! the store answers, and otherwise by the housekeeping's next rounds: a store that is down for
//! a while leaves nothing behind for good.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect};

use crate::clock::Timestamp;
use crate::entity::store_removal;
use crate::error::CoreResult;
use crate::ids::TenantId;
use crate::services::Deps;

use super::FileStoreError;

/// How long one removal may take before it is left for the next round.
const REMOVAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes down that `key` is to go.
pub(crate) async fn remove_later(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    key: &str,
    now: Timestamp,
) -> CoreResult<()> {
    store_removal::Entity::insert(store_removal::ActiveModel {
        key: Set(key.to_owned()),
        tenant_id: Set(tenant),
        since: Set(now.millis()),
    })
    .on_conflict(
        OnConflict::column(store_removal::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Removes `key` from the store within [`REMOVAL_TIMEOUT`]; a store that does not answer in
/// time is an unavailable one.
pub(crate) async fn delete_within(deps: &Deps, key: &str) -> Result<(), FileStoreError> {
    tokio::time::timeout(REMOVAL_TIMEOUT, deps.files.delete(key))
        .await
        .map_err(|_| FileStoreError::Unavailable("the file store did not answer".into()))?
}

/// Removes `key` from the store now, and from the list once the store has done it. A store that
/// fails or does not answer leaves it listed.
pub(crate) async fn remove_now(deps: &Deps, key: &str) -> bool {
    if let Err(e) = delete_within(deps, key).await {
        tracing::warn!(%key, error = %e, "left for the housekeeping to remove");
        return false;
    }
    let done = async {
        let txn = deps.write().await?;
        store_removal::Entity::delete_by_id(key.to_owned())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        CoreResult::Ok(())
    };
    if let Err(e) = done.await {
        // Removed from the store; removing it again next round does no harm.
        tracing::debug!(%key, error = %e, "a done removal stays listed for now");
    }
    true
}

/// Bytes no row points at (an upload whose write failed): removed now, and those the store
/// will not remove now listed for the housekeeping's next rounds.
pub(crate) async fn let_go(deps: &Deps, tenant: TenantId, keys: &[String]) {
    let mut left = Vec::new();
    for key in keys {
        if let Err(e) = delete_within(deps, key).await {
            tracing::warn!(%tenant, %key, error = %e, "unused bytes are left for the housekeeping");
            left.push(key);
        }
    }
    if left.is_empty() {
        return;
    }
    let listed = async {
        let txn = deps.write().await?;
        for key in &left {
            remove_later(&txn, tenant, key, deps.clock.now()).await?;
        }
        txn.commit().await?;
        CoreResult::Ok(())
    };
    if let Err(e) = listed.await {
        tracing::warn!(%tenant, error = %e, "unused bytes stay in the store: they could not be listed");
    }
}

/// One round of the housekeeping: the oldest listed removals. Returns how many were done.
pub(crate) async fn remove_listed(deps: &Deps) -> CoreResult<usize> {
    let keys: Vec<String> = store_removal::Entity::find()
        .select_only()
        .column(store_removal::Column::Key)
        .order_by_asc(store_removal::Column::Since)
        .limit(200)
        .into_tuple()
        .all(&deps.db)
        .await?;
    let mut done = 0;
    for key in keys {
        if remove_now(deps, &key).await {
            done += 1;
        }
    }
    Ok(done)
}

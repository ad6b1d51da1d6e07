//! Small periodic chores of a serving node: SQLite checkpoints off the write path, forgetting
//! rate-limit state of clients that went quiet, removing deleted files' bytes that the file
//! store did not take when they were deleted, and pruning what is kept only for a time (reply
//! waits, audit entries past their retention, usage days past a year, exports past their
//! download period), erasing closed dialogs past their tenant's retention, and deleting the
//! tenants whose scheduled deletion is due.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::realtime::socket::shutting_down;
use crate::state::AppState;

const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
const FORGET_CLIENTS_EVERY: Duration = Duration::from_secs(60);

pub fn spawn(state: AppState, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut checkpoint = tokio::time::interval(CHECKPOINT_EVERY);
        let mut forget = tokio::time::interval(FORGET_CLIENTS_EVERY);
        checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut purging = None;
        loop {
            tokio::select! {
                _ = checkpoint.tick() => {
                    if let Err(e) = state.tandem.storage().checkpoint().await {
                        tracing::warn!(error = %e, "SQLite checkpoint failed");
                    }
                }
                _ = forget.tick() => {
                    state.limits.forget_idle();
                    // In a task of its own: a slow file store holds up no checkpoint.
                    if purging.as_ref().is_none_or(|p: &JoinHandle<()>| p.is_finished()) {
                        let files = state.tandem.files.clone();
                        let reply_times = state.tandem.reply_times.clone();
                        let (audit, retention) = (state.tandem.audit.clone(), state.audit_retention);
                        let usage = state.tandem.usage.clone();
                        let state = state.clone();
                        purging = Some(tokio::spawn(async move {
                            if let Err(e) = files.purge_deleted().await {
                                tracing::warn!(error = %e, "deleted files not purged this round");
                            }
                            if let Err(e) = reply_times.prune().await {
                                tracing::warn!(error = %e, "old reply waits not pruned this round");
                            }
                            if let Some(retention) = retention
                                && let Err(e) = audit.prune(retention).await
                            {
                                tracing::warn!(error = %e, "old audit entries not pruned this round");
                            }
                            if let Err(e) = usage.prune().await {
                                tracing::warn!(error = %e, "old usage days not pruned this round");
                            }
                            if let Err(e) = state.tandem.exports.expire().await {
                                tracing::warn!(error = %e, "expired exports not removed this round");
                            }
                            match state.tandem.tenants.delete_due().await {
                                Ok(deleted) => {
                                    for tenant in &deleted.tenants {
                                        state.tenants.evict(*tenant);
                                        state.plugins.forget(*tenant);
                                    }
                                    for module in &deleted.plugin_modules {
                                        state.plugins.host().forget(module);
                                    }
                                    crate::routes::erasure::remove_mail_files(&state, &deleted.dev_mails)
                                        .await;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "a tenant's deletion goes on at the next round");
                                }
                            }
                            match state.tandem.visitors.apply_retention().await {
                                Ok(done) => {
                                    crate::routes::erasure::remove_mail_files(&state, &done.dev_mails)
                                        .await;
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "dialogs past their retention wait for the next round");
                                }
                            }
                        }));
                    }
                }
                () = shutting_down(&mut stop) => break,
            }
        }
    })
}

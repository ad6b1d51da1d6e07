//! `tandem plugin check|run`: what an upload would say about a plugin, and one hook call, on
//! the author's machine with the server's default limits.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tandem_plugins::CallLimits;
use tandem_plugins::hooks::{HookContext, HookName, RouteInput};
use tandem_plugins::host::Call;

use crate::config::Config;
use crate::startup;

/// Validates `file` as an upload would; prints the manifest as JSON.
pub async fn check(config: &Config, file: &Path) -> anyhow::Result<()> {
    let host = startup::plugin_host(config)?;
    let max_bytes = config.max_plugin_bytes;
    let wasm = read(file)?;
    let started = std::time::Instant::now();
    let plugin = host
        .validate(wasm, max_bytes, CallLimits::default())
        .await
        .map_err(|e| anyhow::anyhow!("{} is not a valid plugin: {e}", file.display()))?;
    print_json(&serde_json::json!({
        "valid": true,
        "manifest": plugin.manifest,
        "sha256": plugin.sha256,
        "ready_ms": started.elapsed().as_millis(),
    }))
}

/// Runs `hook` once with `input` (the hook's context as JSON; for `route_notification`
/// `{"context", "messages", "email"}`); prints the answer, the output and the time taken.
pub async fn run(config: &Config, file: &Path, hook: &str, input: &str) -> anyhow::Result<()> {
    let hook = HookName::parse(hook).with_context(|| {
        format!("unknown hook {hook}; one of offline_timeout, email_template, route_notification")
    })?;
    let host = startup::plugin_host(config)?;
    let limits = CallLimits::default();
    let plugin = host
        .validate(read(file)?, usize::MAX, limits)
        .await
        .map_err(|e| anyhow::anyhow!("{} is not a valid plugin: {e}", file.display()))?;
    if !plugin.manifest.hooks.contains(&hook) {
        anyhow::bail!(
            "the plugin does not implement {} (its manifest names {:?})",
            hook.as_str(),
            plugin.manifest.hooks
        );
    }
    match hook {
        HookName::OfflineTimeout => {
            let ctx: HookContext = parse(input)?;
            report(host.offline_timeout(&plugin, limits, &ctx).await)
        }
        HookName::EmailTemplate => {
            let ctx: HookContext = parse(input)?;
            report(host.email_template(&plugin, limits, &ctx).await)
        }
        HookName::RouteNotification => {
            let input: RouteInput = parse(input)?;
            report(
                host.route_notification(
                    &plugin,
                    limits,
                    &input.context,
                    &input.messages,
                    &input.email,
                )
                .await,
            )
        }
    }
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn parse<T: serde::de::DeserializeOwned>(input: &str) -> anyhow::Result<T> {
    serde_json::from_str(input).context("--input is not the hook's input as JSON")
}

fn report<T: Serialize>(call: Call<T>) -> anyhow::Result<()> {
    let elapsed_us = call.elapsed.as_micros();
    match call.result {
        Ok(answer) => print_json(&serde_json::json!({
            "answer": answer,
            "output": call.output,
            "elapsed_us": elapsed_us,
        })),
        Err(e) => {
            if !call.output.is_empty() {
                eprintln!("{}", call.output);
            }
            anyhow::bail!("the call failed (the server would use the default): {e}")
        }
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

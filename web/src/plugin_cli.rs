//! `tandem plugin check|run`: what an upload would say about a plugin, and one hook call, on
//! the author's machine with the server's default limits.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tandem_core::plugin::{SettingsSchema, parse_settings};
use tandem_plugins::CallLimits;
use tandem_plugins::Manifest;
use tandem_plugins::hooks::{
    AlertInput, AvailabilityInput, ClosedInput, HookContext, HookName, OfflineRequestInput,
    RouteInput,
};
use tandem_plugins::host::Call;

use crate::config::Config;
use crate::startup;

/// Validates `file` as an upload would, compiling it as the server would (so `ready_ms` is what
/// an upload takes); prints the manifest as JSON.
pub async fn check(config: &Config, file: &Path) -> anyhow::Result<()> {
    let host = startup::plugin_host(config)?;
    let max_bytes = config.max_plugin_bytes;
    let wasm = read(file)?;
    let started = std::time::Instant::now();
    let plugin = host
        .validate(wasm, max_bytes, CallLimits::default())
        .await
        .map_err(|e| anyhow::anyhow!("{} is not a valid plugin: {e}", file.display()))?;
    let mut manifest = serde_json::to_value(&plugin.manifest)?;
    // The schema as the JSON it is, not as a string of it.
    if let Some(schema) = &plugin.manifest.settings_schema {
        manifest["settings_schema"] = serde_json::from_str(schema)?;
    }
    print_json(&serde_json::json!({
        "valid": true,
        "manifest": manifest,
        "sha256": plugin.sha256,
        "ready_ms": started.elapsed().as_millis(),
    }))
}

/// A plugin host as the server's, which keeps what it compiles: an author runs the same plugin
/// again and again, and a JavaScript one takes seconds to compile. The cache is
/// `TANDEM_PLUGIN_CACHE_DIR`, else `$XDG_CACHE_HOME/tandem/plugins`, else
/// `~/.cache/tandem/plugins`; a changed plugin is compiled again.
fn author_host(config: &Config) -> anyhow::Result<tandem_plugins::PluginHost> {
    if config.plugin_cache_dir.is_some() {
        return startup::plugin_host(config);
    }
    // The XDG rule: a relative XDG_CACHE_HOME is ignored.
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .filter(|dir| dir.is_absolute());
    let Some(base) = base else {
        return startup::plugin_host(config);
    };
    let mut cached = config.clone();
    cached.plugin_cache_dir = Some(base.join("tandem").join("plugins"));
    startup::plugin_host(&cached).or_else(|e| {
        // A cache that cannot be used (a read-only home, say) only makes the author wait.
        eprintln!("warning: compiled plugins are not kept ({e:#}); each run compiles again");
        startup::plugin_host(config)
    })
}

/// What `tandem plugin run` is given besides the plugin and the hook.
pub struct RunInput {
    /// The hook's input as JSON: its context, or `{"context", …}` for the hooks that take more.
    pub input: String,
    /// The plugin's settings as JSON, checked against its schema as the server would; without
    /// them the schema's defaults.
    pub settings: Option<String>,
}

/// Runs `hook` once; prints the answer, the output and the time taken.
pub async fn run(config: &Config, file: &Path, hook: &str, given: RunInput) -> anyhow::Result<()> {
    let hook = HookName::parse(hook).with_context(|| {
        let names: Vec<&str> = HookName::ALL.iter().map(|h| h.as_str()).collect();
        format!("unknown hook {hook}; one of {}", names.join(", "))
    })?;
    let host = author_host(config)?;
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
    let settings = settings(&plugin.manifest, given.settings.as_deref())?;
    let input = given.input.as_str();
    let with_settings = |mut ctx: HookContext| {
        ctx.tenant.settings = settings.clone();
        ctx
    };
    match hook {
        HookName::OfflineTimeout => {
            let ctx = with_settings(parse(input)?);
            report(host.offline_timeout(&plugin, limits, &ctx).await)
        }
        HookName::EmailTemplate => {
            let ctx = with_settings(parse(input)?);
            report(host.email_template(&plugin, limits, &ctx).await)
        }
        HookName::RouteNotification => {
            let input: RouteInput = parse(input)?;
            let ctx = with_settings(input.context);
            report(
                host.route_notification(&plugin, limits, &ctx, &input.messages, &input.email)
                    .await,
            )
        }
        HookName::OfflineRequest => {
            let input: OfflineRequestInput = parse(input)?;
            let ctx = with_settings(input.context);
            report(
                host.offline_request(&plugin, limits, &ctx, &input.request)
                    .await,
            )
        }
        HookName::Availability => {
            let mut input: AvailabilityInput = parse(input)?;
            input.context.settings = settings.clone();
            report(
                host.availability(&plugin, limits, &input.context, input.staff)
                    .await,
            )
        }
        HookName::OperatorAlert => {
            let input: AlertInput = parse(input)?;
            let ctx = with_settings(input.context);
            report(
                host.operator_alert(&plugin, limits, &ctx, &input.alert)
                    .await,
            )
        }
        HookName::ChatClosed => {
            let input: ClosedInput = parse(input)?;
            let ctx = with_settings(input.context);
            report(host.chat_closed(&plugin, limits, &ctx, &input.chat).await)
        }
    }
}

/// The settings a call gets: those given, checked as the server checks an admin's, or the
/// schema's defaults.
fn settings(manifest: &Manifest, given: Option<&str>) -> anyhow::Result<String> {
    let Some(schema) = &manifest.settings_schema else {
        if given.is_some() {
            anyhow::bail!("the plugin declares no settings");
        }
        return Ok("{}".into());
    };
    let schema = SettingsSchema::parse(schema)
        .map_err(|e| anyhow::anyhow!("the plugin's settings schema: {e}"))?;
    let value = match given {
        Some(text) => parse_settings(text).map_err(|e| anyhow::anyhow!("--settings: {e}"))?,
        None => schema.defaults(),
    };
    schema
        .check(&value)
        .map_err(|problem| anyhow::anyhow!("the settings are refused: {problem}"))?;
    Ok(value.to_string())
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
            "instantiation_us": call.instantiation.map(|d| d.as_micros()),
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

//! Business hours, from the plugin's settings (time zone, hours, working days, timeouts):
//! - during working hours an unread reply goes to the visitor's email after a short wait, at
//!   night and at weekends after a long one (they may well come back to the site by then);
//! - outside working hours the widget shows the offline form with the tenant's "closed"
//!   message, and an offline request is answered at once with when the team will be back,
//!   tagged `after-hours` and assigned to the operator the settings name, if any.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use serde::Deserialize;
use tandem_plugin_sdk::prelude::*;

struct BusinessHours;

#[derive(Deserialize)]
struct Settings {
    time_zone: String,
    opens: i8,
    closes: i8,
    working_days: Vec<String>,
    working_timeout_minutes: u32,
    off_hours_timeout_minutes: u32,
    closed_message: String,
    /// An operator's email: who after-hours requests are assigned to (empty: nobody).
    #[serde(default)]
    after_hours_operator: String,
}

tandem_plugin_sdk::plugin! {
    impl Plugin for BusinessHours {
        const NAME: &'static str = "business-hours";
        const VERSION: &'static str = env!("CARGO_PKG_VERSION");
        const SETTINGS_SCHEMA: Option<&'static str> = Some(include_str!("settings.schema.json"));

        fn offline_timeout(ctx: Context) -> Option<u32> {
            let (settings, open) = now(&ctx.tenant)?;
            let minutes = if open {
                settings.working_timeout_minutes
            } else {
                settings.off_hours_timeout_minutes
            };
            Some(minutes * 60)
        }

        fn availability(ctx: TenantContext, _staff: Staff) -> Option<Offer> {
            let (settings, open) = now(&ctx)?;
            // Within hours, Tandem's own rule: the chat while an operator is available.
            (!open).then(|| Offer {
                mode: WidgetMode::OfflineForm,
                message: Some(settings.closed_message),
            })
        }

        fn offline_request(ctx: Context, _request: OfflineForm) -> Option<RequestAnswer> {
            let (settings, open) = now(&ctx.tenant)?;
            (!open).then(|| RequestAnswer {
                auto_reply: Some(format!(
                    "Thank you, we have your message. We are back at {:02}:00 ({}) and will \
                     answer by email.",
                    settings.opens, settings.time_zone
                )),
                tags: vec!["after-hours".into()],
                priority: None,
                assign_to: Some(settings.after_hours_operator.clone())
                    .filter(|email| !email.trim().is_empty()),
            })
        }
    }
}

/// The day before `day`, by its short name.
fn previous(day: &str) -> &'static str {
    const WEEK: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let at = WEEK.iter().position(|d| *d == day).unwrap_or(0);
    WEEK[(at + 6) % 7]
}

/// The settings, and whether the team is at work now; `None` (the default behaviour) when the
/// settings cannot be used, which the plugin's log says.
fn now(ctx: &TenantContext) -> Option<(Settings, bool)> {
    let settings: Settings = match tandem_plugin_sdk::settings(ctx) {
        Ok(settings) => settings,
        Err(e) => {
            println!("unusable settings: {e}");
            return None;
        }
    };
    let zone = match TimeZone::get(&settings.time_zone) {
        Ok(zone) => zone,
        Err(_) => {
            println!("unknown time zone {:?}", settings.time_zone);
            return None;
        }
    };
    let local = Timestamp::from_millisecond(ctx.now_ms)
        .ok()?
        .to_zoned_datetime(zone);
    let day = match local.weekday() {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    };
    let hour = local.hour();
    // Hours past midnight (opens 22, closes 6) belong to the day they began on.
    let (day, within) = if settings.opens < settings.closes {
        (day, (settings.opens..settings.closes).contains(&hour))
    } else if hour >= settings.opens {
        (day, true)
    } else {
        (previous(day), hour < settings.closes)
    };
    let open = within && settings.working_days.iter().any(|d| d == day);
    Some((settings, open))
}

//! A frozen copy of the business-hours example as it was built for world 0.1.0 (before the SDK and
//! settings): the test suite uploads it to prove a 0.1.0 plugin keeps working beside 0.2.0 ones.
//! Do not update it.
//!
//! Business hours: during the team's working hours a visitor who does not read a reply hears by
//! email after 2 minutes; at night and at weekends, when nobody would answer their reply anyway,
//! after 30 minutes (they may well come back to the site by then).

wit_bindgen::generate!({ path: "../../wit/since_v0.1.0", world: "plugin" });

use exports::tandem::plugin::hooks::{
    Context, Delivery, Guest, Hook, Manifest, RenderedEmail, TemplateSources, UnreadMessage,
};

/// The team's time zone, as an offset from UTC (here: Moscow, UTC+3, no daylight saving).
const UTC_OFFSET_MINUTES: i64 = 3 * 60;
/// Working hours, local time, Monday to Friday: [OPENS, CLOSES).
const OPENS_HOUR: i64 = 9;
const CLOSES_HOUR: i64 = 18;
const WORKING_TIMEOUT_SECS: u32 = 2 * 60;
const OFF_HOURS_TIMEOUT_SECS: u32 = 30 * 60;

struct BusinessHours;

impl Guest for BusinessHours {
    fn describe() -> Manifest {
        Manifest {
            name: "business-hours".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            hooks: vec![Hook::OfflineTimeout],
        }
    }

    fn offline_timeout(ctx: Context) -> Option<u32> {
        Some(if is_working_time(ctx.now_ms) {
            WORKING_TIMEOUT_SECS
        } else {
            OFF_HOURS_TIMEOUT_SECS
        })
    }

    fn email_template(_: Context) -> Option<TemplateSources> {
        None
    }

    fn route_notification(
        _: Context,
        _: Vec<UnreadMessage>,
        _: RenderedEmail,
    ) -> Option<Vec<Delivery>> {
        None
    }
}

/// Whether `now_ms` (Unix milliseconds, UTC) falls in working hours.
fn is_working_time(now_ms: i64) -> bool {
    let local_minutes = now_ms.div_euclid(60_000) + UTC_OFFSET_MINUTES;
    let day = local_minutes.div_euclid(24 * 60);
    let hour = local_minutes.rem_euclid(24 * 60) / 60;
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    let weekday = (day + 3).rem_euclid(7);
    weekday < 5 && (OPENS_HOUR..CLOSES_HOUR).contains(&hour)
}

export!(BusinessHours);

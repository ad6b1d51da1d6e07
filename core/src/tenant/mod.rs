//! Tenants: the companies that use Tandem, each with its widget key, settings and first admin.

mod deletion;
mod email_template;
mod limits;
mod service;
mod settings;
mod settings_cache;

pub use deletion::{DEFAULT_GRACE, DeletedTenants, MAX_GRACE};
pub(crate) use email_template::template_of;
pub use email_template::{EmailParts, MAX_TEMPLATE_BYTES};
pub use limits::{LimitsPatch, TenantLimits};
pub use service::{CreatedAdmin, CreatedTenant, NewTenant, Tenant, TenantService};
pub(crate) use service::{parse_limits, parse_settings};
pub(crate) use settings_cache::SettingsCache;
// The parsers that the API document's rules are checked against.
pub use settings::{Branding, Language, SettingsPatch, TenantSettings, WidgetPosition};
#[cfg(test)]
pub(crate) use {service::parse_slug, settings::validate_origin};

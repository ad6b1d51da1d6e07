//! Tenants: the companies that use Tandem, each with its widget key, settings and first admin.

mod service;
mod settings;

pub(crate) use service::parse_settings;
pub use service::{CreatedAdmin, CreatedTenant, NewTenant, Tenant, TenantService};
pub use settings::{Branding, Language, SettingsPatch, TenantSettings, WidgetPosition};

//! The first run: with no tenant at all, `tandem serve` creates a demo tenant and prints how to
//! log in, so that a new user has something to open.

use tandem_core::Tandem;
use tandem_core::tenant::{CreatedTenant, NewTenant};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_ADMIN_EMAIL: &str = "admin@example.com";

/// Creates the demo tenant if the database has no tenant yet.
pub async fn ensure_demo_tenant(tandem: &Tandem) -> anyhow::Result<Option<CreatedTenant>> {
    if tandem.tenants.count().await? > 0 {
        return Ok(None);
    }
    let created = tandem
        .tenants
        .create(
            &tandem_core::audit::PlatformActor::command_line(),
            NewTenant {
                slug: DEMO_SLUG.into(),
                name: "Demo Company".into(),
                admin_email: DEMO_ADMIN_EMAIL.into(),
                admin_password: None,
            },
        )
        .await?;
    Ok(Some(created))
}

pub fn announce(created: &CreatedTenant, public_url: &str) -> String {
    format!(
        "\nFirst run: created the demo tenant.\n\
         \x20 Try it          {public_url}/demo    (a site with the chat widget: write as a visitor)\n\
         \x20 Workspace       {public_url}/app     (answer as an operator; set yourself online)\n\
         \x20 Admin console   {public_url}/admin   (settings, branding, operators, plugins)\n\
         \x20 Admin login     tenant: {slug}   email: {email}   password: {password}\n\
         \x20 Widget key      {key}\n\
         \x20 API             {public_url}/api/v1/openapi.json\n\
         \x20 (The password is shown only now. Create more tenants with `tandem tenant create`.)\n",
        slug = created.slug,
        email = created.admin.email,
        password = created.admin.password,
        key = created.widget_key,
    )
}

//! The unread-reply email of a batch as it would go out, for a plugin's trial (core's
//! `EmailPreview`): the same context and the same choice of template as a delivery, but the
//! links carry no token — issuing one is an act, and a trial leaves nothing behind.

use std::sync::Arc;

use tandem_core::Tandem;
use tandem_core::delivery::{EmailSummary, UnreadBatch};
use tandem_core::ids::ChatId;
use tandem_core::plugin::EmailPreview;
use tandem_core::tenant::EmailParts;

use crate::deliver::render_own;
use crate::templates::{EmailContext, Links, Templates, language_of};

/// Where a link's token would be.
const NO_TOKEN: &str = "issued-when-the-email-is-sent";

pub struct EmailPreviewer {
    tandem: Tandem,
    templates: Arc<Templates>,
    public_url: String,
}

impl EmailPreviewer {
    pub fn new(tandem: Tandem, public_url: &str) -> Self {
        Self {
            tandem,
            templates: Arc::new(Templates::new()),
            public_url: public_url.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl EmailPreview for EmailPreviewer {
    async fn preview(
        &self,
        batch: &UnreadBatch,
        template: Option<EmailParts>,
    ) -> Result<EmailSummary, String> {
        let links = Links::of(&self.public_url, batch, NO_TOKEN, NO_TOKEN, &[]);
        let language = language_of(batch);
        let context = EmailContext::new(batch, links, language, batch.visitor.email_confirmed);
        let parts = match template {
            Some(template) => self
                .templates
                .render_off_thread(template, context)
                .await
                .map_err(|e| e.to_string())?,
            None => render_own(&self.tandem, &self.templates, batch, language, &context).await?,
        };
        Ok(EmailSummary {
            to: batch.visitor.email.clone().unwrap_or_default(),
            subject: parts.subject,
            text: parts.text,
        })
    }

    fn workspace_url(&self, chat: ChatId) -> String {
        crate::alerts::workspace_link(&self.public_url, chat)
    }
}

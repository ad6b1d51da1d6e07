//! The unread-reply email: handlebars templates (English and Russian by default), rendered in
//! strict mode so a misspelt variable is an error rather than an empty gap. The HTML template
//! escapes every value; the subject and text templates do not need to.
//!
//! Templates come from tenant admins and plugins, so every one is checked by [`guard`] before it
//! is rendered, and rendered under [`budget`]: a template can fail, never take the process down.

mod budget;
mod context;
pub mod guard;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use handlebars::{Handlebars, Template};
use tandem_core::tenant::{EmailParts, Language};

pub use budget::{MAX_OUTPUT_BYTES, RENDER_TIME};
pub use context::{EmailContext, Line, Links, language_of};

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the {part} template does not compile: {reason}")]
    Compile { part: &'static str, reason: String },
    #[error("the {part} template does not render: {reason}")]
    Render { part: &'static str, reason: String },
    #[error("the {part} template is not allowed: {reason}")]
    Refused { part: &'static str, reason: String },
    #[error("the email takes more than {} KiB to render", MAX_OUTPUT_BYTES / 1024)]
    TooLarge,
    #[error("the email takes more than {} ms to render", RENDER_TIME.as_millis())]
    TooSlow,
    #[error("the server is rendering too many emails at once; try again")]
    Busy,
}

/// Renders unread-reply emails.
pub struct Templates {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
    /// Sources that passed [`check`], compiled: the same few templates render mail after mail,
    /// and compiling (twice, for the checks and for the renderer) cost more than rendering.
    checked: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    compiled: HashMap<String, Arc<Template>>,
    /// The kept sources' bytes: a compiled template takes up to ~100 times its source.
    bytes: usize,
}

/// Sources kept compiled, at most, in bytes; past it the cache starts again (tenants' templates
/// change seldom, a flood of distinct ones only costs compiling again). A longer source than
/// [`KEPT_SOURCE_MAX`] is compiled every time. So the cache holds some 30 MB at worst.
const KEPT_BYTES: usize = 256 * 1024;
const KEPT_SOURCE_MAX: usize = 8 * 1024;

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut html = engine();
        html.register_escape_fn(handlebars::html_escape);
        let mut plain = engine();
        plain.register_escape_fn(handlebars::no_escape);
        Self {
            html,
            plain,
            checked: Mutex::new(Kept::default()),
        }
    }

    /// `source` compiled, once it passed [`check`] (now or before).
    fn checked(&self, part: &'static str, source: &str) -> Result<Arc<Template>, TemplateError> {
        if let Some(compiled) = self.kept().compiled.get(source) {
            return Ok(compiled.clone());
        }
        let compiled = Arc::new(check(part, source)?);
        if source.len() <= KEPT_SOURCE_MAX {
            let mut kept = self.kept();
            // Dropped after the lock, not under it: freeing many templates takes a while.
            let dropped =
                (kept.bytes + source.len() > KEPT_BYTES).then(|| std::mem::take(&mut *kept));
            if kept
                .compiled
                .insert(source.to_owned(), compiled.clone())
                .is_none()
            {
                kept.bytes += source.len();
            }
            drop(kept);
            drop(dropped);
        }
        Ok(compiled)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding it leaves a map of whole entries: still usable.
        self.checked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The built-in template of a language: the files in `worker/templates/unread-reply/`.
    pub fn built_in(language: Language) -> EmailParts {
        let [subject, html, text] = match language {
            Language::En => [
                include_str!("../../templates/unread-reply/en/subject.hbs"),
                include_str!("../../templates/unread-reply/en/html.hbs"),
                include_str!("../../templates/unread-reply/en/text.hbs"),
            ],
            Language::Ru => [
                include_str!("../../templates/unread-reply/ru/subject.hbs"),
                include_str!("../../templates/unread-reply/ru/html.hbs"),
                include_str!("../../templates/unread-reply/ru/text.hbs"),
            ],
        };
        EmailParts {
            subject: subject.to_owned(),
            html: html.to_owned(),
            text: text.to_owned(),
        }
    }

    /// Checks the template, then renders it on this thread within [`RENDER_TIME`] and
    /// [`MAX_OUTPUT_BYTES`]. Async callers use [`Self::render_off_thread`].
    pub fn render(
        &self,
        template: &EmailParts,
        context: &EmailContext,
    ) -> Result<EmailParts, TemplateError> {
        let subject = self.checked("subject", &template.subject)?;
        let html = self.checked("html", &template.html)?;
        let text = self.checked("text", &template.text)?;
        let mut budget = budget::Budget::start();
        let subject = budget.render(&self.plain, "subject", &subject, context)?;
        // A subject is one line, whatever the template or the values hold, and never blank
        // (`{{!-- --}}` compiles, and would send mail without one).
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        if subject.is_empty() {
            return Err(TemplateError::Render {
                part: "subject",
                reason: "it renders blank".into(),
            });
        }
        Ok(EmailParts {
            subject,
            html: budget.render(&self.html, "html", &html, context)?,
            text: budget.render(&self.plain, "text", &text, context)?,
        })
    }

    /// [`Self::render`] on a blocking thread, a few at a time for the whole process, so that
    /// no template holds up the async threads.
    pub async fn render_off_thread(
        self: &std::sync::Arc<Self>,
        template: EmailParts,
        context: EmailContext,
    ) -> Result<EmailParts, TemplateError> {
        budget::off_thread(self.clone(), template, context).await
    }

    /// A template a tenant admin wants to use: it must pass the checks and render against a
    /// sample.
    pub async fn validate(
        self: &std::sync::Arc<Self>,
        template: EmailParts,
    ) -> Result<EmailParts, TemplateError> {
        self.render_off_thread(template, EmailContext::sample())
            .await
    }
}

/// A registry without the helpers no template may call.
fn engine() -> Handlebars<'static> {
    let mut engine = Handlebars::new();
    engine.set_strict_mode(true);
    engine.unregister_helper("log");
    engine.unregister_helper("raw");
    engine
}

/// The checks of [`guard`], and the compiler's own (so a syntax error is reported as one, with
/// its place); the template compiled, as the renderers would compile it.
pub fn check(part: &'static str, source: &str) -> Result<Template, TemplateError> {
    let refused = |reason| TemplateError::Refused { part, reason };
    guard::scan(source).map_err(refused)?;
    let compiled = Template::compile(source).map_err(|e| TemplateError::Compile {
        part,
        reason: e.to_string(),
    })?;
    guard::walk(&compiled).map_err(refused)?;
    Ok(compiled)
}

/// How long a caller waits for a render before giving up on it (the render itself stops at
/// [`RENDER_TIME`]; this covers the queue for a rendering thread).
pub const RENDER_WAIT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn values_are_escaped_in_html_and_kept_in_text() {
        let templates = Templates::new();
        let mut context = EmailContext::sample();
        context.replies[0].body = "<script>alert(1)</script> & more".into();
        let email = templates
            .render(&Templates::built_in(Language::En), &context)
            .unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("&lt;script&gt;"));
        assert!(email.text.contains("<script>alert(1)</script> & more"));
        assert!(email.text.contains(&context.resume_url));
        assert!(!email.subject.contains('\n'));
    }

    /// The compiled templates are kept between mails; a refused one never is, and each
    /// engine still escapes as its own part asks.
    #[test]
    fn kept_templates_render_as_fresh_ones_and_refused_ones_stay_refused() {
        let templates = Templates::new();
        let mut context = EmailContext::sample();
        context.replies[0].body = "<b>bold</b>".into();
        let mut template = Templates::built_in(Language::En);
        // The same source as the html and the text part.
        template.text = template.html.clone();
        let first = templates.render(&template, &context).unwrap();
        let again = templates.render(&template, &context).unwrap();
        assert_eq!(first, again);
        assert!(first.html.contains("&lt;b&gt;bold"));
        assert!(first.text.contains("<b>bold</b>"), "no escaping in text");
        let mut hostile = Templates::built_in(Language::En);
        hostile.text = r#"{{#*inline "a"}}x{{> a}}{{/inline}}{{> a}}"#.into();
        for _ in 0..2 {
            assert!(matches!(
                templates.render(&hostile, &context),
                Err(TemplateError::Refused { part: "text", .. })
            ));
        }
    }

    #[test]
    fn the_kept_templates_stay_within_their_bytes() {
        let templates = Templates::new();
        let context = EmailContext::sample();
        let mut template = Templates::built_in(Language::En);
        for n in 0..400 {
            template.text = format!("{}{n}", "x".repeat(2000));
            templates.render(&template, &context).unwrap();
            assert!(templates.kept().bytes <= KEPT_BYTES);
        }
        template.text = "y".repeat(KEPT_SOURCE_MAX + 1);
        let email = templates.render(&template, &context).unwrap();
        assert_eq!(email.text, template.text);
        assert!(!templates.kept().compiled.contains_key(&template.text));
    }

    #[test]
    fn russian_visitors_get_the_russian_template() {
        let templates = Templates::new();
        let email = templates
            .render(&Templates::built_in(Language::Ru), &EmailContext::sample())
            .unwrap();
        assert!(email.text.contains("Продолжить разговор"));
        assert!(email.subject.contains("ответил"));
    }

    #[tokio::test]
    async fn a_subject_that_renders_blank_is_refused() {
        let templates = Arc::new(Templates::new());
        for blank in ["{{!-- nothing --}}", "{{#if false}}x{{/if}}  \n "] {
            let mut template = Templates::built_in(Language::En);
            template.subject = blank.into();
            assert!(
                matches!(
                    templates.validate(template).await,
                    Err(TemplateError::Render {
                        part: "subject",
                        ..
                    })
                ),
                "{blank:?}"
            );
        }
    }

    #[tokio::test]
    async fn broken_or_misspelt_templates_are_refused_with_the_reason() {
        let templates = Arc::new(Templates::new());
        let mut template = Templates::built_in(Language::En);
        template.subject = "{{#if}}".into();
        assert!(matches!(
            templates.validate(template).await,
            Err(TemplateError::Compile {
                part: "subject",
                ..
            })
        ));
        let mut template = Templates::built_in(Language::En);
        template.text = "Hi {{visitor_nmae}}".into();
        let err = templates.validate(template).await.unwrap_err();
        assert!(
            matches!(err, TemplateError::Render { part: "text", .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn templates_that_would_crash_or_explode_are_refused_before_rendering() {
        let templates = Arc::new(Templates::new());
        let hostile = [
            r#"{{#*inline "a"}}x{{> a}}{{/inline}}{{> a}}"#.to_owned(),
            r#"{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}{{> a}}"#
                .to_owned(),
            "{{#if a}}".repeat(3000) + &"{{/if}}".repeat(3000),
            "{{".to_owned() + &"(lookup ".repeat(2000) + "x" + &" 1)".repeat(2000) + "}}",
            "{{#each @root.replies}}".repeat(40) + "x" + &"{{/each}}".repeat(40),
            "{{{visitor_name}}}".to_owned(),
        ];
        for source in hostile {
            let mut template = Templates::built_in(Language::En);
            template.html = source.clone();
            let err = templates.validate(template).await.unwrap_err();
            assert!(
                matches!(err, TemplateError::Refused { part: "html", .. }),
                "{source:.80}: {err}"
            );
        }
    }

    #[tokio::test]
    async fn output_is_capped() {
        let templates = Arc::new(Templates::new());
        let mut context = EmailContext::sample();
        let line = context.replies[0].clone();
        context.replies = vec![line; 100];
        context.replies[0].body = "x".repeat(4096);
        let mut template = Templates::built_in(Language::En);
        // 100 × 100 × 4 KiB would be 40 MB.
        template.text =
            "{{#each replies}}{{#each @root.replies}}{{@root.replies.0.body}}{{/each}}{{/each}}"
                .into();
        let err = templates
            .render_off_thread(template, context)
            .await
            .unwrap_err();
        assert!(matches!(err, TemplateError::TooLarge), "{err}");
    }
}

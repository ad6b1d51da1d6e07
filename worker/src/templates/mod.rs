//! The unread-reply email: handlebars templates (English and Russian by default), rendered in
//! strict mode so a misspelt variable is an error rather than an empty gap. The HTML template
//! escapes every value; the subject and text templates do not need to.

mod context;

use handlebars::Handlebars;
use serde::{Deserialize, Serialize};

pub use context::{EmailContext, Line, Links};

/// The three sources of one email template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailTemplate {
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl From<tandem_core::tenant::TemplateSources> for EmailTemplate {
    fn from(sources: tandem_core::tenant::TemplateSources) -> Self {
        Self {
            subject: sources.subject,
            html: sources.html,
            text: sources.text,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the {part} template does not compile: {reason}")]
    Compile { part: &'static str, reason: String },
    #[error("the {part} template does not render: {reason}")]
    Render { part: &'static str, reason: String },
}

/// Renders unread-reply emails.
pub struct Templates {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut plain = Handlebars::new();
        plain.set_strict_mode(true);
        plain.register_escape_fn(handlebars::no_escape);
        Self { html, plain }
    }

    /// The built-in template for a language (`ru`, else English).
    pub fn default_for(language: &str) -> EmailTemplate {
        let (subject, html, text) = if language.starts_with("ru") {
            (RU_SUBJECT, RU_HTML, RU_TEXT)
        } else {
            (EN_SUBJECT, EN_HTML, EN_TEXT)
        };
        EmailTemplate {
            subject: subject.to_owned(),
            html: html.to_owned(),
            text: text.to_owned(),
        }
    }

    pub fn render(
        &self,
        template: &EmailTemplate,
        context: &EmailContext,
    ) -> Result<RenderedEmail, TemplateError> {
        let subject = render(&self.plain, "subject", &template.subject, context)?;
        Ok(RenderedEmail {
            // A subject is one line, whatever the template or the values hold.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            html: render(&self.html, "html", &template.html, context)?,
            text: render(&self.plain, "text", &template.text, context)?,
        })
    }

    /// A template a tenant admin wants to use: it must compile and render against a sample.
    pub fn validate(&self, template: &EmailTemplate) -> Result<RenderedEmail, TemplateError> {
        self.render(template, &EmailContext::sample())
    }
}

fn render(
    engine: &Handlebars<'static>,
    part: &'static str,
    source: &str,
    context: &EmailContext,
) -> Result<String, TemplateError> {
    // Compiled first on its own so that a syntax error is reported as one, with its place.
    handlebars::Template::compile(source).map_err(|e| TemplateError::Compile {
        part,
        reason: e.to_string(),
    })?;
    engine
        .render_template(source, context)
        .map_err(|e| TemplateError::Render {
            part,
            reason: e.to_string(),
        })
}

const EN_SUBJECT: &str = "{{operator_name}} from {{tenant_name}} replied to you";
const RU_SUBJECT: &str = "{{operator_name}} ({{tenant_name}}) ответил(а) вам";

const EN_TEXT: &str = "Hello{{#if visitor_name}} {{visitor_name}}{{/if}},

{{operator_name}} from {{tenant_name}} replied while you were away:
{{#each replies}}

{{this.body}}
{{/each}}

Continue the conversation: {{resume_url}}
{{#if earlier}}

Earlier in this conversation:
{{#each earlier}}
{{this.author}}: {{this.body}}
{{/each}}
{{/if}}

--
{{tenant_name}}
Stop these emails: {{unsubscribe_url}}
";

const RU_TEXT: &str = "Здравствуйте{{#if visitor_name}}, {{visitor_name}}{{/if}}!

{{operator_name}} ({{tenant_name}}) ответил(а), пока вас не было:
{{#each replies}}

{{this.body}}
{{/each}}

Продолжить разговор: {{resume_url}}
{{#if earlier}}

Ранее в этом разговоре:
{{#each earlier}}
{{this.author}}: {{this.body}}
{{/each}}
{{/if}}

--
{{tenant_name}}
Больше не присылать такие письма: {{unsubscribe_url}}
";

const EN_HTML: &str = r#"<!doctype html>
<html lang="en"><body style="font-family:sans-serif;color:#111;max-width:600px;margin:0 auto;padding:16px">
<p>Hello{{#if visitor_name}} {{visitor_name}}{{/if}},</p>
<p><strong>{{operator_name}}</strong> from {{tenant_name}} replied while you were away:</p>
{{#each replies}}<blockquote style="border-left:3px solid {{../brand_color}};margin:12px 0;padding:4px 12px;white-space:pre-wrap">{{this.body}}</blockquote>
{{/each}}
<p><a href="{{resume_url}}" style="display:inline-block;background:{{brand_color}};color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">Continue the conversation</a></p>
{{#if earlier}}<p style="color:#666;font-size:13px">Earlier in this conversation:</p>
{{#each earlier}}<p style="color:#666;font-size:13px;white-space:pre-wrap"><strong>{{this.author}}:</strong> {{this.body}}</p>
{{/each}}{{/if}}
<p style="color:#999;font-size:12px">{{tenant_name}} · <a href="{{unsubscribe_url}}" style="color:#999">Stop these emails</a></p>
</body></html>
"#;

const RU_HTML: &str = r#"<!doctype html>
<html lang="ru"><body style="font-family:sans-serif;color:#111;max-width:600px;margin:0 auto;padding:16px">
<p>Здравствуйте{{#if visitor_name}}, {{visitor_name}}{{/if}}!</p>
<p><strong>{{operator_name}}</strong> ({{tenant_name}}) ответил(а), пока вас не было:</p>
{{#each replies}}<blockquote style="border-left:3px solid {{../brand_color}};margin:12px 0;padding:4px 12px;white-space:pre-wrap">{{this.body}}</blockquote>
{{/each}}
<p><a href="{{resume_url}}" style="display:inline-block;background:{{brand_color}};color:#fff;padding:10px 16px;border-radius:6px;text-decoration:none">Продолжить разговор</a></p>
{{#if earlier}}<p style="color:#666;font-size:13px">Ранее в этом разговоре:</p>
{{#each earlier}}<p style="color:#666;font-size:13px;white-space:pre-wrap"><strong>{{this.author}}:</strong> {{this.body}}</p>
{{/each}}{{/if}}
<p style="color:#999;font-size:12px">{{tenant_name}} · <a href="{{unsubscribe_url}}" style="color:#999">Больше не присылать такие письма</a></p>
</body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_html_and_kept_in_text() {
        let templates = Templates::new();
        let mut context = EmailContext::sample();
        context.replies[0].body = "<script>alert(1)</script> & more".into();
        let email = templates
            .render(&Templates::default_for("en"), &context)
            .unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains("&lt;script&gt;"));
        assert!(email.text.contains("<script>alert(1)</script> & more"));
        assert!(email.text.contains(&context.resume_url));
        assert!(!email.subject.contains('\n'));
    }

    #[test]
    fn russian_visitors_get_the_russian_template() {
        let templates = Templates::new();
        let email = templates
            .render(&Templates::default_for("ru-RU"), &EmailContext::sample())
            .unwrap();
        assert!(email.text.contains("Продолжить разговор"));
        assert!(email.subject.contains("ответил"));
    }

    #[test]
    fn broken_or_misspelt_templates_are_refused_with_the_reason() {
        let templates = Templates::new();
        let mut template = Templates::default_for("en");
        template.subject = "{{#if}}".into();
        assert!(matches!(
            templates.validate(&template),
            Err(TemplateError::Compile {
                part: "subject",
                ..
            })
        ));
        let mut template = Templates::default_for("en");
        template.text = "Hi {{visitor_nmae}}".into();
        let err = templates.validate(&template).unwrap_err();
        assert!(
            matches!(err, TemplateError::Render { part: "text", .. }),
            "{err}"
        );
    }
}

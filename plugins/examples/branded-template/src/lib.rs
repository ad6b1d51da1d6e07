//! Branded template: the unread-reply email in the company's own words and colours, in English
//! or Russian by the visitor's language. The host renders it (handlebars, strict, escaped), with
//! the same values as the built-in template: `tenant_name`, `brand_color`, `visitor_name`,
//! `operator_name`, `replies` and `earlier` (each with `author`, `body`, `at`), `count`,
//! `resume_url`, `unsubscribe_url`.

use tandem_plugin_sdk::prelude::*;

struct BrandedTemplate;

tandem_plugin_sdk::plugin! {
    impl Plugin for BrandedTemplate {
        const NAME: &'static str = "branded-template";
        const VERSION: &'static str = env!("CARGO_PKG_VERSION");

        fn email_template(ctx: Context) -> Option<TemplateSources> {
            let russian = ctx
                .visitor
                .locale
                .as_deref()
                .is_some_and(|l| l.starts_with("ru"));
            Some(if russian {
                russian_template()
            } else {
                english_template()
            })
        }
    }
}

const HTML: &str = r#"<div style="font-family:Georgia,serif;max-width:560px">
<div style="background:{{brand_color}};color:#fff;padding:16px 20px;font-size:20px">{{tenant_name}}</div>
<div style="padding:20px">
<p>{{GREETING}}</p>
{{#each replies}}<blockquote style="border-left:4px solid {{../brand_color}};margin:12px 0;padding:4px 12px"><b>{{author}}</b><br>{{body}}</blockquote>{{/each}}
<p><a href="{{resume_url}}" style="background:{{brand_color}};color:#fff;padding:10px 16px;text-decoration:none">{{BUTTON}}</a></p>
<p style="color:#888;font-size:12px"><a href="{{unsubscribe_url}}">{{STOP}}</a></p>
</div></div>"#;

const TEXT: &str = "{{GREETING}}\n\n{{#each replies}}{{author}}: {{body}}\n\n{{/each}}{{BUTTON}}: {{resume_url}}\n\n{{STOP}}: {{unsubscribe_url}}\n";

fn english_template() -> TemplateSources {
    fill(
        "{{operator_name}} from {{tenant_name}} is waiting for you",
        "Hello{{#if visitor_name}} {{visitor_name}}{{/if}}, we answered while you were away:",
        "Continue the conversation",
        "Stop these emails",
    )
}

fn russian_template() -> TemplateSources {
    fill(
        "{{operator_name}} из {{tenant_name}} ждёт вас",
        "Здравствуйте{{#if visitor_name}}, {{visitor_name}}{{/if}}! Пока вас не было, мы ответили:",
        "Продолжить разговор",
        "Не присылать эти письма",
    )
}

fn fill(subject: &str, greeting: &str, button: &str, stop: &str) -> TemplateSources {
    let fill = |s: &str| {
        s.replace("{{GREETING}}", greeting)
            .replace("{{BUTTON}}", button)
            .replace("{{STOP}}", stop)
    };
    TemplateSources {
        subject: subject.into(),
        html: fill(HTML),
        text: fill(TEXT),
    }
}

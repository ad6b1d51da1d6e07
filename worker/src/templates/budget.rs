//! The time and size one email may take to render, and the threads it renders on.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use handlebars::{Context, Handlebars, RenderContext, Renderable, Template, WriteOutput};
use tokio::sync::Semaphore;

use tandem_core::tenant::EmailParts;

use super::{EmailContext, RENDER_WAIT, TemplateError, Templates};

/// All three parts of one email together.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Wall time of one email's rendering, all three parts.
pub const RENDER_TIME: Duration = Duration::from_secs(1);
/// Renders running at once in the process; the rest wait up to [`RENDER_WAIT`].
const RENDER_SLOTS: usize = 4;

static SLOTS: Semaphore = Semaphore::const_new(RENDER_SLOTS);

/// What is left of one email's budget while its parts render.
pub(super) struct Budget {
    deadline: Instant,
    left: usize,
}

impl Budget {
    pub(super) fn start() -> Self {
        Self {
            deadline: Instant::now() + RENDER_TIME,
            left: MAX_OUTPUT_BYTES,
        }
    }

    pub(super) fn render(
        &mut self,
        engine: &Handlebars<'static>,
        part: &'static str,
        template: &Template,
        context: &EmailContext,
    ) -> Result<String, TemplateError> {
        let mut out = Capped {
            buffer: Vec::with_capacity(1024.min(self.left)),
            budget: self,
            stop: None,
        };
        // What `render_template_to_write` does, minus compiling (the engines keep handlebars'
        // defaults for recursive lookup, dev mode and indenting, which this relies on).
        let rendered = Context::wraps(context).and_then(|data| {
            let mut state = RenderContext::new(None);
            template.render(engine, &data, &mut state, &mut WriteOutput::new(&mut out))
        });
        let Capped { buffer, stop, .. } = out;
        match (rendered, stop) {
            (_, Some(stop)) => Err(stop),
            (Err(e), None) => Err(TemplateError::Render {
                part,
                reason: e.to_string(),
            }),
            // handlebars writes whole strings, so the bytes are UTF-8.
            (Ok(()), None) => String::from_utf8(buffer).map_err(|e| TemplateError::Render {
                part,
                reason: e.to_string(),
            }),
        }
    }
}

/// A writer that refuses to go past the budget: the renderer stops at its next write.
struct Capped<'a> {
    buffer: Vec<u8>,
    budget: &'a mut Budget,
    stop: Option<TemplateError>,
}

impl Write for Capped<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.len() > self.budget.left {
            self.stop = Some(TemplateError::TooLarge);
        } else if Instant::now() > self.budget.deadline {
            self.stop = Some(TemplateError::TooSlow);
        }
        if self.stop.is_some() {
            return Err(io::Error::other("over the rendering budget"));
        }
        self.budget.left -= bytes.len();
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) async fn off_thread(
    templates: Arc<Templates>,
    template: EmailParts,
    context: EmailContext,
) -> Result<EmailParts, TemplateError> {
    let permit = tokio::time::timeout(RENDER_WAIT, SLOTS.acquire())
        .await
        .map_err(|_| TemplateError::Busy)?
        .map_err(|_| TemplateError::Busy)?;
    // The slot is held until the thread is done, even by a caller that gave up waiting.
    let rendering = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        templates.render(&template, &context)
    });
    // The render stops itself at its deadline; this bounds the wait should it not write.
    let joined = tokio::time::timeout(RENDER_TIME + Duration::from_secs(1), rendering).await;
    match joined {
        Ok(Ok(rendered)) => rendered,
        Ok(Err(e)) => Err(TemplateError::Render {
            part: "email",
            reason: format!("the renderer failed: {e}"),
        }),
        Err(_) => Err(TemplateError::TooSlow),
    }
}

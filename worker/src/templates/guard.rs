//! What a template written by a tenant admin or answered by a plugin may use, checked before it
//! is ever rendered.
//!
//! handlebars has no recursion or depth limit: a recursive inline partial, two partials calling
//! each other, a few thousand nested blocks or sub-expressions overflow the stack and abort the
//! whole process, and nested `{{#each}}` over one list is exponential. So a template is read
//! twice before rendering: first a scan of its text that bounds nesting (the parser itself
//! recurses once per level), then a walk of the compiled template that refuses partials,
//! decorators, triple stash and helpers outside a short list, and bounds the depth of blocks,
//! sub-expressions and loops. What passes renders in time linear in the template and the
//! context, times the loops' nesting, and the renderer caps its output and time on top.

use handlebars::template::{Parameter, Subexpression, Template, TemplateElement};

/// Blocks and sub-expressions nested inside one another (the built-in templates use 2).
pub const MAX_NESTING: usize = 8;
/// `{{#each}}` inside `{{#each}}`: beyond two, output grows as the lists' product.
pub const MAX_LOOP_NESTING: usize = 2;

/// Block helpers a template may open.
const BLOCK_HELPERS: [&str; 4] = ["if", "unless", "each", "with"];
/// Helpers a template may call with arguments (inline or as a sub-expression).
const HELPERS: [&str; 15] = [
    "if", "unless", "each", "with", "lookup", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or",
    "not", "len",
];
/// handlebars' built-ins that a template may not reach, even without arguments.
const FORBIDDEN_HELPERS: [&str; 2] = ["log", "raw"];

/// Why a template was refused; the message is shown to the admin as it is.
pub type Refusal = String;

/// The text scan, run before the parser: nesting, comments, triple and quadruple stash.
pub fn scan(source: &str) -> Result<(), Refusal> {
    let bytes = source.as_bytes();
    let mut blocks = 0usize;
    let mut i = 0;
    while let Some(found) = find(bytes, i, b"{{") {
        if found > 0 && bytes[found - 1] == b'\\' {
            // `\{{` is literal text.
            i = found + 2;
            continue;
        }
        let mut at = found + 2;
        if bytes.get(at) == Some(&b'{') {
            return Err("triple stash {{{ }}} (unescaped output) is not allowed: use {{ }}".into());
        }
        if bytes.get(at) == Some(&b'~') {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'!') => {
                let end = if bytes[at..].starts_with(b"!--") {
                    find(bytes, at, b"--}}").map(|e| e + 4)
                } else {
                    find(bytes, at, b"}}").map(|e| e + 2)
                };
                // An unclosed comment is the parser's to report.
                i = end.unwrap_or(bytes.len());
                continue;
            }
            Some(b'#' | b'^') if !is_else(&bytes[at + 1..]) => blocks += 1,
            Some(b'/') => blocks = blocks.saturating_sub(1),
            _ => {}
        }
        let (end, parens) = expression_end(bytes, at);
        if blocks + parens > MAX_NESTING {
            return Err(too_deep());
        }
        i = end;
    }
    Ok(())
}

/// The walk of the compiled template.
pub fn walk(template: &Template) -> Result<(), Refusal> {
    elements(&template.elements, 0, 0)
}

fn elements(list: &[TemplateElement], depth: usize, loops: usize) -> Result<(), Refusal> {
    for element in list {
        element_ok(element, depth, loops)?;
    }
    Ok(())
}

fn element_ok(element: &TemplateElement, depth: usize, loops: usize) -> Result<(), Refusal> {
    match element {
        TemplateElement::RawString(_) | TemplateElement::Comment(_) => Ok(()),
        TemplateElement::HtmlExpression(_) => {
            Err("triple stash {{{ }}} (unescaped output) is not allowed: use {{ }}".into())
        }
        TemplateElement::PartialExpression(_) | TemplateElement::PartialBlock(_) => {
            Err("partials ({{> name}}) are not allowed".into())
        }
        TemplateElement::DecoratorExpression(_) | TemplateElement::DecoratorBlock(_) => {
            Err("decorators and inline partials ({{* }}, {{#* }}) are not allowed".into())
        }
        TemplateElement::Expression(helper) => {
            let name = helper.name.as_name().unwrap_or_default();
            let called = !helper.params.is_empty() || !helper.hash.is_empty();
            check_helper(name, called)?;
            parameters(&helper.name, &helper.params, helper.hash.values(), depth)
        }
        TemplateElement::HelperBlock(helper) => {
            let name = helper.name.as_name().unwrap_or_default();
            // `{{else if …}}` continues the block it belongs to: not one level deeper.
            let depth = if helper.chain { depth } else { depth + 1 };
            if depth > MAX_NESTING {
                return Err(too_deep());
            }
            if !BLOCK_HELPERS.contains(&name) {
                return Err(format!(
                    "the block {{{{#{name}}}}} is not allowed: blocks are {}",
                    BLOCK_HELPERS.join(", ")
                ));
            }
            let loops = if name == "each" { loops + 1 } else { loops };
            if loops > MAX_LOOP_NESTING {
                return Err(format!(
                    "{{{{#each}}}} may be nested at most {MAX_LOOP_NESTING} deep"
                ));
            }
            parameters(&helper.name, &helper.params, helper.hash.values(), depth)?;
            for inner in [&helper.template, &helper.inverse].into_iter().flatten() {
                elements(&inner.elements, depth, loops)?;
            }
            Ok(())
        }
        // Whatever a later handlebars adds is refused until it is looked at.
        _ => Err("this kind of expression is not allowed".into()),
    }
}

fn parameters<'a>(
    name: &'a Parameter,
    params: &'a [Parameter],
    hash: impl Iterator<Item = &'a Parameter>,
    depth: usize,
) -> Result<(), Refusal> {
    for param in std::iter::once(name).chain(params).chain(hash) {
        if let Parameter::Subexpression(Subexpression { element, .. }) = param {
            if depth + 1 > MAX_NESTING {
                return Err(too_deep());
            }
            subexpression(element, depth + 1)?;
        }
    }
    Ok(())
}

fn subexpression(element: &TemplateElement, depth: usize) -> Result<(), Refusal> {
    match element {
        TemplateElement::Expression(helper) => {
            check_helper(helper.name.as_name().unwrap_or_default(), true)?;
            parameters(&helper.name, &helper.params, helper.hash.values(), depth)
        }
        _ => Err("this sub-expression is not allowed".into()),
    }
}

/// `called`: with arguments, so a helper whatever its name; without, a value unless the name
/// is one of handlebars' own helpers.
fn check_helper(name: &str, called: bool) -> Result<(), Refusal> {
    if FORBIDDEN_HELPERS.contains(&name) || (called && !HELPERS.contains(&name)) {
        return Err(format!(
            "the helper \"{name}\" is not allowed: helpers are {}",
            HELPERS.join(", ")
        ));
    }
    Ok(())
}

fn too_deep() -> Refusal {
    format!("blocks and sub-expressions may be nested at most {MAX_NESTING} deep")
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// `{{^}}` and `{{^~}}` are `else`, not a block.
fn is_else(rest: &[u8]) -> bool {
    let rest = rest.strip_prefix(b"~").unwrap_or(rest);
    rest.starts_with(b"}}")
}

/// Where the expression starting at `from` ends (after its `}}`), and how deep its
/// sub-expressions go. Parentheses inside string literals do not count.
fn expression_end(bytes: &[u8], from: usize) -> (usize, usize) {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote = None;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b')' => depth = depth.saturating_sub(1),
                b'}' if bytes.get(i + 1) == Some(&b'}') => return (i + 2, deepest),
                _ => {}
            },
        }
        i += 1;
    }
    (bytes.len(), deepest)
}

#[cfg(test)]
mod tests {
    use tandem_core::tenant::Language;

    use super::*;

    fn check(source: &str) -> Result<(), Refusal> {
        scan(source)?;
        let template = Template::compile(source).map_err(|e| e.to_string())?;
        walk(&template)
    }

    #[test]
    fn the_built_in_templates_pass() {
        for language in [Language::En, Language::Ru] {
            let t = crate::templates::Templates::built_in(language);
            for source in [&t.subject, &t.html, &t.text] {
                check(source).unwrap();
            }
        }
    }

    #[test]
    fn ordinary_templates_pass() {
        for source in [
            "Hi {{visitor_name}}",
            "{{#each replies}}{{#if @first}}{{this.body}}{{else if @last}}!{{else}}.{{/if}}{{/each}}",
            "{{#with (lookup replies 0)}}{{body}}{{/with}} {{len replies}} {{#unless (eq count 1)}}s{{/unless}}",
            "{{! a comment with {{#if}} in it }}{{!-- and {{/if}} --}}ok",
            r"\{{not a tag}}",
            "{{#each replies}}{{#each ../earlier}}{{body}}{{/each}}{{/each}}",
        ] {
            check(source).unwrap_or_else(|e| panic!("{source}: {e}"));
        }
    }

    #[test]
    fn partials_decorators_and_triple_stash_are_refused() {
        for (source, word) in [
            (
                r#"{{#*inline "a"}}x{{> a}}{{/inline}}{{> a}}"#,
                "not allowed",
            ),
            ("{{> header}}", "partials"),
            ("{{#> layout}}x{{/layout}}", "partials"),
            ("{{*decorator}}", "decorators"),
            ("{{{visitor_name}}}", "triple stash"),
            ("{{{{raw}}}}{{x}}{{{{/raw}}}}", "triple stash"),
            ("{{log visitor_name}}", "log"),
            ("{{log}}", "log"),
            ("{{#raw}}x{{/raw}}", "raw"),
            ("{{shout visitor_name}}", "shout"),
            ("{{#custom}}x{{/custom}}", "custom"),
            ("{{lookup (shout x) 1}}", "shout"),
        ] {
            let err = check(source).expect_err(source);
            assert!(err.contains(word), "{source}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser_sees_it() {
        let deep_ifs = "{{#if a}}".repeat(3000) + &"{{/if}}".repeat(3000);
        let deep_lookups =
            "{{".to_owned() + &"(lookup ".repeat(2000) + "x" + &" 1)".repeat(2000) + "}}";
        for source in [deep_ifs, deep_lookups] {
            assert!(scan(&source).unwrap_err().contains("nested at most"));
        }
        let nine = "{{#if a}}".repeat(9) + &"{{/if}}".repeat(9);
        assert!(check(&nine).is_err());
        let eight = "{{#if a}}".repeat(8) + &"{{/if}}".repeat(8);
        check(&eight).unwrap();
    }

    #[test]
    fn loops_nest_at_most_twice() {
        let three = "{{#each replies}}{{#each @root.replies}}{{#each @root.replies}}x{{/each}}{{/each}}{{/each}}";
        assert!(check(three).unwrap_err().contains("each"));
    }

    #[test]
    fn closing_tags_in_comments_do_not_hide_depth() {
        let source = "{{#if a}}{{!-- {{/if}} --}}".repeat(9) + &"{{/if}}".repeat(9);
        assert!(scan(&source).is_err());
    }
}

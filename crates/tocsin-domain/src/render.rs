//! Handlebars rendering in strict mode, escaped only where the output is HTML.
//!
//! A [`TemplateSet`] holds two registries: one for plain-text platforms (no escaping at
//! all: an ampersand in a shelter's name must reach X as `&`) and one for HTML email
//! (HTML-escaped). Both are strict: a misspelled variable is an error naming the template
//! file, line and variable, never an empty string. Helpers: `datetime` and `join_hashtags`.
//! Templates nested deeper than [`MAX_NESTING`], and partials and decorators, are refused
//! before Handlebars sees them (see [`check_shape`]).

use chrono::DateTime;
use chrono_tz::Tz;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, TemplateError,
};
use serde_json::Value;
use std::fmt;

use crate::variables::format_datetime;

/// Key in the render context holding each date-time variable as RFC 3339, for `datetime`.
pub const DATETIME_KEY: &str = "__datetime";
/// Key in the render context holding the playbook's zone name, for `datetime`.
pub const ZONE_KEY: &str = "__zone";
/// Key in the render context holding the language being rendered (a BCP 47 tag), so
/// `datetime` writes month and day names in it.
pub const LANGUAGE_KEY: &str = "__language";

/// Whether a template's output is plain text or HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Plain text: values are inserted exactly as they are.
    Plain,
    /// HTML: values are HTML-escaped.
    Html,
}

/// A template that failed to compile or render, with where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateProblem {
    /// The template's name (its path under the templates directory, or an inline name).
    pub template: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What went wrong, in plain language.
    pub message: String,
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.template)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl TemplateProblem {
    fn from_template_error(name: &str, e: &TemplateError) -> Self {
        let (line, column) = e.pos().map_or((None, None), |(l, c)| (Some(l), Some(c)));
        TemplateProblem {
            template: name.to_string(),
            line,
            column,
            message: format!("template syntax error: {}", e.reason()),
        }
    }

    fn from_render_error(name: &str, e: &RenderError) -> Self {
        let message = match e.reason() {
            RenderErrorReason::MissingVariable(Some(path)) => format!(
                "`{path}` is not a variable of this playbook (misspelled, or missing from [[variables]])"
            ),
            RenderErrorReason::MissingVariable(None) => {
                "a value used here is not a variable of this playbook".to_string()
            }
            RenderErrorReason::HelperNotFound(h) => format!(
                "`{h}` is neither a variable nor a helper (helpers: datetime, join_hashtags, if, unless, each, with, eq, ne, and, or, not)"
            ),
            RenderErrorReason::PartialNotFound(p) => format!("partial `{p}` does not exist"),
            other => other.to_string(),
        };
        TemplateProblem {
            template: e.template_name.clone().unwrap_or_else(|| name.to_string()),
            line: e.line_no,
            column: e.column_no,
            message,
        }
    }
}

/// The compiled templates of a playbook library.
#[derive(Clone)]
pub struct TemplateSet {
    plain: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl fmt::Debug for TemplateSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateSet")
            .field("plain", &self.plain.get_templates().len())
            .field("html", &self.html.get_templates().len())
            .finish()
    }
}

impl Default for TemplateSet {
    fn default() -> Self {
        Self::new()
    }
}

fn registry(escaping: Escaping) -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.set_prevent_indent(true);
    match escaping {
        Escaping::Plain => hb.register_escape_fn(handlebars::no_escape),
        Escaping::Html => hb.register_escape_fn(handlebars::html_escape),
    }
    hb.register_helper("datetime", Box::new(datetime_helper));
    hb.register_helper("join_hashtags", Box::new(join_hashtags_helper));
    hb
}

impl TemplateSet {
    /// An empty set with Tocsin's helpers registered.
    pub fn new() -> Self {
        TemplateSet {
            plain: registry(Escaping::Plain),
            html: registry(Escaping::Html),
        }
    }

    /// Compiles `source` under `name`.
    pub fn add(
        &mut self,
        name: &str,
        source: &str,
        escaping: Escaping,
    ) -> Result<(), TemplateProblem> {
        check_shape(name, source)?;
        let hb = match escaping {
            Escaping::Plain => &mut self.plain,
            Escaping::Html => &mut self.html,
        };
        hb.register_template_string(name, source)
            .map_err(|e| TemplateProblem::from_template_error(name, &e))
    }

    /// Whether a template of that name and escaping is compiled.
    pub fn contains(&self, name: &str, escaping: Escaping) -> bool {
        match escaping {
            Escaping::Plain => self.plain.has_template(name),
            Escaping::Html => self.html.has_template(name),
        }
    }

    /// Renders `name` against a prepared context.
    pub fn render(
        &self,
        name: &str,
        escaping: Escaping,
        context: &Context,
    ) -> Result<String, TemplateProblem> {
        let hb = match escaping {
            Escaping::Plain => &self.plain,
            Escaping::Html => &self.html,
        };
        hb.render_with_context(name, context)
            .map_err(|e| TemplateProblem::from_render_error(name, &e))
    }

    /// Renders a one-off template string (e.g. a playbook's headline) against a context.
    pub fn render_inline(
        &self,
        name: &str,
        source: &str,
        context: &Context,
    ) -> Result<String, TemplateProblem> {
        check_shape(name, source)?;
        let mut hb = self.plain.clone();
        hb.register_template_string(name, source)
            .map_err(|e| TemplateProblem::from_template_error(name, &e))?;
        hb.render_with_context(name, context)
            .map_err(|e| TemplateProblem::from_render_error(name, &e))
    }
}

/// Deepest nesting a template may have: blocks (each `else` counts as a level, as
/// Handlebars nests `else if` chains), subexpressions and array or object literals.
/// Tocsin's templates use a few levels at most.
pub const MAX_NESTING: usize = 32;

/// Refuses, before Handlebars parses the source, what it would parse or render by
/// unbounded recursion: nesting deeper than [`MAX_NESTING`] (a few thousand levels
/// overflow the stack and abort the whole process, found by the `render` fuzz target),
/// and partials and decorators (two templates that include each other recurse without
/// end; every Tocsin template is one file and uses neither). The scan follows
/// Handlebars' lexical rules for comments, raw blocks, `\{{` escapes and string literals.
pub fn check_shape(name: &str, source: &str) -> Result<(), TemplateProblem> {
    let b = source.as_bytes();
    let at = |i: usize, pat: &[u8]| b.get(i..).is_some_and(|rest| rest.starts_with(pat));
    let find = |from: usize, pat: &[u8]| {
        b.get(from..)
            .and_then(|rest| rest.windows(pat.len()).position(|w| w == pat))
            .map_or(b.len(), |p| from + p + pat.len())
    };
    let skip_space = |mut i: usize| {
        while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    // After a run of backslashes ending at `i`: one backslash escapes the `{{` (or
    // `{{{{`) that follows; two or more are text and the braces open a mustache.
    let escaped_end = |start: usize, i: usize| {
        (i - start == 1 && at(i, b"{{")).then(|| i + if at(i, b"{{{{") { 4 } else { 2 })
    };
    let problem = |offset: usize, message: String| {
        let (line, column) = crate::diagnostics::line_column(source, offset);
        Err(TemplateProblem {
            template: name.to_string(),
            line: Some(line),
            column: Some(column),
            message,
        })
    };
    let too_deep = |offset: usize| {
        problem(
            offset,
            format!("nested more than {MAX_NESTING} levels deep (blocks, `else` chains, subexpressions and literals)"),
        )
    };
    let no_partials = |offset: usize| {
        problem(
            offset,
            "partials and decorators (`{{> …}}`, `{{#> …}}`, `{{* …}}`, `{{#* …}}`) are not supported: each template is one file".into(),
        )
    };

    // The `else` levels of each open block, innermost last.
    let mut blocks: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\\') {
            let start = i;
            while b.get(i) == Some(&b'\\') {
                i += 1;
            }
            if let Some(end) = escaped_end(start, i) {
                i = end;
            }
            continue;
        }
        if !at(i, b"{{") {
            i += 1;
            continue;
        }
        if at(i, b"{{!--") {
            i = find(i + 5, b"--}}");
            continue;
        }
        if at(i, b"{{!") {
            i = find(i + 3, b"}}");
            continue;
        }
        let raw_block = at(i, b"{{{{");
        let mut kind = skip_space(i + 2);
        if b.get(kind) == Some(&b'~') {
            kind = skip_space(kind + 1);
        }
        match b.get(kind) {
            Some(b'>' | b'*') => return no_partials(i),
            Some(b'#') => {
                if matches!(b.get(skip_space(kind + 1)), Some(b'>' | b'*')) {
                    return no_partials(i);
                }
                blocks.push(1);
            }
            Some(b'/') => {
                blocks.pop();
            }
            Some(b'^') => {
                if let Some(levels) = blocks.last_mut() {
                    *levels += 1;
                }
            }
            _ if at(kind, b"else") => {
                if let Some(levels) = blocks.last_mut() {
                    *levels += 1;
                }
            }
            _ => {}
        }
        let open: usize = blocks.iter().sum();
        if open > MAX_NESTING {
            return too_deep(i);
        }
        // The expression, up to the `}}` that ends it outside brackets and strings. The
        // braces of `{{{` and `{{{{` are left to close as text.
        let mut p = i + 2;
        while b.get(p) == Some(&b'{') && p < i + 4 {
            p += 1;
        }
        let mut depth = 0usize;
        while let Some(&c) = b.get(p) {
            p += 1;
            match c {
                b'"' | b'\'' => {
                    while let Some(&d) = b.get(p) {
                        p += if d == b'\\' { 2 } else { 1 };
                        if d == c {
                            break;
                        }
                    }
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if open + depth > MAX_NESTING {
                        return too_deep(p - 1);
                    }
                }
                b')' | b']' | b'}' => {
                    if depth == 0 && c == b'}' && b.get(p) == Some(&b'}') {
                        p += 1;
                        break;
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
        }
        if raw_block {
            // Raw content is text up to the next `{{{{` that is not escaped.
            while p < b.len() && !at(p, b"{{{{") {
                if b.get(p) == Some(&b'\\') {
                    let start = p;
                    while b.get(p) == Some(&b'\\') {
                        p += 1;
                    }
                    if let Some(end) = escaped_end(start, p) {
                        p = end;
                    }
                } else {
                    p += 1;
                }
            }
        }
        i = p;
    }
    Ok(())
}

/// Wraps a JSON object as a render context (taking it as it is: `Context::wraps` would
/// serialise it into a copy first).
pub fn context(data: Value) -> Context {
    Context::from(data)
}

fn helper_error(message: String) -> RenderError {
    RenderErrorReason::Other(message).into()
}

/// `{{datetime var}}`, `{{datetime var "%H:%M"}}`, `{{datetime var "%H:%M" zone="America/New_York"}}`:
/// a date-time variable formatted in the playbook's zone (or the one given).
fn datetime_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h.param(0).ok_or_else(|| {
        helper_error("datetime needs a date-time variable: {{datetime starts_at \"%H:%M\"}}".into())
    })?;
    let name = param
        .relative_path()
        .cloned()
        .ok_or_else(|| helper_error("datetime's first argument must be a variable name".into()))?;
    let iso = ctx
        .data()
        .get(DATETIME_KEY)
        .and_then(|m| m.get(&name))
        .and_then(Value::as_str)
        .ok_or_else(|| helper_error(format!("`{name}` is not a date-time variable")))?;
    let at = DateTime::parse_from_rfc3339(iso)
        .map_err(|e| helper_error(format!("`{name}` holds an unreadable date-time: {e}")))?;
    let zone_name = match h.hash_get("zone") {
        Some(z) => z
            .value()
            .as_str()
            .ok_or_else(|| helper_error("datetime's zone= must be a string".into()))?
            .to_string(),
        None => ctx
            .data()
            .get(ZONE_KEY)
            .and_then(Value::as_str)
            .unwrap_or("UTC")
            .to_string(),
    };
    let zone: Tz = zone_name
        .parse()
        .map_err(|_| helper_error(format!("`{zone_name}` is not an IANA time zone")))?;
    let at = at.with_timezone(&zone);
    let text = match h.param(1) {
        Some(f) => {
            let format = f
                .value()
                .as_str()
                .ok_or_else(|| helper_error("datetime's format must be a string".into()))?;
            if !crate::variables::datetime_format_is_valid(format) {
                return Err(helper_error(format!(
                    "`{format}` is not a valid strftime format"
                )));
            }
            match ctx
                .data()
                .get(LANGUAGE_KEY)
                .and_then(Value::as_str)
                .and_then(|tag| crate::language::LanguageTag::parse(tag).ok())
            {
                Some(language) => language.format_datetime(&at, format),
                None => format_datetime(&at, format),
            }
        }
        None => param
            .value()
            .as_str()
            .map_or_else(|| at.to_rfc3339(), str::to_string),
    };
    out.write(&text)?;
    Ok(())
}

/// `{{join_hashtags hashtags}}` or `{{join_hashtags "A" "B"}}`: `#A #B`.
fn join_hashtags_helper(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let mut tags: Vec<String> = Vec::new();
    for p in h.params() {
        match p.value() {
            Value::Array(items) => {
                tags.extend(items.iter().filter_map(Value::as_str).map(str::to_string))
            }
            Value::String(s) if !s.is_empty() => tags.push(s.clone()),
            Value::String(_) => {}
            other => {
                return Err(helper_error(format!(
                    "join_hashtags takes hashtags, not {other}"
                )))
            }
        }
    }
    let joined = tags
        .iter()
        .map(|t| format!("#{}", t.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join(" ");
    out.write(&joined)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        context(json!({
            "area": "Smith & Sons <Lane>",
            "starts_at": "Tuesday, July 14 at 9:30 AM CDT",
            "hashtags": ["BoilWater", "Chicago"],
            DATETIME_KEY: {"starts_at": "2026-07-14T09:30:00-05:00"},
            ZONE_KEY: "America/Chicago",
        }))
    }

    #[test]
    fn plain_text_is_never_html_escaped_but_html_email_is() {
        let mut set = TemplateSet::new();
        set.add("t", "Area: {{area}}", Escaping::Plain).unwrap();
        set.add("t", "<p>Area: {{area}}</p>", Escaping::Html)
            .unwrap();
        assert_eq!(
            set.render("t", Escaping::Plain, &ctx()).unwrap(),
            "Area: Smith & Sons <Lane>"
        );
        assert_eq!(
            set.render("t", Escaping::Html, &ctx()).unwrap(),
            "<p>Area: Smith &amp; Sons &lt;Lane&gt;</p>"
        );
    }

    #[test]
    fn a_misspelled_variable_names_the_file_line_and_variable() {
        let mut set = TemplateSet::new();
        set.add(
            "boil/alert.hbs",
            "Line one\nBoil water in {{aera}}.",
            Escaping::Plain,
        )
        .unwrap();
        let err = set
            .render("boil/alert.hbs", Escaping::Plain, &ctx())
            .unwrap_err();
        assert_eq!(err.template, "boil/alert.hbs");
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("`aera`"), "{err}");
    }

    #[test]
    fn a_syntax_error_names_its_position() {
        let mut set = TemplateSet::new();
        let err = set
            .add("x.hbs", "ok\n{{#if area}}unclosed", Escaping::Plain)
            .unwrap_err();
        assert_eq!(err.template, "x.hbs");
        assert!(err.line.is_some(), "{err}");
        assert!(err.message.contains("syntax"), "{err}");
    }

    #[test]
    fn datetime_formats_in_the_playbook_zone_or_a_given_one() {
        let mut set = TemplateSet::new();
        set.add(
            "t",
            "{{datetime starts_at \"%H:%M %Z\"}} / {{datetime starts_at \"%H:%M %Z\" zone=\"America/New_York\"}} / {{datetime starts_at}}",
            Escaping::Plain,
        )
        .unwrap();
        assert_eq!(
            set.render("t", Escaping::Plain, &ctx()).unwrap(),
            "09:30 CDT / 10:30 EDT / Tuesday, July 14 at 9:30 AM CDT"
        );
    }

    #[test]
    fn datetime_refuses_a_variable_that_is_not_a_datetime() {
        let mut set = TemplateSet::new();
        set.add("t", "{{datetime area \"%H\"}}", Escaping::Plain)
            .unwrap();
        let err = set.render("t", Escaping::Plain, &ctx()).unwrap_err();
        assert!(err.message.contains("not a date-time"), "{err}");
    }

    #[test]
    fn join_hashtags_prefixes_each_tag_once() {
        let mut set = TemplateSet::new();
        set.add(
            "t",
            "{{join_hashtags hashtags}} {{join_hashtags \"#Heat\"}}",
            Escaping::Plain,
        )
        .unwrap();
        assert_eq!(
            set.render("t", Escaping::Plain, &ctx()).unwrap(),
            "#BoilWater #Chicago #Heat"
        );
    }

    /// Regression inputs of the `render` fuzz target: each used to overflow the stack
    /// (aborting the process) or take tens of seconds, in Handlebars' parser or renderer.
    #[test]
    fn pathologically_deep_templates_are_refused_before_handlebars_sees_them() {
        let deep = [
            "{{#if area}}".repeat(5000) + &"{{/if}}".repeat(5000),
            "{{area ".to_string() + &"(eq ".repeat(5000) + "1 1" + &")".repeat(5000) + "}}",
            "{{#if area}}a".to_string() + &"{{else if area}}b".repeat(3000) + "{{/if}}",
            "{{#if area}}".repeat(5000),
            "{{lookup ".to_string() + &"[".repeat(5000) + &"]".repeat(5000) + " 0}}",
        ];
        for source in deep {
            let mut set = TemplateSet::new();
            let err = set.add("deep.hbs", &source, Escaping::Plain).unwrap_err();
            assert!(err.message.contains("nested more than"), "{err}");
            assert_eq!(err.template, "deep.hbs");
            assert!(err.line.is_some(), "{err}");
            let err = set.render_inline("deep", &source, &ctx()).unwrap_err();
            assert!(err.message.contains("nested more than"), "{err}");
        }
    }

    #[test]
    fn partials_and_decorators_are_refused() {
        for source in [
            "{{> other.hbs}}",
            "{{~ > other.hbs}}",
            "{{#> layout}}x{{/layout}}",
            "{{#*inline \"p\"}}x{{/inline}}",
            "{{*decorator}}",
        ] {
            let mut set = TemplateSet::new();
            let err = set.add("t.hbs", source, Escaping::Plain).unwrap_err();
            assert!(err.message.contains("partials"), "{source}: {err}");
        }
        // Two templates including each other used to recurse until the stack overflowed.
        let mut set = TemplateSet::new();
        assert!(set.add("a", "{{> b}}", Escaping::Plain).is_err());
        assert!(set.add("b", "{{> a}}", Escaping::Plain).is_err());
    }

    #[test]
    fn nesting_up_to_the_limit_and_text_that_only_looks_nested_are_fine() {
        let mut set = TemplateSet::new();
        let nested = "{{#if area}}".repeat(MAX_NESTING - 1)
            + "{{area}}"
            + &"{{/if}}".repeat(MAX_NESTING - 1);
        set.add("nested", &nested, Escaping::Plain).unwrap();
        assert_eq!(
            set.render("nested", Escaping::Plain, &ctx()).unwrap(),
            "Smith & Sons <Lane>"
        );
        let looks_nested = [
            format!("{{{{!-- {} --}}}}ok", "{{#if area}}".repeat(100)),
            format!("{{{{! {} }}}}ok", "(((".repeat(100)),
            format!("\\{{{{#if area}}}}{}ok", "\\{{#if area}}".repeat(100)),
            format!(
                "{{{{{{{{raw}}}}}}}}{}{{{{{{{{/raw}}}}}}}}ok",
                "{{#if area}}".repeat(100)
            ),
            format!("{{{{join_hashtags \"{}\"}}}} ok", "(".repeat(100)),
            format!("{} ok (((", ")(".repeat(100)),
        ];
        for source in looks_nested {
            if let Err(e) = set.add("flat", &source, Escaping::Plain) {
                panic!("{source}: {e}");
            }
        }
    }
}

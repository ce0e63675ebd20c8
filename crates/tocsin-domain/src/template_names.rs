//! What a template reads: every variable name it refers to, with its line and column,
//! including inside branches the example values never take.
//!
//! Strict rendering catches a misspelled name only on the branch that runs; linting
//! walks the compiled template instead, so `{{#if note}}{{nite}}{{/if}}` is caught even
//! when `note` is empty. Inside `each` and `with` the context changes, so names there
//! are not checked against the playbook's variables.

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::Path;

/// A name read from the render context, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameUse {
    /// The first segment of the path (`playbook` for `playbook.title`).
    pub name: String,
    /// 1-based line of the expression.
    pub line: usize,
    /// 1-based column of the expression.
    pub column: usize,
}

/// Helpers a template may call: Tocsin's and Handlebars' built-ins.
pub const HELPERS: [&str; 18] = [
    "datetime",
    "join_hashtags",
    "if",
    "unless",
    "each",
    "with",
    "lookup",
    "log",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "and",
    "or",
    "not",
    "len",
];

/// Every context name `source` reads outside `each`/`with` blocks. A template that does
/// not compile yields no names (its syntax error is reported separately).
pub fn names_read(source: &str) -> Vec<NameUse> {
    let Ok(template) = Template::compile(source) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(&template, (1, 1), &mut out);
    out
}

fn walk(template: &Template, fallback: (usize, usize), out: &mut Vec<NameUse>) {
    for (i, element) in template.elements.iter().enumerate() {
        let at = template.mapping.get(i).map_or(fallback, |m| (m.0, m.1));
        element_names(element, at, out);
    }
}

fn element_names(element: &TemplateElement, at: (usize, usize), out: &mut Vec<NameUse>) {
    match element {
        TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
            helper_names(h, at, out, false);
        }
        TemplateElement::HelperBlock(h) => helper_names(h, at, out, true),
        _ => {}
    }
}

fn helper_names(h: &HelperTemplate, at: (usize, usize), out: &mut Vec<NameUse>, block: bool) {
    let helper = h
        .name
        .as_name()
        .map(str::to_string)
        .or_else(|| match &h.name {
            Parameter::Path(p) => Some(path_root(p)),
            _ => None,
        });
    let is_call = block || !h.params.is_empty() || !h.hash.is_empty();
    if !is_call {
        // `{{area}}`: a plain read (or a helper with no arguments).
        if let Some(name) = helper {
            push(&name, at, out);
        }
        return;
    }
    for p in h.params.iter().chain(h.hash.values()) {
        param_names(p, at, out);
    }
    let changes_context = matches!(helper.as_deref(), Some("each" | "with"));
    if !changes_context {
        if let Some(t) = &h.template {
            walk(t, at, out);
        }
    }
    if let Some(t) = &h.inverse {
        walk(t, at, out);
    }
}

fn param_names(p: &Parameter, at: (usize, usize), out: &mut Vec<NameUse>) {
    match p {
        Parameter::Path(path) => push(&path_root(path), at, out),
        Parameter::Name(name) => push(name, at, out),
        Parameter::Subexpression(sub) => element_names(&sub.element, at, out),
        _ => {}
    }
}

fn path_root(path: &Path) -> String {
    match path {
        Path::Relative((_, raw)) => raw.split(['.', '/']).next().unwrap_or("").to_string(),
        Path::Local((_, name, _)) => format!("@{name}"),
    }
}

fn push(name: &str, at: (usize, usize), out: &mut Vec<NameUse>) {
    let name = name.split(['.', '/']).next().unwrap_or("");
    if name.is_empty()
        || name.starts_with('@')
        || name == "this"
        || name == ".."
        || HELPERS.contains(&name)
    {
        return;
    }
    out.push(NameUse {
        name: name.to_string(),
        line: at.0,
        column: at.1,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        names_read(src).into_iter().map(|n| n.name).collect()
    }

    #[test]
    fn plain_reads_helper_arguments_and_branches_are_all_found() {
        assert_eq!(
            names("Boil {{area}} {{datetime issued_at \"%H\"}}{{#if note}} {{nite}}{{else}}{{other}}{{/if}} {{playbook.title}}"),
            ["area", "issued_at", "note", "nite", "other", "playbook"]
        );
    }

    #[test]
    fn subexpressions_are_followed_and_literals_ignored() {
        assert_eq!(
            names("{{#if (ne boil_minutes 1)}}s{{/if}}"),
            ["boil_minutes"]
        );
    }

    #[test]
    fn names_inside_each_and_with_are_not_the_playbook_s() {
        assert_eq!(
            names("{{#each hashtags}}#{{this}} {{name}}{{/each}}"),
            ["hashtags"]
        );
    }

    #[test]
    fn each_name_comes_with_its_line() {
        let uses = names_read("one\ntwo {{aera}}");
        assert_eq!(uses.len(), 1);
        assert_eq!(uses[0].line, 2);
    }
}

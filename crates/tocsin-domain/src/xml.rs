//! Writing small XML documents by hand, safely: every piece of text goes through
//! [`escape`], which escapes markup and drops the characters XML 1.0 cannot carry.
//!
//! The CAP and Atom documents ([`crate::cap`], [`crate::atom`]) are a few fixed elements
//! with text inside, so a writer of ~60 lines does the job without a dependency. What
//! makes hand-written XML go wrong is text: `&`, `<`, `>` and quotes in an approved
//! message, or a control character pasted into a form. Both are handled here, once.

use std::fmt::Write as _;

/// Whether XML 1.0 allows `c` in a document (its `Char` production: tab, newline,
/// carriage return, and everything from U+0020 except U+FFFE and U+FFFF; Rust `char`s
/// are never surrogates).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// `text` as XML character data or an attribute value (double-quoted): `&`, `<`, `>`,
/// `"` and `'` become references, a carriage return becomes `&#13;` (so a parser does
/// not fold it into a newline), and characters XML 1.0 forbids are left out.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if allowed(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// An indented document being written: the XML declaration, then elements.
#[derive(Debug)]
pub struct Writer {
    out: String,
    depth: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

impl Writer {
    /// A document starting with `<?xml version="1.0" encoding="UTF-8"?>`.
    pub fn new() -> Writer {
        Writer {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn open_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            let _ = write!(self.out, " {key}=\"{}\"", escape(value));
        }
    }

    /// `<name attr="...">` on its own line; the following elements nest inside it.
    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.open_tag(name, attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// `</name>`, closing the innermost [`Writer::open`].
    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    /// `<name attr="...">text</name>` (text escaped).
    pub fn text(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.open_tag(name, attributes);
        let _ = writeln!(self.out, ">{}</{name}>", escape(text));
    }

    /// `<name attr="..."/>`.
    pub fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.open_tag(name, attributes);
        self.out.push_str("/>\n");
    }

    /// The document.
    pub fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            escape(r#"<b>Tom & "Jerry"</b> isn't"#),
            "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; isn&apos;t"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped_and_line_breaks_kept() {
        assert_eq!(escape("a\u{0}b\u{1b}c\u{FFFF}d"), "abcd");
        assert_eq!(escape("one\ntwo\tthree\r\n"), "one\ntwo\tthree&#13;\n");
        assert_eq!(escape("Ünïcödé 🚰"), "Ünïcödé 🚰");
    }

    #[test]
    fn the_writer_nests_and_escapes_attributes() {
        let mut w = Writer::new();
        w.open("feed", &[("xmlns", "urn:x")]);
        w.text("title", &[], "A & B");
        w.empty("link", &[("href", "https://x.example/?a=1&b=\"2\"")]);
        w.close("feed");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"urn:x\">\n  <title>A &amp; B</title>\n  <link href=\"https://x.example/?a=1&amp;b=&quot;2&quot;\"/>\n</feed>\n"
        );
    }
}

//! A small HTML writer: every text and attribute value goes through [`escape`], and element
//! and attribute names are `'static` literals, so no user-supplied string reaches the page
//! unescaped.

/// Escapes text for an element body or a double-quoted attribute value.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// An HTML document being written.
#[derive(Default)]
pub struct Html {
    out: String,
}

impl Html {
    pub fn new() -> Html {
        Html {
            out: String::with_capacity(16 * 1024),
        }
    }

    /// Opens `<tag attr="value" …>`; attributes with a `None` value are left out, `Some("")`
    /// writes a bare boolean attribute.
    pub fn open(&mut self, tag: &'static str, attrs: &[(&'static str, Option<&str>)]) -> &mut Html {
        self.out.push('<');
        self.out.push_str(tag);
        for (name, value) in attrs {
            let Some(value) = value else { continue };
            self.out.push(' ');
            self.out.push_str(name);
            if !value.is_empty() {
                self.out.push_str("=\"");
                escape(value, &mut self.out);
                self.out.push('"');
            }
        }
        self.out.push('>');
        self
    }

    pub fn close(&mut self, tag: &'static str) -> &mut Html {
        self.out.push_str("</");
        self.out.push_str(tag);
        self.out.push('>');
        self
    }

    /// Escaped text.
    pub fn text(&mut self, text: &str) -> &mut Html {
        escape(text, &mut self.out);
        self
    }

    /// `<tag attrs>text</tag>`.
    pub fn el(&mut self, tag: &'static str, attrs: &[(&'static str, Option<&str>)], text: &str) -> &mut Html {
        self.open(tag, attrs).text(text).close(tag)
    }

    /// A link.
    pub fn link(&mut self, href: &str, text: &str) -> &mut Html {
        self.el("a", &[("href", Some(href))], text)
    }

    /// A hidden form field.
    pub fn hidden(&mut self, name: &str, value: &str) -> &mut Html {
        self.open(
            "input",
            &[("type", Some("hidden")), ("name", Some(name)), ("value", Some(value))],
        )
    }

    /// A labelled text input.
    pub fn input(&mut self, id: &str, label: &str, name: &str, value: &str) -> &mut Html {
        self.el("label", &[("for", Some(id))], label);
        self.open(
            "input",
            &[
                ("id", Some(id)),
                ("name", Some(name)),
                ("value", Some(value)),
                ("type", Some("text")),
            ],
        )
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

/// A query string built from key/value pairs, percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    q.finish()
}

/// A path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_and_attributes_is_escaped() {
        let mut h = Html::new();
        h.el(
            "p",
            &[("title", Some("\"><script>x</script>"))],
            "<img src=x onerror='a()'>&",
        );
        assert_eq!(
            h.into_string(),
            "<p title=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\">&lt;img src=x onerror=&#39;a()&#39;&gt;&amp;</p>"
        );
    }

    #[test]
    fn absent_attributes_are_left_out_and_empty_ones_are_bare() {
        let mut h = Html::new();
        h.open("input", &[("disabled", Some("")), ("value", None)]);
        assert_eq!(h.into_string(), "<input disabled>");
    }
}

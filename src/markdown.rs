//! Lab prose: CommonMark with `$…$` / `$$…$$` math, rendered to HTML that is safe to insert.
//! Raw HTML in the source is shown as text, links other than http(s) or relative are dropped, and TeX is
//! left in `<span class="math" data-display="0|1">` elements for KaTeX to typeset in the page.
use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

pub fn to_html(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_MATH);
    opts.insert(Options::ENABLE_TABLES);
    let mut dropped_link = false;
    let events = Parser::new_ext(markdown, opts).filter_map(|event| match event {
        Event::Html(s) | Event::InlineHtml(s) => Some(Event::Text(s)),
        Event::InlineMath(tex) => Some(Event::InlineHtml(math_span(&tex, false).into())),
        Event::DisplayMath(tex) => Some(Event::InlineHtml(math_span(&tex, true).into())),
        Event::Start(Tag::Link { ref dest_url, .. }) if !safe_url(dest_url) => {
            dropped_link = true;
            None
        }
        Event::End(TagEnd::Link) if dropped_link => {
            dropped_link = false;
            None
        }
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        other => Some(other),
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn safe_url(url: &CowStr) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with('#')
        || !lower.contains(':')
}

fn math_span(tex: &str, display: bool) -> String {
    format!(
        "<span class=\"math\" data-display=\"{}\">{}</span>",
        u8::from(display),
        escape(tex)
    )
}

/// Escapes text for an HTML text node or attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math_is_kept_for_katex_and_escaped() {
        let html = to_html("Rule $\\Delta w = \\eta v u$ and $$a<b$$");
        assert!(
            html.contains(r#"<span class="math" data-display="0">\Delta w = \eta v u</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="math" data-display="1">a&lt;b</span>"#),
            "{html}"
        );
    }

    #[test]
    fn raw_html_and_script_links_are_neutralised() {
        let html = to_html(
            "<script>alert(1)</script>\n\ntext <img src=x onerror=alert(1)> [x](javascript:alert(1)) [ok](https://example.org)",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(html.contains(">x<") || html.contains(" x "), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org">ok</a>"#),
            "{html}"
        );
    }
}

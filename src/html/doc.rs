//! The report as a document of sections and blocks, rendered twice: to one
//! self-contained HTML page and to its Markdown twin. Both come from the same
//! blocks, so they carry the same figures.

use std::fmt::Write as _;

/// A piece of a section.
#[derive(Clone, Debug)]
pub(crate) enum Block {
    /// A sub-heading.
    Sub(String),
    /// Plain text.
    Para(String),
    /// A part whose result file is missing: what and how to produce it.
    NotRun { what: String, how: String },
    /// A verdict line, good or bad.
    Verdict { ok: bool, text: String },
    /// A table; cells are plain text.
    Table { head: Vec<String>, rows: Vec<Vec<String>> },
    /// A plot: inline SVG in the page, `plots/<file>` in the Markdown.
    Plot { file: String, title: String, svg: String },
    /// A list of links: label and relative address.
    Links(Vec<(String, String)>),
    /// An image shown in the page from a data URI, and linked.
    Image { alt: String, href: String, data_uri: String },
}

/// A section: its `id` is the page anchor the Chromium check looks for.
#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub(crate) id: &'static str,
    pub(crate) title: &'static str,
    pub(crate) blocks: Vec<Block>,
}

/// Text with commas between thousands: 1,234,567.
pub(crate) fn int(n: u64) -> String {
    group(&n.to_string())
}

/// A number with `decimals` places and commas between thousands.
pub(crate) fn num(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (whole, frac) = s.split_once('.').map_or((s.as_str(), None), |(w, f)| (w, Some(f)));
    let sign = if x < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{}.{f}", group(whole)),
        None => format!("{sign}{}", group(whole)),
    }
}

fn group(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn esc_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Markdown text: what would open HTML or emphasis is escaped (intraword
/// underscores are literal in GitHub's Markdown, so bench names stay readable).
fn esc_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '*' => out.push_str("\\*"),
            '`' => out.push_str("\\`"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Text where `code` spans (between backticks) become `<code>`.
fn inline_html(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in s.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&esc_html(part));
            out.push_str("</code>");
        } else {
            out.push_str(&esc_html(part));
        }
    }
    out
}

/// Text with its `code` spans kept as Markdown code spans.
fn inline_md(s: &str) -> String {
    s.split('`').enumerate().map(|(i, part)| if i % 2 == 1 { format!("`{part}`") } else { esc_md(part) }).collect()
}

/// Markdown link targets may not hold spaces or parentheses unescaped.
fn md_href(s: &str) -> String {
    s.replace(' ', "%20").replace('(', "%28").replace(')', "%29")
}

/// Whether a cell reads as a number (right-aligned).
fn numeric(cell: &str) -> bool {
    let t = cell.trim_start_matches(['+', '-']).trim_end_matches(['%', 'x', '×']);
    // One decimal point at most: a version such as 0.16.1 is text.
    !t.is_empty()
        && t.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        && t.chars().any(|c| c.is_ascii_digit())
        && t.matches('.').count() <= 1
}

const CSS: &str = "\
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1180px;padding:0 20px 40px;color:#1b1f24;background:#fff}\
h1{margin:24px 0 4px}h2{border-bottom:2px solid #d0d7de;padding-bottom:4px;margin-top:36px}h3{margin:22px 0 8px}\
nav{position:sticky;top:0;background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:8px 0;z-index:1}\
nav a{margin-right:14px;text-decoration:none;color:#0550ae}\
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}\
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
tr:nth-child(even) td{background:#fafbfc}\
.not-run{color:#6e7781;background:#f6f8fa;border-left:4px solid #afb8c1;padding:6px 10px}\
.verdict{padding:6px 10px;border-left:4px solid;font-weight:600}.ok{border-color:#1a7f37;background:#dafbe1}.bad{border-color:#cf222e;background:#ffebe9}\
figure{margin:10px 0 18px}figure svg,figure img{max-width:100%;height:auto;border:1px solid #d0d7de}\
figcaption{font-size:13px;color:#57606a}";

/// The whole page: a title, a bar of links to the sections, the sections.
pub(crate) fn html(title: &str, intro: &str, sections: &[Section]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p>{}</p>\n<nav>",
        esc_html(title),
        esc_html(title),
        inline_html(intro)
    );
    for s in sections {
        let _ = write!(o, "<a href=\"#{}\">{}</a>", s.id, esc_html(s.title));
    }
    o.push_str("</nav>\n");
    for s in sections {
        let _ = writeln!(o, "<section id=\"{}\">\n<h2>{}</h2>", s.id, esc_html(s.title));
        for b in &s.blocks {
            html_block(&mut o, b);
        }
        o.push_str("</section>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}

fn html_block(o: &mut String, b: &Block) {
    match b {
        Block::Sub(t) => {
            let _ = writeln!(o, "<h3>{}</h3>", esc_html(t));
        }
        Block::Para(t) => {
            let _ = writeln!(o, "<p>{}</p>", inline_html(t));
        }
        Block::NotRun { what, how } => {
            let _ = writeln!(
                o,
                "<p class=\"not-run\"><strong>not run</strong>: {} (produce it with <code>{}</code>)</p>",
                esc_html(what),
                esc_html(how)
            );
        }
        Block::Verdict { ok, text } => {
            let _ = writeln!(o, "<p class=\"verdict {}\">{}</p>", if *ok { "ok" } else { "bad" }, esc_html(text));
        }
        Block::Table { head, rows } => {
            o.push_str("<table>\n<thead><tr>");
            for h in head {
                let _ = write!(o, "<th>{}</th>", esc_html(h));
            }
            o.push_str("</tr></thead>\n<tbody>\n");
            for r in rows {
                o.push_str("<tr>");
                for c in r {
                    let class = if numeric(c) { " class=\"n\"" } else { "" };
                    let _ = write!(o, "<td{class}>{}</td>", esc_html(c));
                }
                o.push_str("</tr>\n");
            }
            o.push_str("</tbody>\n</table>\n");
        }
        Block::Plot { file, title, svg } => {
            // The SVG inline (no external file, no network); its own XML
            // declaration, if any, is not allowed inside HTML.
            let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
            let _ = writeln!(
                o,
                "<figure id=\"plot-{}\">\n{body}\n<figcaption>{} (<code>plots/{}</code>)</figcaption>\n</figure>",
                esc_html(file.trim_end_matches(".svg")),
                esc_html(title),
                esc_html(file)
            );
        }
        Block::Links(links) => {
            o.push_str("<ul>\n");
            for (label, href) in links {
                let _ = writeln!(o, "<li><a href=\"{}\">{}</a></li>", esc_html(href), esc_html(label));
            }
            o.push_str("</ul>\n");
        }
        Block::Image { alt, href, data_uri } => {
            let _ = writeln!(
                o,
                "<figure><a href=\"{}\"><img src=\"{}\" alt=\"{}\"></a><figcaption>{} (click to open the interactive SVG)</figcaption></figure>",
                esc_html(href),
                esc_html(data_uri),
                esc_html(alt),
                esc_html(alt)
            );
        }
    }
}

/// The Markdown twin.
pub(crate) fn markdown(title: &str, intro: &str, sections: &[Section]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n\n{}\n", esc_md(title), inline_md(intro));
    for s in sections {
        let _ = writeln!(o, "## {}\n", esc_md(s.title));
        for b in &s.blocks {
            md_block(&mut o, b);
        }
    }
    o
}

fn md_block(o: &mut String, b: &Block) {
    match b {
        Block::Sub(t) => {
            let _ = writeln!(o, "### {}\n", esc_md(t));
        }
        Block::Para(t) => {
            let _ = writeln!(o, "{}\n", inline_md(t));
        }
        Block::NotRun { what, how } => {
            let _ = writeln!(o, "**not run**: {} (produce it with `{how}`)\n", esc_md(what));
        }
        Block::Verdict { ok, text } => {
            let _ = writeln!(o, "{} **{}**\n", if *ok { "✅" } else { "❌" }, esc_md(text));
        }
        Block::Table { head, rows } => {
            let line =
                |cells: &[String]| format!("| {} |", cells.iter().map(|c| esc_md(c)).collect::<Vec<_>>().join(" | "));
            let _ = writeln!(o, "{}", line(head));
            let align: Vec<&str> = (0..head.len())
                .map(|i| {
                    if !rows.is_empty() && rows.iter().all(|r| r.get(i).is_none_or(|c| numeric(c) || c == "-")) {
                        "--:"
                    } else {
                        "---"
                    }
                })
                .collect();
            let _ = writeln!(o, "|{}|", align.join("|"));
            for r in rows {
                let _ = writeln!(o, "{}", line(r));
            }
            o.push('\n');
        }
        Block::Plot { file, title, .. } => {
            let _ = writeln!(o, "![{}](plots/{})\n", esc_md(title), md_href(file));
        }
        Block::Links(links) => {
            for (label, href) in links {
                let _ = writeln!(o, "- [{}]({})", esc_md(label), md_href(href));
            }
            o.push('\n');
        }
        Block::Image { alt, href, .. } => {
            let _ = writeln!(o, "[![{}]({})]({})\n", esc_md(alt), md_href(href), md_href(href));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escapes() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(num(-1234.567, 1), "-1,234.6");
        assert_eq!(num(-0.01, 1), "0.0");
        assert_eq!(num(999.96, 1), "1,000.0");
        assert!(numeric("+1.250%") && numeric("1,234") && !numeric("-") && !numeric("ok") && !numeric("0.16.1"));
        assert_eq!(esc_md("a|b<c>"), "a\\|b&lt;c&gt;");
        let s = [Section {
            id: "x",
            title: "X",
            blocks: vec![Block::Table { head: vec!["a".into()], rows: vec![vec!["1".into()]] }],
        }];
        assert!(html("t", "i", &s).contains("<td class=\"n\">1</td>"));
        assert!(markdown("t", "i", &s).contains("| a |\n|--:|\n| 1 |"));
    }
}

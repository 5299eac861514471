//! The CPU flamegraphs (flamegraphs/*.svg and their .json summaries).

use super::{Builder, table};
use crate::html::ReportBuildError;
use crate::html::doc::{Block, Section, int, num};

impl Builder<'_> {
    pub(super) fn flamegraphs(&mut self) -> Result<Section, ReportBuildError> {
        let mut blocks = Vec::new();
        if self.inputs.flames.is_empty() {
            blocks.push(self.missing("flamegraphs/*.svg", "otlp-lab flame <name>"));
        } else {
            blocks.push(Block::Para(
                "CPU flamegraphs (pprof sampling): click one to open the interactive SVG (zoom, Ctrl-F); the .pb \
                 opens in go tool pprof, speedscope or Perfetto."
                    .into(),
            ));
        }
        for f in &self.inputs.flames {
            blocks.push(Block::Sub(f.name.clone()));
            let mut links: Vec<(String, String)> = Vec::new();
            match &f.svg {
                Some(svg) => {
                    let text =
                        std::fs::read(svg).map_err(|source| ReportBuildError::Read { path: svg.clone(), source })?;
                    links.push((format!("{}.svg", f.name), self.link(svg)));
                    blocks.push(Block::Image {
                        alt: format!("flamegraph of {}", f.name),
                        href: self.link(svg),
                        data_uri: svg_data_uri(&text),
                    });
                }
                None => blocks
                    .push(self.missing(&format!("flamegraphs/{}.svg", f.name), &format!("otlp-lab flame {}", f.name))),
            }
            for p in &f.others {
                let name = p.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                links.push((name, self.link(p)));
            }
            match &f.summary {
                Some(s) => {
                    links.push((
                        format!("{}.json", f.name),
                        self.link(&self.cfg.flamegraphs.join(format!("{}.json", f.name))),
                    ));
                    blocks.push(Block::Para(format!(
                        "{} samples at {} Hz over {} s, {} iterations, libc and the like {}; threads: {}.",
                        int(s.samples),
                        int(u64::from(s.frequency_hz)),
                        num(s.duration_s, 2),
                        int(s.iterations),
                        if s.blocklist { "left out (blocklist)" } else { "included" },
                        if s.threads.is_empty() { "-".to_owned() } else { s.threads.join(", ") }
                    )));
                    blocks.push(table(
                        &["function", "self %", "total %"],
                        s.top
                            .iter()
                            .take(15)
                            .map(|t| vec![t.function.clone(), num(t.self_pct, 1), num(t.total_pct, 1)])
                            .collect(),
                    ));
                }
                None => blocks
                    .push(self.missing(&format!("flamegraphs/{}.json", f.name), &format!("otlp-lab flame {}", f.name))),
            }
            blocks.push(Block::Links(links));
        }
        Ok(Section { id: "flamegraphs", title: "Flamegraphs", blocks })
    }
}

/// An SVG as a `data:` URI: shown by `<img>`, which runs none of its scripts
/// (a flamegraph's own JavaScript stays in the linked file).
fn svg_data_uri(svg: &[u8]) -> String {
    let mut out = String::from("data:image/svg+xml,");
    for &b in svg {
        if b.is_ascii_alphanumeric() || b" -_.~/:=;,'()!*".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_data_uri_escapes_markup() {
        assert_eq!(svg_data_uri(b"<svg a=\"1\">#</svg>"), "data:image/svg+xml,%3Csvg a=%221%22%3E%23%3C/svg%3E");
    }
}

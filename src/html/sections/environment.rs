//! The machine, toolchain, profile settings and commit the run happened on
//! (environment.json): every key the gate compares before it compares counts.

use super::{Builder, opt, table};
use crate::html::doc::Section;

impl Builder<'_> {
    pub(super) fn environment(&mut self) -> Section {
        let blocks = match &self.inputs.env {
            None => vec![self.missing("environment.json", "otlp-lab env")],
            Some(e) => {
                let commit = match &e.git_commit {
                    Some(c) if e.git_dirty => format!("{c} (with uncommitted changes)"),
                    Some(c) => c.clone(),
                    None => "not a git checkout".to_owned(),
                };
                let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
                let features =
                    if e.cpu_features.is_empty() { "unknown (no flags)".to_owned() } else { e.cpu_features.join(" ") };
                let mut rows = vec![
                    vec!["CPU".into(), e.cpu_model.clone()],
                    vec!["CPU features (runtime dispatch)".into(), features],
                    vec!["cores".into(), e.cores.to_string()],
                    vec!["kernel".into(), e.kernel.clone()],
                    vec!["rustc".into(), e.rustc.version.clone()],
                    vec!["rustc commit".into(), none(&e.rustc.commit_hash)],
                    vec!["LLVM".into(), none(&e.rustc.llvm_version)],
                    vec!["host".into(), e.rustc.host.clone()],
                    vec!["rust-toolchain.toml channel".into(), none(&e.toolchain_channel)],
                    vec!["valgrind".into(), opt(&e.valgrind)],
                    vec!["iai-callgrind-runner".into(), opt(&e.runner)],
                ];
                rows.extend(e.profiles.iter().map(|(k, v)| vec![format!("Cargo.toml {k}"), v.clone()]));
                rows.push(vec!["git commit".into(), commit]);
                rows.push(vec!["written at".into(), e.written_at.clone()]);
                vec![table(&["what", "value"], rows)]
            }
        };
        Section { id: "environment", title: "Environment", blocks }
    }
}

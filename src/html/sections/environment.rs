//! The machine, toolchain and commit the run happened on (environment.json).

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
                vec![table(
                    &["what", "value"],
                    vec![
                        vec!["CPU".into(), e.cpu_model.clone()],
                        vec!["cores".into(), e.cores.to_string()],
                        vec!["kernel".into(), e.kernel.clone()],
                        vec!["rustc".into(), e.rustc.clone()],
                        vec!["valgrind".into(), opt(&e.valgrind)],
                        vec!["iai-callgrind-runner".into(), opt(&e.runner)],
                        vec!["git commit".into(), commit],
                        vec!["written at".into(), e.written_at.clone()],
                    ],
                )]
            }
        };
        Section { id: "environment", title: "Environment", blocks }
    }
}

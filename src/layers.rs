//! The layers of the crate, lowest first. A module may use the modules of the layers below its
//! own, never one of its own layer or above: so no two modules import each other, however
//! indirectly. The test reads every `crate::<module>` path in the sources (comments aside) and
//! fails on one that points sideways or up; a new top-level module fails it until it is given
//! its layer here.

/// Lowest first.
pub const LAYERS: &[&[&str]] = &[
    // Vocabulary: report types, what export writes, flags, file formats, signals.
    &["plan", "resource", "cli", "keyfile", "cancel", "testing"],
    &["wait", "progress", "policy_doc"],
    &["aws", "policy_eval"],
    // Pure explanations of documents and answers.
    &["diagnose"],
    // The config file → the desired state (validation uses diagnose's isolation rules).
    &["config"],
    &["steps"],
    &["export"],
    &["commands"],
    &["render"],
    &["layers", "lib", "main"],
];

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::LAYERS;

    fn layer(module: &str) -> Option<usize> {
        LAYERS.iter().position(|l| l.contains(&module))
    }

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The top-level module a source file belongs to (`src/steps/role.rs` → `steps`).
    fn module_of(src: &Path, file: &Path) -> String {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    }

    /// Every `crate::name` in code (not in comments) of `text`.
    fn uses(text: &str) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(i) = rest.find("crate::") {
                rest = &rest[i + "crate::".len()..];
                let name: String =
                    rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                out.push((n + 1, name));
            }
        }
        out
    }

    #[test]
    fn no_module_uses_one_of_its_own_layer_or_above() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        files.sort();
        let mut wrong = Vec::new();
        for file in &files {
            let from = module_of(&src, file);
            if from == "layers" {
                continue; // its tests' texts are examples
            }
            let Some(own) = layer(&from) else {
                wrong.push(format!("{}: module {from} has no layer in LAYERS", file.display()));
                continue;
            };
            let text = std::fs::read_to_string(file).unwrap();
            for (line, to) in uses(&text) {
                if to == from {
                    continue;
                }
                match layer(&to) {
                    Some(l) if l < own => {}
                    Some(_) => wrong.push(format!(
                        "{}:{line}: {from} uses {to}, which is not below it",
                        file.display()
                    )),
                    None => wrong.push(format!(
                        "{}:{line}: {from} uses {to}, which has no layer",
                        file.display()
                    )),
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_reader_finds_uses_in_code_only() {
        let text = "use crate::plan::{Note, State};\n// see crate::render\nlet x = crate::steps::STEPS; // crate::lib\n";
        let got: Vec<String> = uses(text).into_iter().map(|(_, m)| m).collect();
        assert_eq!(got, ["plan", "steps"]);
    }
}

//! What a step notices: typed notes, from the steps to the renderers.

use std::fmt;

use serde::{Serialize, Serializer};

/// What kind of thing a step's note says. The renderers choose the label by it, `status` exits
/// 3 on a [`NoteKind::Security`] one, and an apply that replaced the document a finding was
/// about reports it as [`NoteKind::Fixed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Noticed and deliberately left alone, or in progress: `note: …` for people.
    Info,
    /// Something that breaks the app (sign-in, guest access): `finding: …`.
    Finding,
    /// Something that lets in more than the config says: `security: …`.
    Security,
    /// A finding that the apply in this report fixed: `fixed, was: …`.
    Fixed,
}

/// A step's note: its kind, what it says, and (for a finding) what the mistake does to the app.
/// In the JSON `notes` and in the report it is one line: `finding: <text> (<effect>)`,
/// `security: <text>`, `fixed, was: <text>`, or the text alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    pub text: String,
    /// What the mistake does to the app (`sign-in fails with …`), said after a finding and
    /// dropped once it is fixed.
    pub effect: Option<&'static str>,
}

impl Note {
    pub fn info(text: impl Into<String>) -> Self {
        Note { kind: NoteKind::Info, text: text.into(), effect: None }
    }
    pub fn finding(text: impl Into<String>, effect: Option<&'static str>) -> Self {
        Note { kind: NoteKind::Finding, text: text.into(), effect }
    }
    pub fn security(text: impl Into<String>) -> Self {
        Note { kind: NoteKind::Security, text: text.into(), effect: None }
    }

    /// A finding told in the past, for the report of the apply that replaced the document it is
    /// about (without what the mistake did to the app, which it no longer does). Any other
    /// note stays as it is.
    pub fn fixed(self) -> Self {
        match self.kind {
            NoteKind::Finding | NoteKind::Security => {
                Note { kind: NoteKind::Fixed, text: self.text, effect: None }
            }
            NoteKind::Info | NoteKind::Fixed => self,
        }
    }

    /// A finding or a security finding (not a plain note, not a fixed one).
    pub fn is_finding(&self) -> bool {
        matches!(self.kind, NoteKind::Finding | NoteKind::Security)
    }
}

impl From<String> for Note {
    fn from(text: String) -> Self {
        Note::info(text)
    }
}

impl From<&str> for Note {
    fn from(text: &str) -> Self {
        Note::info(text)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            NoteKind::Info => f.write_str(&self.text)?,
            NoteKind::Finding => write!(f, "finding: {}", self.text)?,
            NoteKind::Security => write!(f, "security: {}", self.text)?,
            NoteKind::Fixed => write!(f, "fixed, was: {}", self.text)?,
        }
        match self.effect {
            Some(effect) => write!(f, " ({effect})"),
            None => Ok(()),
        }
    }
}

/// Notes compare with their one-line form (tests, and the JSON's view of them).
impl PartialEq<&str> for Note {
    fn eq(&self, other: &&str) -> bool {
        let line = self.to_string();
        line == *other
    }
}

impl PartialEq<String> for Note {
    fn eq(&self, other: &String) -> bool {
        let line = self.to_string();
        line == *other
    }
}

impl Serialize for Note {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_one_line_in_the_json_and_only_security_ones_are_security() {
        let notes = [
            Note::info("index byEmail is CREATING (in progress, not drift)"),
            Note::finding("aud is \"x\"", Some("sign-in fails")),
            Note::security("Resource \"*\""),
            Note::security("Resource \"*\"").fixed(),
        ];
        assert_eq!(
            serde_json::to_value(&notes).unwrap(),
            serde_json::json!([
                "index byEmail is CREATING (in progress, not drift)",
                "finding: aud is \"x\" (sign-in fails)",
                "security: Resource \"*\"",
                "fixed, was: Resource \"*\""
            ])
        );
        let findings: Vec<bool> = notes.iter().map(Note::is_finding).collect();
        assert_eq!(findings, [false, true, true, false]);
    }
}

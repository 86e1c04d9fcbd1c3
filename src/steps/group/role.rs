//! TEMPORARY (helper-exp): placeholder until main's group steps are merged.
pub enum Action {}
pub struct GroupRole;

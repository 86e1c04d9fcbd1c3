//! TEMPORARY (helper-exp): placeholder until main's group steps are merged.
pub struct GroupPolicy;

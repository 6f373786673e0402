//! What people read in a browser: the static report and the pieces of page
//! `faultline serve` shares with it.
//!
//! Pages are askama templates (`templates/`), compiled in; every value they
//! print goes through [`escape::Html`]. The pieces below the templates are
//! pure: an issue becomes an [`view::IssueView`] (times, plurals, the chart's
//! geometry, the stack one frame per line) and the templates only print it.

pub mod chart;
pub mod escape;
pub mod format;
pub mod report;
pub mod runs;
pub mod stack;
pub mod view;

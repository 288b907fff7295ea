//! The pages and the work queue's form actions.

pub mod actions;
pub mod alerts;
pub mod overview;
pub mod people;
pub mod queue;

//! The integration tests of `exhunt-kb`, in one binary (one link instead of one per file); each module
//! is one subject.

mod catalog;
mod docs;
mod ioc;
mod rules;

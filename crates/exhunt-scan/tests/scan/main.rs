//! The integration tests of `exhunt-scan`, in one binary (one link instead of one per file); each module
//! is one subject.

mod common;

mod lab;
mod permute;
mod pipeline;
mod rate;
mod untrusted;

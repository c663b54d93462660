//! The integration tests of `exhunt-detect`, in one binary (one link instead of one per file); each module
//! is one subject.

mod corpus;
mod corpus_webshells;
mod golden;
mod ioc;
mod kb;
mod lab_rules;
mod sigma;

//! Integration tests of the hunt's input half: evidence sources, discovery, log readers. One binary; the modules
//! below group the tests by subject. Real corpora are read in place from `../shared` (override with
//! `EXHUNT_SHARED`); a missing corpus fails the test.

mod common;

mod apphost_corpus;
mod baseline;
mod corpus_events;
mod corpus_files;
mod corpus_logs;
mod discovery;
mod event_hunt;
mod events;
mod evidence;
mod exchange_csv;
mod hive_writer;
mod iis_corpus;
mod lab;
mod robustness;
mod sweep;

//! End-to-end tests: the real server on an ephemeral port, driven over HTTP. Each test is
//! named after the RFC clause it checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod audit;
mod authorize;
mod browser;
mod cli;
mod client_lib;
mod connections;
mod crash;
pub mod device;
mod discovery;
mod hardening;
mod harness;
mod hostile;
mod keys;
mod login;
mod metrics;
mod registration;
mod resource;
mod revocation;
pub mod scale_out;
mod token;

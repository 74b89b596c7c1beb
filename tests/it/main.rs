//! Black-box tests of tachi-auth: each module is one capability of the spec,
//! run against a real server over loopback HTTP with a real database.
//! (One test binary for all of them: one link instead of one per file.)

mod support;

mod browser;
mod behind_proxy;
mod builtin_clients;
mod dashboard_forms;
mod multi_instance;
mod outage;
mod seeds_flow;

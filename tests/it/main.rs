//! Black-box tests of tachi-auth: each module is one capability of the spec,
//! run against a real server over loopback HTTP with a real database.
//! (One test binary for all of them: one link instead of one per file.)

mod support;

mod abuse;
mod accounts;
mod accounts_recovery;
mod accounts_verification;
mod api_keys;
mod attacks;
mod behind_proxy;
mod browser;
mod builtin_clients;
mod clients;
mod dashboard_forms;
mod database_tls;
mod device_grant;
mod import;
mod malformed;
mod multi_instance;
mod oauth_seeds;
mod oauth_standard;
mod openapi;
mod operations;
mod operator_accounts;
mod outage;
mod public_clients;
mod security_log;
mod seeds_flow;
mod status;
mod tachi_compat;
mod upgrades;
mod users;
mod webhooks;

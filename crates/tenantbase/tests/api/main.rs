//! The API suite: the real router and middleware, in process (`oneshot`) on both backends,
//! and the real binary over a socket where signals, logs or the command line matter.

mod abuse_limits;
mod access_matrix;
mod audit_cli;
mod auth;
mod auth_email;
mod auth_throttle;
mod auth_tokens;
mod cli;
mod creator_limits;
mod credentials;
mod docs_browser;
mod errors;
mod files;
mod files_faults;
mod files_presigned;
mod gateway;
mod hangups;
mod helpers;
mod jobs_processes;
mod members;
mod middleware;
mod object_stores;
mod ops;
mod org_bound_tokens;
mod orgs;
mod process;
mod profiles;
mod projects;
mod ready_faults;
mod secrets_at_rest;
mod team_owners;
mod tenants;

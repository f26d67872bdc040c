//! The conformance suite on SQLite: each test gets its own database file.

mod support;

use support::fresh;

tenantbase_store_tests::conformance_suite!(fresh);

//! The PostgreSQL engine against a real server: the conformance suite, each case in a schema of
//! its own (cases run in parallel and each starts with a reset, which would wipe the others').
//!
//! The server is `ECSD_TEST_DATABASE_URL` (`scripts/pg-test-cluster.sh start` prints one). Without
//! it the suite fails under CI (`CI=true`), and is skipped with a notice elsewhere.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use ecs_store::Store;
use ecs_store_postgres::{PgOptions, PgStore};

const URL_VAR: &str = "ECSD_TEST_DATABASE_URL";

fn url() -> Option<String> {
    std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())
}

fn skip() -> bool {
    if url().is_some() {
        return false;
    }
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(
        !in_ci,
        "{URL_VAR} is not set: CI must run the PostgreSQL conformance suite \
         (scripts/pg-test-cluster.sh start prints a URL)"
    );
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        // Straight to the stderr handle: the test harness captures eprintln! of passing tests,
        // and this notice is for whoever runs them.
        let _ = writeln!(
            std::io::stderr(),
            "NOTICE: {URL_VAR} is not set; the PostgreSQL conformance suite is skipped \
             (run scripts/pg-test-cluster.sh start and export its URL)"
        );
    });
    true
}

/// A store in a fresh schema named after this process and a counter.
pub fn make() -> Arc<dyn Store> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = url().unwrap_or_else(|| panic!("{URL_VAR} is not set"));
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let options = PgOptions {
        pool_size: 6,
        statement_timeout: Duration::from_secs(20),
        schema: Some(schema),
        ..PgOptions::new(url)
    };
    Arc::new(PgStore::open(&options).unwrap_or_else(|e| panic!("open postgres store: {e:?}")))
}

ecs_store::store_conformance_tests!(make, skip_if = skip);

#[test]
fn engine_is_postgres() {
    if skip() {
        return;
    }
    assert_eq!(make().engine(), "postgres");
}

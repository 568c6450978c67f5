//! The PostgreSQL engine against a real server: the conformance suite, each case in a schema of
//! its own (cases run in parallel and each starts with a reset, which would wipe the others').
//!
//! The server is `ECSD_TEST_DATABASE_URL` (`scripts/pg-test-cluster.sh start` prints one). Without
//! it the suite fails under CI (`CI=true`), and is skipped with a notice elsewhere.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use ecs_store::{NewEvent, ResourceKind, Store, StoreExt};
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

fn event(label: &str) -> NewEvent {
    NewEvent {
        account_id: 1,
        resource: ResourceKind::Instance,
        resource_id: format!("i-{label}"),
        action: "DeleteInstance".into(),
        scheduled_at: None,
        happened_at: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        outcome: "deleted".into(),
        detail: serde_json::json!({ "label": label }),
    }
}

/// Events are numbered when inserted but become visible when committed, which concurrent
/// writers do in either order. Here the writer that took the lower number commits last: a
/// reader that polls meanwhile must not be shown the higher number alone (it would continue
/// after it and never see the lower one); it waits, and then sees both, in number order.
#[test]
fn events_are_read_in_commit_order() {
    if skip() {
        return;
    }
    let store = make();
    let (took, taken) = std::sync::mpsc::channel::<i64>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let first = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            store.write(move |tx| {
                let seq = tx.append_event(&event("first"))?;
                let _ = took.send(seq);
                let _ = released
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .recv_timeout(Duration::from_secs(10));
                Ok(seq)
            })
        })
    };
    let first_seq = taken
        .recv_timeout(Duration::from_secs(10))
        .expect("the first writer took a number");
    let second_seq = store
        .write(|tx| Ok(tx.append_event(&event("second"))?))
        .expect("the second writer commits");
    assert!(first_seq < second_seq, "{first_seq} < {second_seq}");

    // A reader polling while the first writer is still open.
    let (read_tx, read_rx) = std::sync::mpsc::channel();
    let reader = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let page = store.read(|tx| Ok(tx.events_after(0, 100)?));
            let _ = read_tx.send(page);
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let early = read_rx.try_recv().ok();
    release.send(()).expect("release the first writer");
    first
        .join()
        .expect("first writer thread")
        .expect("the first writer commits");
    let page = match early {
        Some(page) => page,
        None => read_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the reader answers once the first writer committed"),
    }
    .expect("the read succeeds");
    reader.join().expect("reader thread");

    // Whatever the first page held, continuing from its last number must reach both events.
    let mut seen: Vec<i64> = page.iter().map(|e| e.seq).collect();
    let cursor = seen.last().copied().unwrap_or(0);
    let rest = store
        .read(move |tx| Ok(tx.events_after(cursor, 100)?))
        .expect("the second read");
    seen.extend(rest.iter().map(|e| e.seq));
    assert_eq!(
        seen,
        vec![first_seq, second_seq],
        "the reader skipped an event committed after a higher-numbered one \
         (first page: {:?})",
        page.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
}

//! The SQLite engine against real database files: the conformance suite, plus what only a file
//! can show (reopening, schema version, group commit).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use ecs_store::sqlite::SqliteStore;
use ecs_store::testsuite::{at, sample_instance};
use ecs_store::{InstanceFilter, Page, Store, StoreExt, TxError, TxFn, TxResult};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ecs-store-test-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("ecsd.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store in its own temp dir, which goes away with it.
struct TempStore {
    // Declared first so it is dropped (and its files closed) before the directory goes.
    store: SqliteStore,
    _dir: TempDir,
}

impl Store for TempStore {
    fn write_boxed(&self, f: TxFn) -> TxResult<Box<dyn std::any::Any + Send>> {
        self.store.write_boxed(f)
    }
    fn read_boxed(&self, f: TxFn) -> TxResult<Box<dyn std::any::Any + Send>> {
        self.store.read_boxed(f)
    }
    fn engine(&self) -> &'static str {
        self.store.engine()
    }
}

fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn make() -> Arc<dyn Store> {
    let dir = TempDir::new();
    Arc::new(TempStore {
        store: open(&dir.db()),
        _dir: dir,
    })
}

ecs_store::store_conformance_tests!(make);

#[test]
fn engine_is_sqlite() {
    assert_eq!(make().engine(), "sqlite");
}

#[test]
fn data_survives_reopen() {
    let dir = TempDir::new();
    let (account, inst) = {
        let store = open(&dir.db());
        let account = store
            .write(|tx| Ok(tx.create_account("reopen")?))
            .expect("create account");
        let mut inst = sample_instance(account.id, "i-reopen");
        inst.auto_release_time = Some(at("2026-05-01T00:00:00Z"));
        let put = inst.clone();
        store
            .write(move |tx| {
                tx.put_instance(&put)?;
                Ok(tx.put_setting("clock", "2026-01-01T00:00:00Z")?)
            })
            .expect("put");
        (account, inst)
    };
    // Reopening runs the migrations again; they must see the schema is current.
    for _ in 0..2 {
        let store = open(&dir.db());
        let a = account.id;
        let (got_account, got_instance, clock, next) = store
            .read(move |tx| {
                Ok((
                    tx.account(a)?,
                    tx.instance(a, "i-reopen")?,
                    tx.setting("clock")?,
                    tx.next_due()?,
                ))
            })
            .expect("read");
        assert_eq!(got_account, Some(account.clone()));
        assert_eq!(got_instance, Some(inst.clone()));
        assert_eq!(clock.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(next, inst.auto_release_time);
    }
}

#[test]
fn schema_version_and_pragmas() {
    let dir = TempDir::new();
    drop(open(&dir.db()));
    let conn = rusqlite_check::open(&dir.db());
    assert_eq!(rusqlite_check::pragma(&conn, "user_version"), "1");
    assert_eq!(rusqlite_check::pragma(&conn, "journal_mode"), "wal");
}

#[test]
fn newer_schema_is_refused() {
    let dir = TempDir::new();
    drop(open(&dir.db()));
    let conn = rusqlite_check::open(&dir.db());
    conn.execute_batch("PRAGMA user_version = 99")
        .expect("set version");
    drop(conn);
    let err = SqliteStore::open(&dir.db()).err().expect("must refuse");
    assert!(err.to_string().contains("99"), "{err}");
}

#[test]
fn concurrent_writes_share_commits() {
    let dir = TempDir::new();
    let store = Arc::new(open(&dir.db()));
    let a = store
        .write(|tx| Ok(tx.create_account("group")?.id))
        .expect("account");
    let before = store.write_stats();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..50 {
                    let inst = sample_instance(a, &format!("i-g{t}-{n}"));
                    store
                        .write(move |tx| Ok(tx.put_instance(&inst)?))
                        .expect("write");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let after = store.write_stats();
    let (commits, jobs) = (after.commits - before.commits, after.jobs - before.jobs);
    eprintln!("800 concurrent writes in {commits} commits");
    assert_eq!(jobs, 800);
    // With 16 writers waiting on fsync, batches form; one commit per write would mean none did.
    assert!(commits < jobs, "{commits} commits for {jobs} writes");
}

#[test]
fn nested_write_is_refused() {
    let store = make();
    let inner = Arc::clone(&store);
    let result = store.write(move |_tx| Ok(inner.write(|_tx| Ok(()))));
    match result {
        Ok(Err(TxError::Store(_))) => {}
        other => panic!("nested write must fail cleanly: {other:?}"),
    }
}

/// Bulk numbers on a large file. Run with
/// `cargo test -p ecs-store --release --test sqlite -- --ignored --nocapture perf`.
#[test]
#[ignore]
fn perf_million_instances() {
    const ACCOUNTS: i64 = 10;
    const PER_ACCOUNT: usize = 100_000;
    let dir = TempDir::new();
    let store = Arc::new(open(&dir.db()));
    let accounts: Vec<i64> = store
        .write(|tx| {
            (0..ACCOUNTS)
                .map(|n| Ok(tx.create_account(&format!("perf{n}"))?.id))
                .collect::<TxResult<Vec<_>>>()
        })
        .expect("accounts");

    let start = Instant::now();
    const CHUNK: usize = 10_000;
    for chunk in 0..(PER_ACCOUNT * ACCOUNTS as usize / CHUNK) {
        let accounts = accounts.clone();
        store
            .write(move |tx| {
                for k in 0..CHUNK {
                    let n = chunk * CHUNK + k;
                    let a = accounts[n % accounts.len()];
                    let mut inst = sample_instance(a, &format!("i-perf{n:07}"));
                    if n % 2 == 1 {
                        inst.region_id = "cn-beijing".into();
                        inst.zone_id = "cn-beijing-a".into();
                    }
                    inst.name = format!("host-{n}");
                    inst.auto_release_time = Some(
                        at("2026-06-01T00:00:00Z")
                            + chrono::Duration::minutes((n % 100_000) as i64),
                    );
                    tx.put_instance(&inst)?;
                }
                Ok(())
            })
            .expect("bulk insert");
    }
    let inserted = start.elapsed();
    let size = std::fs::metadata(dir.db()).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "insert 1,000,000 instances (10k per transaction): {inserted:?}, file {} MiB",
        size / (1 << 20)
    );

    let a = accounts[3];
    let time = |label: &str, runs: u32, f: &dyn Fn()| {
        f(); // warm the cache
        let start = Instant::now();
        for _ in 0..runs {
            f();
        }
        eprintln!("{label}: {:?} per call", start.elapsed() / runs);
    };
    let list = |filter: InstanceFilter, page: Page| {
        let store = Arc::clone(&store);
        move || {
            let filter = filter.clone();
            let listing = store
                .read(move |tx| Ok(tx.list_instances(&filter, page)?))
                .expect("list");
            assert!(!listing.items.is_empty());
        }
    };
    let account_only = InstanceFilter {
        account_id: a,
        ..Default::default()
    };
    let by_region = InstanceFilter {
        region_id: Some("cn-beijing".into()),
        ..account_only.clone()
    };
    // The middle of the listing, found with a cursor.
    let mid = store
        .read({
            let f = account_only.clone();
            move |tx| {
                Ok(tx.list_instances(
                    &f,
                    Page::Offset {
                        offset: 50_000,
                        limit: 1,
                    },
                )?)
            }
        })
        .expect("mid")
        .items[0]
        .id
        .clone();
    let mid_seq = store
        .read({
            let f = account_only.clone();
            move |tx| {
                Ok(tx.list_instances(
                    &f,
                    Page::Offset {
                        offset: 49_999,
                        limit: 1,
                    },
                )?)
            }
        })
        .expect("seq")
        .next_after
        .expect("more follow");
    eprintln!("cursor in the middle: after seq {mid_seq} comes {mid}");

    time(
        "page of 100, account only, first page (incl. COUNT over 100k)",
        20,
        &list(
            account_only.clone(),
            Page::After {
                after: 0,
                limit: 100,
            },
        ),
    );
    time(
        "page of 100, account only, After cursor mid-listing (incl. COUNT over 100k)",
        20,
        &list(
            account_only.clone(),
            Page::After {
                after: mid_seq,
                limit: 100,
            },
        ),
    );
    time(
        "page of 100, account + region (50k match), After cursor (incl. COUNT)",
        20,
        &list(
            by_region.clone(),
            Page::After {
                after: mid_seq,
                limit: 100,
            },
        ),
    );
    time(
        "page of 100, account only, Offset 50,000 (incl. COUNT)",
        20,
        &list(
            account_only.clone(),
            Page::Offset {
                offset: 50_000,
                limit: 100,
            },
        ),
    );
    time(
        "page of 100, account + status Running (residual filter) (incl. COUNT)",
        10,
        &list(
            InstanceFilter {
                status: Some("Running".into()),
                ..account_only.clone()
            },
            Page::After {
                after: 0,
                limit: 100,
            },
        ),
    );
    time(
        "page of 100, account + name wildcard host-1* (incl. COUNT)",
        10,
        &list(
            InstanceFilter {
                name: Some("host-1*".into()),
                ..account_only.clone()
            },
            Page::After {
                after: 0,
                limit: 100,
            },
        ),
    );
    time(
        "ids filter, 100 ids (incl. COUNT)",
        20,
        &list(
            InstanceFilter {
                ids: Some(
                    (0..100)
                        .map(|k| format!("i-perf{:07}", 3 + 10 * k))
                        .collect(),
                ),
                ..account_only.clone()
            },
            Page::After {
                after: 0,
                limit: 100,
            },
        ),
    );
    time("single instance by id", 1000, &{
        let store = Arc::clone(&store);
        let mid = mid.clone();
        move || {
            let id = mid.clone();
            store
                .read(move |tx| Ok(tx.instance(a, &id)?))
                .expect("get")
                .expect("found");
        }
    });
    time("due_jobs(limit 100) over 1,000,000 jobs", 100, &{
        let store = Arc::clone(&store);
        move || {
            let jobs = store
                .read(|tx| Ok(tx.due_jobs(at("2026-07-01T00:00:00Z"), 100)?))
                .expect("due");
            assert_eq!(jobs.len(), 100);
        }
    });
    time("next_due over 1,000,000 jobs", 1000, &{
        let store = Arc::clone(&store);
        move || {
            store
                .read(|tx| Ok(tx.next_due()?))
                .expect("next")
                .expect("some");
        }
    });

    // Single writes, one at a time (one fsync each) and from 16 threads (grouped).
    let single = Instant::now();
    for n in 0..200 {
        let inst = sample_instance(a, &format!("i-single{n}"));
        store
            .write(move |tx| Ok(tx.put_instance(&inst)?))
            .expect("write");
    }
    eprintln!(
        "sequential single writes: {:?} per write",
        single.elapsed() / 200
    );
    let before = store.write_stats();
    let crowd = Instant::now();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let store = Arc::clone(&store);
            thread::spawn(move || {
                for n in 0..100 {
                    let inst = sample_instance(a, &format!("i-crowd{t}-{n}"));
                    store
                        .write(move |tx| Ok(tx.put_instance(&inst)?))
                        .expect("write");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let after = store.write_stats();
    eprintln!(
        "16 threads x 100 writes: {:?} total, {} commits for {} writes",
        crowd.elapsed(),
        after.commits - before.commits,
        after.jobs - before.jobs
    );
}

/// Direct looks at the file, bypassing the store.
mod rusqlite_check {
    use std::path::Path;

    pub fn open(path: &Path) -> rusqlite::Connection {
        rusqlite::Connection::open(path).expect("open for inspection")
    }

    pub fn pragma(conn: &rusqlite::Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(s) => s,
            other => format!("{other:?}"),
        })
        .expect("pragma")
    }
}

//! The SQLite engine against real database files: the conformance suite, plus what only a file
//! can show (reopening, schema version, group commit).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

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
    assert_eq!(rusqlite_check::pragma(&conn, "user_version"), "8");
    assert_eq!(rusqlite_check::pragma(&conn, "journal_mode"), "wal");
}

#[test]
fn version_one_is_migrated() {
    let dir = TempDir::new();
    let store = open(&dir.db());
    let a = store
        .write(|tx| Ok(tx.create_account("migrate")?.id))
        .expect("account");
    let inst = sample_instance(a, "i-migrate");
    let put = inst.clone();
    store
        .write(move |tx| Ok(tx.put_instance(&put)?))
        .expect("put");
    drop(store);

    // Put the file back the way schema version 1 left it.
    let conn = rusqlite_check::open(&dir.db());
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS instance_counts_insert;
         DROP TRIGGER IF EXISTS instance_counts_delete;
         DROP TRIGGER IF EXISTS instance_counts_move;
         DROP TABLE instance_counts;
         DROP INDEX instances_by_region;
         CREATE INDEX instances_by_region ON instances(account_id, region_id, seq);
         DROP INDEX instances_by_host;
         CREATE INDEX instances_by_host ON instances(account_id, host_id)
             WHERE host_id IS NOT NULL;
         DROP INDEX hosts_by_region;
         CREATE INDEX hosts_by_region ON hosts(account_id, region_id, seq);
         DROP TABLE nonces;
         DROP TABLE leaders;
         ALTER TABLE jobs DROP COLUMN claimed_by;
         ALTER TABLE jobs DROP COLUMN lease_until;
         DROP TABLE disks;
         PRAGMA user_version = 1;",
    )
    .expect("downgrade");
    drop(conn);

    let store = open(&dir.db());
    let got = store
        .read(move |tx| Ok(tx.instance(a, "i-migrate")?))
        .expect("read");
    assert_eq!(got, Some(inst));
    // Version 3 counted the instances that were already there.
    let filter = InstanceFilter {
        account_id: a,
        region_id: Some("cn-hangzhou".into()),
        ..Default::default()
    };
    let total = store
        .read(move |tx| {
            Ok(tx
                .list_instances(
                    &filter,
                    Page::Offset {
                        offset: 0,
                        limit: 10,
                    },
                )?
                .total)
        })
        .expect("list");
    assert_eq!(total, 1);
    drop(store);
    let conn = rusqlite_check::open(&dir.db());
    assert_eq!(rusqlite_check::pragma(&conn, "user_version"), "8");
    let columns: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_info('instances_by_region')",
            [],
            |r| r.get(0),
        )
        .expect("index info");
    assert_eq!(columns, 9);
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

/// Writes that queue while a commit is in progress go into the next commit together: with the
/// writer held inside one transaction, 100 writes are queued (`submit` returns once a write is
/// queued), then the writer is let go. Exactly two commits follow: the held one and one for
/// the whole queue. Without group commit it would be 101.
#[test]
fn writes_queued_behind_a_commit_share_the_next_one() {
    const QUEUED: usize = 100;
    let dir = TempDir::new();
    let store = Arc::new(open(&dir.db()));
    let a = store
        .write(|tx| Ok(tx.create_account("group")?.id))
        .expect("account");
    let before = store.write_stats();

    let (inside_tx, inside) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let blocker = {
        let store = Arc::clone(&store);
        thread::spawn(move || {
            store.write(move |tx| {
                tx.put_instance(&sample_instance(a, "i-held"))?;
                let _ = inside_tx.send(());
                let _ = release_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(30));
                Ok(())
            })
        })
    };
    inside
        .recv_timeout(Duration::from_secs(30))
        .expect("the held write started");

    let (done_tx, done) = mpsc::channel();
    for n in 0..QUEUED {
        let inst = sample_instance(a, &format!("i-q{n:03}"));
        let done_tx = done_tx.clone();
        store.submit(
            move |tx| Ok(tx.put_instance(&inst)?),
            move |outcome: TxResult<()>| {
                let _ = done_tx.send(outcome);
            },
        );
    }
    release.send(()).expect("release the held write");
    blocker.join().expect("blocker").expect("held write");
    for _ in 0..QUEUED {
        done.recv_timeout(Duration::from_secs(30))
            .expect("every queued write answers")
            .expect("queued write");
    }
    let after = store.write_stats();
    let (commits, jobs) = (after.commits - before.commits, after.jobs - before.jobs);
    assert_eq!(jobs, QUEUED as u64 + 1);
    assert_eq!(
        commits, 2,
        "the held write and the {QUEUED} queued behind it: expected 2 commits, got {commits}"
    );
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

/// Bulk numbers on a large file: 1,000,000 instances over 10 accounts (100,000 each, half in
/// each of two regions), each with an auto-release job. Run with
/// `cargo test -p ecs-store --release --test sqlite -- --ignored --nocapture perf`.
#[test]
#[ignore]
fn perf_million_instances() {
    const ACCOUNTS: i64 = 10;
    const PER_ACCOUNT: usize = 100_000;
    // ECS_STORE_PERF_DB=/some/file keeps the database (and reuses it on the next run), for
    // looking at query plans with the sqlite3 shell.
    let dir = TempDir::new();
    let path = std::env::var_os("ECS_STORE_PERF_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.db());
    let opening = Instant::now();
    let store = Arc::new(open(&path));
    eprintln!("{:>10.3?}  open (and migrate)", opening.elapsed());
    let existing = store
        .read(|tx| {
            (0..ACCOUNTS)
                .map(|n| Ok(tx.account_by_name(&format!("perf{n}"))?.map(|a| a.id)))
                .collect::<TxResult<Option<Vec<_>>>>()
        })
        .expect("accounts");
    let accounts = match existing {
        Some(accounts) => accounts,
        None => populate(&store, ACCOUNTS, PER_ACCOUNT),
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    eprintln!("database file: {} MiB", size / (1 << 20));

    let a = accounts[3];
    let time = |label: &str, runs: u32, f: &dyn Fn() -> usize| {
        let found = f(); // and warms the cache
        let start = Instant::now();
        for _ in 0..runs {
            f();
        }
        eprintln!("{:>10.3?}  {label} ({found})", start.elapsed() / runs);
    };
    let list = |filter: &InstanceFilter, page: Page| {
        let filter = filter.clone();
        store
            .read(move |tx| Ok(tx.list_instances(&filter, page)?))
            .expect("list")
    };

    let account = InstanceFilter {
        account_id: a,
        ..Default::default()
    };
    let region = InstanceFilter {
        region_id: Some("cn-beijing".into()),
        ..account.clone()
    };
    // A cursor half way through the region's listing.
    let mid = list(
        &region,
        Page::Offset {
            offset: 24_999,
            limit: 1,
        },
    )
    .next_after
    .expect("more follow");
    let first = Page::After {
        after: 0,
        limit: 100,
    };
    let cases: Vec<(&str, InstanceFilter, Page)> = vec![
        (
            "count only (limit 0), account: 100k match",
            account.clone(),
            Page::Offset {
                offset: 0,
                limit: 0,
            },
        ),
        (
            "count only (limit 0), account+region: 50k match",
            region.clone(),
            Page::Offset {
                offset: 0,
                limit: 0,
            },
        ),
        ("page 100 + count, account", account.clone(), first),
        ("page 100 + count, account+region", region.clone(), first),
        (
            "page 100 + count, account+region, After mid-listing",
            region.clone(),
            Page::After {
                after: mid,
                limit: 100,
            },
        ),
        (
            "page 100 + count, account+region, Offset 25,000",
            region.clone(),
            Page::Offset {
                offset: 25_000,
                limit: 100,
            },
        ),
        (
            "page 100 + count, account+region+status Stopped (1/7 match)",
            InstanceFilter {
                status: Some("Stopped".into()),
                ..region.clone()
            },
            first,
        ),
        (
            "page 100 + count, account+region+zone+status Running",
            InstanceFilter {
                zone_id: Some("cn-beijing-a".into()),
                status: Some("Running".into()),
                ..region.clone()
            },
            first,
        ),
        (
            "page 100 + count, account+region+name host-1*",
            InstanceFilter {
                name: Some("host-1*".into()),
                ..region.clone()
            },
            first,
        ),
        (
            "page 100 + count, account+region+name exact",
            InstanceFilter {
                name: Some("host-500013".into()),
                ..region.clone()
            },
            first,
        ),
        (
            "page 100 + count, account+region+100 ids",
            InstanceFilter {
                ids: Some(
                    (0..100)
                        .map(|k| format!("i-perf{:07}", 13 + 20 * k))
                        .collect(),
                ),
                ..region.clone()
            },
            first,
        ),
    ];
    for (label, filter, page) in cases {
        time(label, 10, &|| list(&filter, page).items.len());
    }
    let one = list(
        &region,
        Page::Offset {
            offset: 30_000,
            limit: 1,
        },
    )
    .items[0]
        .id
        .clone();
    time("one instance by id", 1000, &|| {
        let id = one.clone();
        store
            .read(move |tx| Ok(tx.instance(a, &id)?))
            .expect("get")
            .map_or(0, |_| 1)
    });
    time("due_jobs(limit 100) over 1,000,000 jobs", 100, &|| {
        store
            .read(|tx| Ok(tx.due_jobs(at("2026-07-01T00:00:00Z"), 100)?))
            .expect("due")
            .len()
    });
    time("next_due over 1,000,000 jobs", 1000, &|| {
        store
            .read(|tx| Ok(tx.next_due()?))
            .expect("next")
            .map_or(0, |_| 1)
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
        "{:>10.3?}  sequential single writes, per write",
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
        "{:>10.3?}  16 threads x 100 writes, total; {} commits for {} writes",
        crowd.elapsed(),
        after.commits - before.commits,
        after.jobs - before.jobs
    );
    // Leave a kept database as it was found.
    store
        .write(move |tx| {
            for n in 0..200 {
                tx.delete_instance(a, &format!("i-single{n}"))?;
            }
            for t in 0..16 {
                for n in 0..100 {
                    tx.delete_instance(a, &format!("i-crowd{t}-{n}"))?;
                }
            }
            Ok(())
        })
        .expect("clean up");
}

fn populate(store: &SqliteStore, accounts: i64, per_account: usize) -> Vec<i64> {
    let ids: Vec<i64> = store
        .write(move |tx| {
            (0..accounts)
                .map(|n| Ok(tx.create_account(&format!("perf{n}"))?.id))
                .collect::<TxResult<Vec<_>>>()
        })
        .expect("accounts");
    let start = Instant::now();
    const CHUNK: usize = 10_000;
    let total = per_account * ids.len();
    for chunk in 0..total.div_ceil(CHUNK) {
        let ids = ids.clone();
        store
            .write(move |tx| {
                for n in chunk * CHUNK..((chunk + 1) * CHUNK).min(total) {
                    // Accounts interleave, so one account's rows are spread over the whole file.
                    let a = ids[n % ids.len()];
                    let mut inst = sample_instance(a, &format!("i-perf{n:07}"));
                    if n % 20 >= 10 {
                        inst.region_id = "cn-beijing".into();
                        inst.zone_id = "cn-beijing-a".into();
                    }
                    if n % 7 == 0 {
                        inst.status = ecs_domain::model::InstanceStatus::Stopped;
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
    eprintln!(
        "insert {total} instances ({CHUNK} per transaction): {:?}",
        start.elapsed()
    );
    ids
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

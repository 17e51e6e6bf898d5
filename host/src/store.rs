//! The state directory: the SQLite event journal and atomic checkpoint files.
//!
//! A state directory holds exactly these files, all made by this module:
//!
//! ```text
//! LOCK                          held (flock) by the one process using the directory
//! journal.sqlite                the journal: `meta` (schema version, genesis) and `events`
//! journal.sqlite-wal, -shm      SQLite's write-ahead log and its index (while open)
//! journal.sqlite-journal        a rollback journal (only if the file was ever in that mode)
//! ckpt-<20-digit seq>.tlc       checkpoints: tradeloop's envelope (`checkpoint::open`)
//! ckpt-<20-digit seq>.tlc.tmp   a checkpoint being written (removed on open if left over)
//! ```
//!
//! Anything else makes [`StateDir::open`] refuse the directory ([`StoreError::Foreign`]):
//! pointing the command at the wrong directory must never delete or alter someone's files.
//!
//! Durability: [`StateDir::append`] returns only once the event is committed to disk, so a
//! caller acknowledges an event only after `append` returned. A restart restores the newest
//! valid checkpoint ([`StateDir::newest_valid_checkpoint`]) and replays the events after it
//! ([`StateDir::events_after`]). Checkpoints are written to a temporary file, synced, renamed
//! over and the directory synced, so a checkpoint file is either complete or absent; several
//! generations are kept, and a corrupt or truncated newest one falls back to the previous one.
//! The store treats events, the genesis and checkpoints as opaque bytes.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tradeloop_core::CheckpointError;
use tradeloop_core::checkpoint;

/// The journal schema version this build writes and reads. Schema 2: `meta` (`schema`,
/// `genesis`), `events` and `requests`; the genesis and every event are records of
/// event-log format 1 ([`tradeloop_core::event_log`]). Schema 1 (no `requests` table; the
/// same record bytes) is upgraded in place when opened.
pub const JOURNAL_SCHEMA: i64 = 2;
/// The event-log format of a schema-2 journal's records.
pub const EVENT_FORMAT: u16 = 1;
/// Name of the lock file.
pub const LOCK_FILE: &str = "LOCK";
/// Name of the journal database.
pub const JOURNAL_FILE: &str = "journal.sqlite";

/// Side files SQLite may keep next to the journal.
const JOURNAL_SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];
const CKPT_PREFIX: &str = "ckpt-";
const CKPT_SUFFIX: &str = ".tlc";
const TMP_SUFFIX: &str = ".tmp";

/// What [`StateDir::newest_valid_checkpoint`] found: the checkpoint to restore as
/// `(seq, bytes)` (`None`: start from the genesis and replay the whole journal), and a
/// warning for each newer checkpoint that was skipped.
pub type CheckpointChoice = (Option<(u64, Vec<u8>)>, Vec<String>);

/// Everything that can go wrong with a state directory.
#[derive(Debug)]
pub enum StoreError {
    /// The directory does not exist (and was not to be created).
    Missing(PathBuf),
    /// The directory holds no state: no journal (and none was to be created), or a journal
    /// without a genesis.
    NoState(PathBuf),
    /// The path exists but is not a directory.
    NotADirectory(PathBuf),
    /// Another process (or another `StateDir` in this one) held the directory's lock for
    /// as long as the caller would wait.
    Locked {
        /// The state directory.
        dir: PathBuf,
        /// How long the caller waited.
        waited: Duration,
    },
    /// The directory cannot be written (a read-only file system, or no permission); nothing
    /// was changed.
    ReadOnly {
        /// The state directory.
        dir: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// The directory holds files this store did not make; it is left untouched.
    Foreign {
        /// The directory.
        dir: PathBuf,
        /// The names of the unexpected entries, sorted.
        files: Vec<String>,
    },
    /// A file-system operation failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A journal operation failed.
    Sqlite {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The journal was written by a newer tradeloop (its schema is newer than this build's);
    /// it was not modified.
    NewerJournal {
        /// The journal file.
        path: PathBuf,
        /// Schema version in the journal.
        found: i64,
        /// Newest schema version this build reads.
        supported: i64,
    },
    /// A checkpoint was written by a newer tradeloop (its payload schema is newer than this
    /// build's). Its checksum is valid, so it is not corrupt: falling back to an older one
    /// would silently downgrade the state, so the store refuses instead.
    NewerCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Payload schema in the file.
        found: u16,
        /// Newest payload schema this build reads.
        supported: u16,
    },
    /// [`StateDir::set_genesis`] was called on a journal that already has a genesis.
    GenesisAlreadySet(PathBuf),
    /// [`StateDir::write_checkpoint`] was given bytes that are not a valid checkpoint.
    RejectedCheckpoint {
        /// The sequence number the checkpoint was to cover.
        seq: u64,
        /// Why `checkpoint::open` rejected the bytes.
        error: CheckpointError,
    },
    /// [`StateDir::write_checkpoint`] was asked for a checkpoint covering events the journal
    /// does not have.
    CheckpointAhead {
        /// The sequence number the checkpoint was to cover.
        seq: u64,
        /// The journal's last sequence number.
        last_seq: u64,
    },
    /// The journal has an older schema whose records this build cannot read; it was left
    /// unchanged.
    OldJournal {
        /// The journal file.
        path: PathBuf,
        /// Schema version in the journal.
        found: i64,
        /// Why it cannot be upgraded.
        why: String,
    },
    /// A request id was used before for a different command.
    RequestIdReused {
        /// The id.
        id: String,
        /// The event it was first used for.
        seq: u64,
    },
    /// The state directory is inconsistent; the text says how.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Missing(p) => write!(f, "state directory {} does not exist", p.display()),
            StoreError::NoState(p) => write!(
                f,
                "{} holds no tradeloop state (create one with `tradeloop init` or `tradeloop paper`)",
                p.display()
            ),
            StoreError::NotADirectory(p) => write!(f, "{} is not a directory", p.display()),
            StoreError::Locked { dir, waited } if waited.is_zero() => write!(
                f,
                "state directory {} is in use by another tradeloop process (lock held)",
                dir.display()
            ),
            StoreError::Locked { dir, waited } => write!(
                f,
                "state directory {} is in use by another tradeloop process (lock still held \
                 after waiting {:.1} s; --wait SECS waits longer)",
                dir.display(),
                waited.as_secs_f64()
            ),
            StoreError::Foreign { dir, files } => write!(
                f,
                "{} is not a tradeloop state directory (it holds files tradeloop did not make: \
                 {}); refusing to touch it",
                dir.display(),
                files.join(", ")
            ),
            StoreError::ReadOnly { dir, source } => write!(
                f,
                "state directory {} is not writable ({source}); tradeloop writes its lock, \
                 journal and checkpoints there, so every command needs write access",
                dir.display()
            ),
            StoreError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::Sqlite { path, source } => {
                write!(f, "journal {}: {source}", path.display())?;
                let io = matches!(
                    source.sqlite_error_code(),
                    Some(
                        rusqlite::ErrorCode::DiskFull
                            | rusqlite::ErrorCode::SystemIoFailure
                            | rusqlite::ErrorCode::ReadOnly
                    )
                );
                if io {
                    f.write_str(
                        " (the disk may be full, a file-size limit reached, or the directory \
                         read-only; nothing unacknowledged was kept, and everything acknowledged \
                         is safe)",
                    )?;
                }
                Ok(())
            }
            StoreError::NewerJournal {
                path,
                found,
                supported,
            } => write!(
                f,
                "journal {} has schema {found}, written by a newer tradeloop (this build reads \
                 up to {supported}); it was left unchanged",
                path.display()
            ),
            StoreError::NewerCheckpoint {
                path,
                found,
                supported,
            } => write!(
                f,
                "checkpoint {} has schema {found}, written by a newer tradeloop (this build \
                 reads up to {supported}); refusing to fall back to an older checkpoint",
                path.display()
            ),
            StoreError::GenesisAlreadySet(p) => {
                write!(f, "journal {} already has a genesis", p.display())
            }
            StoreError::RejectedCheckpoint { seq, error } => {
                write!(f, "refusing to write checkpoint {seq}: {error}")
            }
            StoreError::CheckpointAhead { seq, last_seq } => write!(
                f,
                "refusing to write checkpoint {seq}: the journal ends at event {last_seq}"
            ),
            StoreError::OldJournal { path, found, why } => write!(
                f,
                "journal {} has schema {found}, which this build cannot upgrade ({why}); it was \
                 left unchanged. Open it with the tradeloop that wrote it, run `tradeloop \
                 export FILE`, then `tradeloop import FILE` into a new directory with this one",
                path.display()
            ),
            StoreError::RequestIdReused { id, seq } => write!(
                f,
                "request id {id:?} was already used for event {seq}, a different command; \
                 use a new id for a new command"
            ),
            StoreError::Corrupt(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } | StoreError::ReadOnly { source, .. } => Some(source),
            StoreError::Sqlite { source, .. } => Some(source),
            StoreError::RejectedCheckpoint { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// An open, locked state directory. The lock is held until this value is dropped.
#[derive(Debug)]
pub struct StateDir {
    // Field order matters: the connection is dropped (closing the WAL cleanly) before the lock
    // is released.
    conn: Connection,
    journal: PathBuf,
    dir: PathBuf,
    last_seq: u64,
    _lock: File,
}

/// What a directory entry is to this store.
enum Entry {
    /// `LOCK`, the journal or one of its side files.
    Ours,
    /// A checkpoint file with its sequence number.
    Checkpoint(u64),
    /// A checkpoint left half-written by an interrupted process.
    Tmp,
}

fn classify(name: &str) -> Option<Entry> {
    if name == LOCK_FILE || name == JOURNAL_FILE {
        return Some(Entry::Ours);
    }
    if let Some(side) = name.strip_prefix(JOURNAL_FILE)
        && JOURNAL_SIDE_FILES.contains(&side)
    {
        return Some(Entry::Ours);
    }
    if let Some(ckpt) = name.strip_suffix(TMP_SUFFIX) {
        return checkpoint_seq(ckpt).map(|_| Entry::Tmp);
    }
    checkpoint_seq(name).map(Entry::Checkpoint)
}

/// The sequence number in a `ckpt-<20 digits>.tlc` name.
fn checkpoint_seq(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(CKPT_PREFIX)?.strip_suffix(CKPT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn checkpoint_name(seq: u64) -> String {
    format!("{CKPT_PREFIX}{seq:020}{CKPT_SUFFIX}")
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a directory's entries (creations, renames, deletions) durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Writes `bytes` to `path` so that the file is either complete or absent, even after a
/// crash: a temporary file beside it is written and synced, then renamed over `path`, then the
/// directory is synced. An existing file at `path` is replaced.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    let written = File::create(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(io_err(&tmp));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path)(e));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    sync_dir(dir)
}

/// Directories cannot be opened as files here; renames are as durable as the platform makes
/// them.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}

/// The entries of a directory.
struct Listing {
    /// Entries this store made, by name, with their kind.
    ours: Vec<(String, Entry)>,
    /// Names of everything else, sorted.
    foreign: Vec<String>,
}

/// The entries of `dir` sorted into ours (with their kind) and foreign names.
fn scan(dir: &Path) -> Result<Listing, StoreError> {
    let mut ours = Vec::new();
    let mut foreign = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            foreign.push(name.to_string_lossy().into_owned());
            continue;
        };
        // Not following symlinks: only plain files are ours.
        let is_file = entry.file_type().map_err(io_err(&entry.path()))?.is_file();
        match classify(name) {
            Some(kind) if is_file => ours.push((name.to_owned(), kind)),
            _ => foreign.push(name.to_owned()),
        }
    }
    foreign.sort();
    Ok(Listing { ours, foreign })
}

impl StateDir {
    /// Opens and locks the directory. With `create`, a missing directory is created and an
    /// empty one becomes a new state; without it, the directory must already hold a state
    /// ([`StoreError::Missing`], [`StoreError::NoState`], and then nothing is created).
    ///
    /// Allowed contents: `LOCK`, `journal.sqlite` (with SQLite's `-wal`, `-shm` and
    /// `-journal` side files), `ckpt-<20-digit seq>.tlc`, and `ckpt-<20-digit seq>.tlc.tmp`
    /// left over from an interrupted checkpoint write (deleted once the lock is held).
    /// Anything else (including other `*.tmp` names and subdirectories) is
    /// [`StoreError::Foreign`], and then nothing is created or deleted.
    ///
    /// Also refused: a journal with a newer schema ([`StoreError::NewerJournal`], the file is
    /// not modified), a SQLite file that is not a tradeloop journal, and checkpoints without
    /// a journal ([`StoreError::Corrupt`]: the events after them would be lost).
    pub fn open(dir: &Path, create: bool) -> Result<Self, StoreError> {
        Self::open_waiting(dir, create, Duration::ZERO)
    }

    /// [`StateDir::open`], waiting up to `wait` for another process to release the lock
    /// before answering [`StoreError::Locked`] (zero: fail at once). It polls, every
    /// millisecond at first and every 20 ms at most.
    pub fn open_waiting(dir: &Path, create: bool, wait: Duration) -> Result<Self, StoreError> {
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(StoreError::NotADirectory(dir.to_path_buf())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Err(StoreError::Missing(dir.to_path_buf()));
                }
                // Every directory created gets a durable entry in its parent.
                let parent_of = |p: &Path| match p.parent() {
                    Some(q) if !q.as_os_str().is_empty() => q.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                let mut created = vec![dir.to_path_buf()];
                while let Some(p) = created.last().map(|p| parent_of(p))
                    && !p.exists()
                    && p != Path::new(".")
                {
                    created.push(p);
                }
                fs::create_dir_all(dir).map_err(io_err(dir))?;
                for p in created.iter().rev() {
                    sync_dir(&parent_of(p))?;
                }
            }
            Err(e) => return Err(io_err(dir)(e)),
        }

        // Refuse foreign directories, and directories without a state when none is to be
        // created, before creating anything in them (not even the lock).
        let Listing { ours, foreign } = scan(dir)?;
        if !foreign.is_empty() {
            return Err(StoreError::Foreign {
                dir: dir.to_path_buf(),
                files: foreign,
            });
        }
        let holds_state = ours
            .iter()
            .any(|(n, k)| n == JOURNAL_FILE || matches!(k, Entry::Checkpoint(_)));
        if !create && !holds_state {
            return Err(StoreError::NoState(dir.to_path_buf()));
        }

        let lock_path = dir.join(LOCK_FILE);
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                    StoreError::ReadOnly {
                        dir: dir.to_path_buf(),
                        source: e,
                    }
                }
                _ => io_err(&lock_path)(e),
            })?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(
                        pause.min(deadline.saturating_duration_since(Instant::now())),
                    );
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Locked {
                        dir: dir.to_path_buf(),
                        waited: wait,
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
            }
        }

        // Under the lock nobody else writes here any more. Scan again: the directory may have
        // changed between the first scan and taking the lock.
        let Listing {
            ours: entries,
            foreign,
        } = scan(dir)?;
        if !foreign.is_empty() {
            return Err(StoreError::Foreign {
                dir: dir.to_path_buf(),
                files: foreign,
            });
        }
        let journal = dir.join(JOURNAL_FILE);
        let has_checkpoints = entries
            .iter()
            .any(|(_, k)| matches!(k, Entry::Checkpoint(_)));
        let journal_exists = entries.iter().any(|(n, _)| n == JOURNAL_FILE);
        if has_checkpoints && !journal_exists {
            return Err(missing_journal(dir));
        }

        let (conn, last_seq) = open_journal(&journal, has_checkpoints, dir)?;

        let mut removed = false;
        for (name, kind) in &entries {
            if matches!(kind, Entry::Tmp) {
                let path = dir.join(name);
                match fs::remove_file(&path) {
                    Ok(()) => removed = true,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&path)(e)),
                }
            }
        }
        // A new journal or lock file, or removed temporaries: make the directory durable.
        if removed || !journal_exists {
            sync_dir(dir)?;
        }

        Ok(Self {
            conn,
            journal,
            dir: dir.to_path_buf(),
            last_seq,
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn sql(&self) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.journal.clone(),
            source,
        }
    }

    /// The genesis request (set once, when the state is created), or `None` before that.
    pub fn genesis(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()
            .map_err(self.sql())
    }

    /// Records the genesis request, durably. Fails with [`StoreError::GenesisAlreadySet`]
    /// (changing nothing) if the journal already has one.
    pub fn set_genesis(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let changed = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('genesis', ?1)",
                params![bytes],
            )
            .map_err(self.sql())?;
        if changed == 0 {
            return Err(StoreError::GenesisAlreadySet(self.journal.clone()));
        }
        Ok(())
    }

    /// Appends one event and returns its sequence number (1, 2, ...). When this returns `Ok`
    /// the event is committed durably: it survives `kill -9` and power loss (see
    /// `open_journal` for the journal mode).
    pub fn append(&mut self, now: i64, event: &[u8]) -> Result<u64, StoreError> {
        self.append_request(now, event, None)
    }

    /// [`StateDir::append`], and with `request = Some((id, reply))` the request id and the
    /// reply given for it, in the same transaction: either both are committed or neither.
    /// An id already in the journal is refused ([`StoreError::Sqlite`], constraint): look it
    /// up first with [`StateDir::request`].
    pub fn append_request(
        &mut self,
        now: i64,
        event: &[u8],
        request: Option<(&str, &str)>,
    ) -> Result<u64, StoreError> {
        let seq = self.last_seq + 1;
        let seq_sql = i64::try_from(seq).map_err(|_| {
            StoreError::Corrupt(format!("journal {} is full", self.journal.display()))
        })?;
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: self.journal.clone(),
                source,
            })?;
        let written = tx
            .prepare_cached("INSERT INTO events (seq, now, event) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![seq_sql, now, event]))
            .and_then(|_| match request {
                Some((id, reply)) => tx
                    .prepare_cached("INSERT INTO requests (id, seq, reply) VALUES (?1, ?2, ?3)")
                    .and_then(|mut s| s.execute(params![id, seq_sql, reply])),
                None => Ok(0),
            })
            // One transaction = one synced WAL commit.
            .and_then(|_| tx.commit());
        written.map_err(|source| StoreError::Sqlite {
            path: self.journal.clone(),
            source,
        })?;
        self.last_seq = seq;
        Ok(seq)
    }

    /// The event a request id was recorded with, and the reply given: `(seq, event bytes,
    /// reply)`, or `None` for an id never used.
    pub fn request(&self, id: &str) -> Result<Option<(u64, Vec<u8>, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT r.seq, e.event, r.reply FROM requests r JOIN events e ON e.seq = r.seq \
                 WHERE r.id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()
            .map_err(self.sql())
            .map(|found| found.map(|(seq, event, reply)| (seq as u64, event, reply)))
    }

    /// The sequence number of the last event, 0 when there is none.
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.last_seq)
    }

    /// Events with `seq > after`, in order: `(seq, now, bytes)`.
    pub fn events_after(&self, after: u64) -> Result<Vec<(u64, i64, Vec<u8>)>, StoreError> {
        let Ok(after) = i64::try_from(after) else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, now, event FROM events WHERE seq > ?1 ORDER BY seq")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([after], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, now, event) = row.map_err(self.sql())?;
            // `seq > after >= 0`, so the conversion cannot fail.
            out.push((seq.unsigned_abs(), now, event));
        }
        Ok(out)
    }

    /// The number of events in the journal.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .map_err(self.sql())?;
        Ok(n.unsigned_abs())
    }

    /// Writes a checkpoint covering events up to `seq` atomically: a temporary file in the
    /// same directory, written and synced, renamed to `ckpt-<seq>.tlc` and the directory
    /// synced. Then deletes all but the newest `keep` generations (`keep` 0 counts as 1). The
    /// checkpoint just written always survives pruning, even if older-numbered than others.
    ///
    /// Refuses bytes that `checkpoint::open` rejects ([`StoreError::RejectedCheckpoint`]) and
    /// a `seq` beyond the journal's last event ([`StoreError::CheckpointAhead`]); nothing is
    /// written then. If pruning fails the error is returned, but the new checkpoint is already
    /// durable.
    pub fn write_checkpoint(
        &mut self,
        seq: u64,
        bytes: &[u8],
        keep: usize,
    ) -> Result<PathBuf, StoreError> {
        checkpoint::open(bytes).map_err(|error| StoreError::RejectedCheckpoint { seq, error })?;
        if seq > self.last_seq {
            return Err(StoreError::CheckpointAhead {
                seq,
                last_seq: self.last_seq,
            });
        }
        let path = self.dir.join(checkpoint_name(seq));
        write_file_atomically(&path, bytes)?;

        // Prune. Deletions need no directory sync: one that is lost in a crash only leaves
        // an extra old generation behind.
        let keep = keep.max(1);
        let older = self.checkpoints()?.into_iter().filter(|&(s, _)| s != seq);
        for (_, old) in older.skip(keep - 1) {
            match fs::remove_file(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&old)(e)),
            }
        }
        Ok(path)
    }

    /// Checkpoint files, newest (highest seq) first.
    pub fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let mut out: Vec<(u64, PathBuf)> = scan(&self.dir)?
            .ours
            .into_iter()
            .filter_map(|(name, kind)| match kind {
                Entry::Checkpoint(seq) => Some((seq, self.dir.join(name))),
                _ => None,
            })
            .collect();
        out.sort_by_key(|&(seq, _)| std::cmp::Reverse(seq));
        Ok(out)
    }

    /// The newest checkpoint that passes `checkpoint::open` and the caller's `accept` (which
    /// restores it for real), as `(seq, bytes)`, with a warning for each newer one skipped
    /// (e.g. "checkpoint ckpt-…0042.tlc is corrupt (checksum mismatch): falling back to
    /// ckpt-…0040.tlc"). `None` if no checkpoint is usable: the caller starts from the genesis
    /// and replays the whole journal.
    ///
    /// Skipped: unreadable, truncated, corrupt or foreign files, an unknown envelope format
    /// (it is read before the checksum, so it may be corruption), files `accept` rejects, and
    /// checkpoints beyond the journal's last event (they cannot belong to this journal). A
    /// checkpoint with a valid checksum but a newer payload schema is an error instead
    /// ([`StoreError::NewerCheckpoint`]): it was written by a newer tradeloop.
    pub fn newest_valid_checkpoint(
        &self,
        mut accept: impl FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<CheckpointChoice, StoreError> {
        let all = self.checkpoints()?;
        let mut warnings = Vec::new();
        for (i, (seq, path)) in all.iter().enumerate() {
            let problem = if *seq > self.last_seq {
                format!(
                    "covers events up to {seq}, but the journal ends at event {}, so it does \
                     not belong to this journal",
                    self.last_seq
                )
            } else {
                match fs::read(path) {
                    Err(e) => format!("cannot be read ({e})"),
                    Ok(bytes) => match checkpoint::open(&bytes) {
                        Err(CheckpointError::FutureSchema { found, supported }) => {
                            return Err(StoreError::NewerCheckpoint {
                                path: path.clone(),
                                found,
                                supported,
                            });
                        }
                        Err(e) => describe(&e),
                        Ok(_) => match accept(&bytes) {
                            Ok(()) => return Ok((Some((*seq, bytes)), warnings)),
                            Err(why) => format!("could not be restored ({why})"),
                        },
                    },
                }
            };
            let next = match all.get(i + 1) {
                Some((_, p)) => format!("falling back to {}", file_name(p)),
                None => "no older checkpoint is left: starting from the genesis and replaying \
                         the whole journal"
                    .to_owned(),
            };
            warnings.push(format!("checkpoint {} {problem}: {next}", file_name(path)));
        }
        Ok((None, warnings))
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Why a checkpoint file was skipped, as a phrase after "checkpoint <name>".
fn describe(e: &CheckpointError) -> String {
    match e {
        CheckpointError::Truncated { needed, got } => {
            format!("is truncated ({got} bytes, {needed} expected)")
        }
        CheckpointError::Foreign => "is not a tradeloop checkpoint (bad magic)".to_owned(),
        CheckpointError::UnsupportedFormat(v) => format!(
            "has envelope format {v}, which this build cannot read (corrupt, or written by a \
             newer tradeloop)"
        ),
        CheckpointError::TrailingBytes(n) => {
            format!("is corrupt ({n} unexpected bytes after the payload)")
        }
        CheckpointError::ChecksumMismatch => "is corrupt (checksum mismatch)".to_owned(),
        other => format!("is corrupt ({other})"),
    }
}

fn missing_journal(dir: &Path) -> StoreError {
    StoreError::Corrupt(format!(
        "state directory {} holds checkpoints but no journal ({JOURNAL_FILE}): the events \
         after them and the genesis are lost; refusing to start a new journal there",
        dir.display()
    ))
}

/// Opens (creating if needed) and checks the journal; returns it with its last sequence
/// number.
///
/// Journal mode: WAL with `synchronous=FULL`. Each commit appends to the WAL and fsyncs it
/// once, so a committed event survives both `kill -9` and power loss, and SQLite itself
/// fsyncs the directory when it creates the WAL file. The alternative, `journal_mode=DELETE`
/// with `synchronous=FULL`, costs several fsyncs per commit and is not even fully durable:
/// the commit point is the deletion of the rollback journal, which SQLite only makes durable
/// (by syncing the directory) with `synchronous=EXTRA`; after a power loss the journal could
/// reappear and roll back an acknowledged event.
///
/// A schema-1 journal is upgraded to schema 2 in one transaction, after every record in it
/// was read as event-log format 1 ([`upgrade_from_1`]).
///
/// The schema version is read before anything is written (in particular before switching
/// to WAL, which would rewrite the header), so a newer journal is left byte-for-byte as it
/// was.
fn open_journal(
    path: &Path,
    has_checkpoints: bool,
    dir: &Path,
) -> Result<(Connection, u64), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let conn = Connection::open(path).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(sql)?;

    let tables: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sql)?;
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'meta')",
            [],
            |r| r.get(0),
        )
        .map_err(sql)?;
    let mut upgrade = false;
    let not_ours = || {
        StoreError::Corrupt(format!(
            "{} is a SQLite database but not a tradeloop journal",
            path.display()
        ))
    };
    if has_meta {
        let version: Option<rusqlite::types::Value> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        match version {
            Some(rusqlite::types::Value::Integer(v)) if v == JOURNAL_SCHEMA => {}
            Some(rusqlite::types::Value::Integer(1)) => upgrade = true,
            Some(rusqlite::types::Value::Integer(v)) if v > JOURNAL_SCHEMA => {
                return Err(StoreError::NewerJournal {
                    path: path.to_path_buf(),
                    found: v,
                    supported: JOURNAL_SCHEMA,
                });
            }
            _ => return Err(not_ours()),
        }
    } else if tables != 0 {
        return Err(not_ours());
    } else if has_checkpoints {
        // An empty journal next to checkpoints: the real one was lost or replaced.
        return Err(missing_journal(dir));
    }

    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt(format!(
            "journal {}: SQLite cannot use write-ahead logging here (journal mode stays \
             {mode}); the file system may not support it",
            path.display()
        )));
    }

    if !has_meta {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;
             CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value);
             CREATE TABLE events (
                 seq INTEGER PRIMARY KEY,
                 now INTEGER NOT NULL,
                 event BLOB NOT NULL
             );
             {REQUESTS_TABLE}
             INSERT INTO meta (key, value) VALUES ('schema', {JOURNAL_SCHEMA});
             COMMIT;"
        ))
        .map_err(sql)?;
    }
    if upgrade {
        upgrade_from_1(&conn, path)?;
    }

    let last: i64 = conn
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
        .map_err(sql)?;
    let last = u64::try_from(last).map_err(|_| {
        StoreError::Corrupt(format!(
            "journal {} has a negative event sequence number",
            path.display()
        ))
    })?;
    Ok((conn, last))
}

/// The `requests` table of schema 2: the request ids of `record entry` / `record exit
/// --request-id`, each with the event it made and the reply it got.
const REQUESTS_TABLE: &str = "CREATE TABLE requests (
                 id TEXT PRIMARY KEY NOT NULL,
                 seq INTEGER NOT NULL REFERENCES events (seq),
                 reply TEXT NOT NULL
             );";

/// Schema 1 to 2: the records are the same bytes (event-log format 1 was frozen from
/// schema 1's layout), so the upgrade reads every record to prove it, then adds the
/// `requests` table and sets the schema, in one transaction. A record that does not read
/// leaves the journal unchanged ([`StoreError::OldJournal`]).
fn upgrade_from_1(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    use tradeloop_core::event_log;
    let sql = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let old = |why: String| StoreError::OldJournal {
        path: path.to_path_buf(),
        found: 1,
        why,
    };
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
    let checked = (|| {
        let genesis: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE key = 'genesis'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql)?;
        if let Some(g) = genesis {
            event_log::decode_genesis(EVENT_FORMAT, &g)
                .map_err(|e| old(format!("its genesis: {e}")))?;
        }
        let mut stmt = conn
            .prepare("SELECT seq, event FROM events ORDER BY seq")
            .map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        while let Some(row) = rows.next().map_err(sql)? {
            let seq: i64 = row.get(0).map_err(sql)?;
            let bytes: Vec<u8> = row.get(1).map_err(sql)?;
            event_log::decode_event(EVENT_FORMAT, &bytes)
                .map_err(|e| old(format!("event {seq}: {e}")))?;
        }
        conn.execute_batch(&format!(
            "{REQUESTS_TABLE}
             UPDATE meta SET value = {JOURNAL_SCHEMA} WHERE key = 'schema';"
        ))
        .map_err(sql)
    })();
    match checked {
        Ok(()) => conn.execute_batch("COMMIT").map_err(sql),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

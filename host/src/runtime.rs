//! The engine as the host runs it: the plugin in wasmtime, every accepted state-changing
//! command committed to the journal before it is acknowledged, checkpoints every
//! `checkpoint_every` events, and recovery (newest valid checkpoint + the journal's later
//! events) at start-up and after a plugin trap.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use tradeloop_core::abi::{Request, Response};
use tradeloop_core::event_log::{self, Genesis};
use tradeloop_core::{Apply, Command, Error, Reply};

use crate::plugin::{Plugin, PluginError, RankFn};
use crate::settings::Settings;
use crate::store::{EVENT_FORMAT, StateDir, StoreError};

/// A state directory with its engine running in the plugin.
pub struct Runtime {
    store: StateDir,
    plugin: Plugin,
    settings: Settings,
    /// Events journalled since the last checkpoint.
    since_checkpoint: u64,
    warnings: Vec<String>,
    /// What the plugin's `rank` import runs; kept across plugin rebuilds.
    ranker: Option<RankFn>,
    /// Why the runtime refuses every command: the plugin could not be brought back to the
    /// journal's state.
    stopped: Option<String>,
}

/// Whether a command changes the engine (and so is journalled).
pub fn changes_state(c: &Command) -> bool {
    !matches!(c, Command::Query(_) | Command::Suggest(_))
}

impl Runtime {
    /// Opens the state in `dir`. `create`: the creation time of a new state (ms since the
    /// Unix epoch) if the directory may be created or is empty; `None` requires an existing
    /// state.
    pub fn open(dir: &Path, settings: Settings, create: Option<i64>) -> anyhow::Result<Self> {
        settings.validate()?;
        let mut store = StateDir::open_waiting(dir, create.is_some(), settings.lock_wait())?;
        let genesis = store.genesis()?;
        if genesis.is_none() {
            let Some(now) = create else {
                return Err(StoreError::NoState(dir.to_path_buf()).into());
            };
            store.set_genesis(&event_log::encode_genesis(&Genesis::Create {
                config: Box::new(settings.engine.clone()),
                seed: settings.seed,
                now,
            }))?;
        }
        Self::start(store, settings)
    }

    /// Creates a new state in `dir` (which must not exist or be empty) whose engine starts
    /// from the checkpoint `bytes`: a checkpoint exported by a browser tab
    /// (`Engine.snapshot()` of `tradeloop-wasm`), by `tradeloop export` or found in another
    /// state directory. The bytes are validated before anything is created; the state's
    /// genesis is the restore, so the journal replays from it, and a first checkpoint is
    /// written at once.
    pub fn import(dir: &Path, settings: Settings, bytes: &[u8]) -> anyhow::Result<Self> {
        settings.validate()?;
        tradeloop_core::Engine::restore(bytes).context("not a usable tradeloop checkpoint")?;
        let mut store = StateDir::open_waiting(dir, true, settings.lock_wait())?;
        if store.genesis()?.is_some() {
            bail!(
                "{} already holds a tradeloop state; import into a new directory",
                dir.display()
            );
        }
        store.set_genesis(&event_log::encode_genesis(&Genesis::Restore(
            bytes.to_vec(),
        )))?;
        let mut rt = Self::start(store, settings)?;
        rt.checkpoint()?;
        Ok(rt)
    }

    /// Starts the plugin on a store that has a genesis and recovers its engine.
    fn start(store: StateDir, settings: Settings) -> anyhow::Result<Self> {
        let plugin = Plugin::embedded(settings.limits())?;
        let mut rt = Runtime {
            store,
            plugin,
            settings,
            since_checkpoint: 0,
            warnings: Vec::new(),
            ranker: None,
            stopped: None,
        };
        rt.recover()?;
        Ok(rt)
    }

    /// Replaces the plugin (after a trap, or when it ran ahead of the journal) and recovers.
    fn rebuild(&mut self) -> anyhow::Result<()> {
        self.plugin = Plugin::embedded(self.settings.limits())?;
        self.plugin.set_ranker(self.ranker.clone());
        self.recover()
    }

    /// Gives the engine a ranker for `Command::Rank` (see [`crate::ranker`]). Replaying the
    /// journal never needs one: rankings are journalled with their scores.
    pub fn set_ranker(&mut self, ranker: Option<RankFn>) {
        self.plugin.set_ranker(ranker.clone());
        self.ranker = ranker;
    }

    /// Loads the plugin's engine from the store: the newest valid checkpoint (or the
    /// genesis) plus every later event.
    fn recover(&mut self) -> anyhow::Result<()> {
        let plugin = &mut self.plugin;
        let (found, warnings) = self.store.newest_valid_checkpoint(|bytes| {
            plugin
                .call(&Request::Restore(bytes.to_vec()))
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
        self.warnings.extend(warnings);
        let after = match found {
            Some((seq, _)) => seq,
            None => {
                let genesis = self
                    .store
                    .genesis()?
                    .ok_or_else(|| anyhow!("the journal has no genesis"))?;
                let genesis = event_log::decode_genesis(EVENT_FORMAT, &genesis)
                    .map_err(|e| anyhow!("the state's genesis does not read: {e}"))?;
                self.plugin
                    .call(&genesis.into_request())
                    .map_err(|e| anyhow!("the state's genesis was refused: {e}"))?;
                0
            }
        };
        let events = self.store.events_after(after)?;
        self.since_checkpoint = events.len() as u64;
        for (seq, now, bytes) in events {
            let command = event_log::decode_event(EVENT_FORMAT, &bytes)
                .map_err(|e| anyhow!("journal event {seq} does not read: {e}"))?;
            self.plugin
                .call(&Request::Apply { command, now })
                .with_context(|| format!("journal event {seq} no longer applies"))?;
        }
        Ok(())
    }

    /// Warnings from start-up (checkpoints skipped as corrupt).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The state directory.
    pub fn path(&self) -> &Path {
        self.store.path()
    }

    /// Events in the journal.
    pub fn events(&self) -> anyhow::Result<u64> {
        Ok(self.store.last_seq()?)
    }

    /// Applies `command`. A state-changing command is committed to the journal before this
    /// returns `Ok`; a rejected one changes nothing. A plugin trap or limit is an error for
    /// this command: the engine is rebuilt from the store and the host carries on.
    ///
    /// The commit is the acknowledgement: a checkpoint due after it that fails is a warning
    /// ([`Runtime::take_warnings`]), never an error, because the event is durable and the
    /// next start replays it. If the journal write fails, the plugin (which already applied
    /// the command) is rebuilt from the journal; if even that fails, the runtime stops: this
    /// and every later call return an error.
    pub fn execute(&mut self, command: Command, now: i64) -> Result<Reply, Error> {
        self.apply_and_commit(command, now, None)
    }

    /// [`Runtime::execute`] at most once per `request_id` (1 to 128 printable ASCII
    /// characters, e.g. the bot's order id): the first call journals the command with the
    /// id and its reply in one transaction; a later call with the same id and the same
    /// command applies nothing and gets the recorded reply, with `true` (a repeat). The same
    /// id with a different command is an error.
    pub fn execute_once(
        &mut self,
        command: Command,
        now: i64,
        request_id: &str,
    ) -> Result<(Reply, bool), Error> {
        self.check_running()?;
        if request_id.is_empty()
            || request_id.len() > 128
            || !request_id.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(Error::Host(
                "a request id must be 1 to 128 printable ASCII characters (no spaces)".into(),
            ));
        }
        if !changes_state(&command) {
            return Err(Error::Host(
                "only a command that changes the state takes a request id".into(),
            ));
        }
        let host = |e: StoreError| Error::Host(e.to_string());
        if let Some((seq, event, reply)) = self.store.request(request_id).map_err(host)? {
            let same = event_log::encode_event(&command).is_ok_and(|b| b == event);
            if !same {
                return Err(host(StoreError::RequestIdReused {
                    id: request_id.to_string(),
                    seq,
                }));
            }
            let reply = serde_json::from_str(&reply).map_err(|e| {
                Error::Host(format!(
                    "the reply recorded for request id {request_id:?} (event {seq}) no longer \
                     reads: {e}"
                ))
            })?;
            return Ok((reply, true));
        }
        self.apply_and_commit(command, now, Some(request_id))
            .map(|reply| (reply, false))
    }

    fn check_running(&self) -> Result<(), Error> {
        match &self.stopped {
            Some(why) => Err(Error::Host(format!("the runtime stopped: {why}"))),
            None => Ok(()),
        }
    }

    fn apply_and_commit(
        &mut self,
        command: Command,
        now: i64,
        request_id: Option<&str>,
    ) -> Result<Reply, Error> {
        self.check_running()?;
        let journal = changes_state(&command).then(|| command.clone());
        match self.plugin.call(&Request::Apply { command, now }) {
            Ok(Response::Reply(reply)) => {
                if let Some(command) = journal {
                    self.commit(command, &reply, now, request_id)?;
                }
                Ok(*reply)
            }
            Ok(other) => Err(Error::Host(format!("unexpected plugin answer {other:?}"))),
            Err(PluginError::Rejected(e)) => Err(e),
            Err(e @ (PluginError::Timeout | PluginError::MemoryLimit | PluginError::Trap(_))) => {
                let recovered = self.rebuild();
                Err(Error::Host(match recovered {
                    Ok(()) => format!("plugin stopped: {e}; state reloaded, command not applied"),
                    Err(r) => {
                        let why = format!("plugin stopped: {e}; reloading failed: {r:#}");
                        self.stopped = Some(why.clone());
                        why
                    }
                }))
            }
            Err(e) => Err(Error::Host(e.to_string())),
        }
    }

    /// Journals an applied command (see [`Runtime::execute`] for what a failure does).
    fn commit(
        &mut self,
        command: Command,
        reply: &Reply,
        now: i64,
        request_id: Option<&str>,
    ) -> Result<(), Error> {
        let bytes = match event_log::encode_event(&command.journaled(reply)) {
            Ok(b) => b,
            Err(e) => return self.undo(format!("the event does not encode: {e}")),
        };
        let reply_json = match request_id.map(|_| serde_json::to_string(reply)).transpose() {
            Ok(j) => j,
            Err(e) => return self.undo(format!("the reply does not encode: {e}")),
        };
        let request = request_id.zip(reply_json.as_deref());
        if let Err(e) = self.store.append_request(now, &bytes, request) {
            return self.undo(format!("journal write failed: {e}"));
        }
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.settings.checkpoint_every
            && let Err(e) = self.checkpoint()
        {
            self.warnings.push(format!(
                "the checkpoint after event {} failed (the event is committed; the next \
                 start replays it from the journal): {e:#}",
                self.store.last_seq().unwrap_or(0)
            ));
        }
        Ok(())
    }

    /// The plugin applied a command the journal did not take: go back to the journal's
    /// state, and stop if that is impossible. Always an error for the command.
    fn undo(&mut self, why: String) -> Result<(), Error> {
        match self.rebuild() {
            Ok(()) => Err(Error::Host(format!("{why}; the command was not applied"))),
            Err(r) => {
                let stop = format!(
                    "{why}; reloading the engine from the state directory failed too \
                     ({r:#}), so this process stops taking commands"
                );
                self.stopped = Some(stop.clone());
                Err(Error::Host(stop))
            }
        }
    }

    /// Warnings gathered since the last call (start-up: checkpoints skipped as corrupt;
    /// later: checkpoints that could not be written after a committed event).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// The engine's checkpoint bytes.
    pub fn snapshot(&mut self) -> anyhow::Result<Vec<u8>> {
        match self.plugin.call(&Request::Snapshot)? {
            Response::Snapshot(b) => Ok(b),
            other => bail!("unexpected plugin answer {other:?}"),
        }
    }

    /// Writes a checkpoint of the current state (covering every journalled event).
    pub fn checkpoint(&mut self) -> anyhow::Result<PathBuf> {
        let bytes = self.snapshot()?;
        let seq = self.store.last_seq()?;
        let path = self
            .store
            .write_checkpoint(seq, &bytes, self.settings.keep_checkpoints)?;
        self.since_checkpoint = 0;
        Ok(path)
    }

    /// Checkpoints if anything was journalled since the last one.
    pub fn checkpoint_if_dirty(&mut self) -> anyhow::Result<Option<PathBuf>> {
        if self.since_checkpoint == 0 && !self.store.checkpoints()?.is_empty() {
            return Ok(None);
        }
        self.checkpoint().map(Some)
    }
}

impl Apply for Runtime {
    fn apply(&mut self, command: Command, now: i64) -> Result<Reply, Error> {
        self.execute(command, now)
    }
}

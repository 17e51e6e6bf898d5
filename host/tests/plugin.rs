//! The plugin through real wasmtime: the embedded module against the native engine, hostile
//! request bytes, and hostile modules written in WAT.

use std::collections::BTreeMap;
use std::time::Duration;

use tradeloop_core::abi::{self, ABI_VERSION, Request, Response, Status};
use tradeloop_core::command::{ForecastRequest, Observation};
use tradeloop_core::lifecycle::policy::LearnMode;
use tradeloop_core::ranking::{Candidate, RankOutput, RankRequest, RankScore, Ranker};
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{
    CloseTrade, Command, Engine, EngineConfig, Error, ErrorKind, ExitMode, ExitReason,
    LearnRequest, LevelInput, LevelKind, OpenTrade, Query, Reply, Side, SuggestRequest,
};
use tradeloop_host::plugin::{Limits, Plugin, PluginError};
use tradeloop_host::runtime::Runtime;
use tradeloop_host::settings::Settings;

const FEATURES: u32 = 8;
const T0: i64 = 1_700_000_000_000;

fn config() -> EngineConfig {
    EngineConfig {
        features: FEATURES,
        ..EngineConfig::default()
    }
}

fn embedded() -> Plugin {
    Plugin::embedded(Limits::default()).expect("the embedded plugin loads")
}

fn features(rng: &mut SplitMix64) -> Vec<f32> {
    (0..FEATURES).map(|_| rng.normal() as f32).collect()
}

fn open(price: f64, rng: &mut SplitMix64) -> Command {
    Command::Open(OpenTrade {
        symbol: "SPY".into(),
        side: Side::Long,
        price,
        size: 1.0,
        features: features(rng),
        level: None,
        exits: None,
    })
}

/// A fresh embedded plugin still works and agrees with the native engine (run after every
/// hostile case: the host process must be unharmed).
fn assert_fresh_embedded_works() {
    let mut plugin = embedded();
    let mut native = Engine::new(config(), 5, T0).unwrap();
    plugin.create(config(), 5, T0).unwrap();
    let mut rng = SplitMix64::new(5);
    let command = open(100.0, &mut rng);
    let reply = plugin.apply(command.clone(), T0 + 1).unwrap();
    assert_eq!(reply, native.apply(command, T0 + 1).unwrap());
    assert_eq!(plugin.snapshot().unwrap(), native.snapshot());
}

#[test]
fn snapshot_request_is_the_byte_3() {
    assert_eq!(postcard::to_allocvec(&Request::Snapshot).unwrap(), [0x03]);
    let mut plugin = embedded();
    let (status, text) = plugin.call_raw(&[0x03]).unwrap();
    assert_eq!(status, Status::NoEngine);
    assert_eq!(status as i32, 3);
    assert_eq!(text, b"no engine: send Create or Restore first");
    assert_eq!(plugin.snapshot(), Err(PluginError::NoEngine));
    let apply = Command::Query(Query::Stats);
    assert_eq!(plugin.apply(apply, T0), Err(PluginError::NoEngine));
    // An empty request is a bad request, not a crash.
    let (status, _) = plugin.call_raw(&[]).unwrap();
    assert_eq!(status, Status::BadRequest);
    assert!(matches!(
        plugin.call(&Request::Restore(vec![])),
        Err(PluginError::Rejected(_))
    ));
}

/// The byte sequences quoted in `docs/ABI.md`.
#[test]
fn documented_byte_examples() {
    let enc = |r: &Request| postcard::to_allocvec(r).unwrap();
    let stats = Request::Apply {
        command: Command::Query(Query::Stats),
        now: 1,
    };
    assert_eq!(enc(&stats), [0x02, 0x09, 0x00, 0x02]);
    let close = Request::Apply {
        command: Command::Close(CloseTrade {
            trade_id: 300,
            price: 1.5,
            reason: ExitReason::Target,
        }),
        now: 1_700_000_000_000,
    };
    assert_eq!(
        enc(&close),
        [
            0x02, 0x01, 0xAC, 0x02, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x01, 0x80, 0xA0, 0xAB, 0xFE,
            0xF9, 0x62
        ]
    );
    let restore = enc(&Request::Restore(vec![1, 2, 3]));
    assert_eq!(restore, [0x01, 0x03, 0x01, 0x02, 0x03]);
    assert_eq!(postcard::to_allocvec(&Response::Ready).unwrap(), [0x00]);
    // Variant indices are declaration order (the tables in the spec).
    let command = |c: Command| postcard::to_allocvec(&c).unwrap();
    assert_eq!(command(Command::Promote(2)), [5, 2]);
    assert_eq!(command(Command::Rollback(None)), [6, 0]);
    assert_eq!(command(Command::RunDue), [7]);
    assert_eq!(command(Command::SetExitMode(ExitMode::Deployment)), [8, 1]);
    assert_eq!(command(Command::Query(Query::Due)), [9, 11]);
    assert_eq!(
        command(Command::Query(Query::Audit { limit: 5 })),
        [9, 7, 5]
    );
    let reply = |r: Reply| postcard::to_allocvec(&r).unwrap();
    assert_eq!(reply(Reply::Champion(3)), [5, 3]);
    assert_eq!(reply(Reply::Ran(vec![])), [6, 0]);
    assert_eq!(reply(Reply::ExitMode(ExitMode::Training)), [7, 0]);
    assert_eq!(reply(Reply::Trades(vec![])), [10, 0]);
    assert_eq!(reply(Reply::LevelHistory(vec![])), [11, 0]);
    assert_eq!(reply(Reply::Versions(vec![])), [13, 0]);
    assert_eq!(reply(Reply::Audit(vec![])), [14, 0]);
    assert_eq!(reply(Reply::Trial(None)), [16, 0]);
    assert_eq!(command(Command::Query(Query::Mixture)), [9, 13]);
    assert_eq!(
        command(Command::Forecast(ForecastRequest { features: vec![] })),
        [11, 0]
    );
    assert_eq!(reply(Reply::Due(vec![])), [18, 0]);
    let create = enc(&Request::Create {
        config: Box::new(EngineConfig::default()),
        seed: 42,
        now: 0,
    });
    assert_eq!(
        create[..10],
        [0x00, 0x20, 0xFC, 0xA9, 0xF1, 0xD2, 0x4D, 0x62, 0x50, 0x3F]
    );
    assert_eq!(create[create.len() - 2..], [42, 0], "seed, now");
    assert_eq!(
        postcard::to_allocvec(&EngineConfig::default())
            .unwrap()
            .len(),
        264
    );
    // Trailing bytes after a complete request are ignored by the decoder.
    let mut fresh = embedded();
    assert_eq!(fresh.call_raw(&[0x03, 0xFF]).unwrap().0, Status::NoEngine);

    let mut plugin = embedded();
    assert_eq!(
        plugin.call_raw(&[0x03]).unwrap(),
        (
            Status::NoEngine,
            b"no engine: send Create or Restore first".to_vec()
        )
    );
    // A rejection: the kind and the message, two length-prefixed UTF-8 strings.
    let message = b"checkpoint rejected: truncated: 3 bytes, at least 32 needed";
    let mut rejection = vec![10];
    rejection.extend_from_slice(b"Checkpoint");
    rejection.push(message.len() as u8);
    rejection.extend_from_slice(message);
    assert_eq!(
        plugin.call_raw(&restore).unwrap(),
        (Status::Rejected, rejection)
    );
    let (status, text) = plugin.call_raw(&[0x04]).unwrap();
    assert_eq!(status, Status::BadRequest);
    assert!(text.starts_with(b"request does not decode: "));
    assert_eq!(plugin.take_log().len(), 3, "every failure is logged");

    plugin.create(config(), 1, T0).unwrap();
    let (status, reply) = plugin.call_raw(&enc(&stats)).unwrap();
    assert_eq!((status, &reply[..2]), (Status::Ok, &[0x01, 0x08][..]));
    let (status, snapshot) = plugin.call_raw(&[0x03]).unwrap();
    assert_eq!((status, snapshot[0]), (Status::Ok, 0x02));
    let Ok(Response::Snapshot(checkpoint)) = postcard::from_bytes(&snapshot) else {
        panic!("a Snapshot response")
    };
    let varint = |n: usize| (usize::BITS - n.max(1).leading_zeros()).div_ceil(7) as usize;
    assert_eq!(
        1 + varint(checkpoint.len()) + checkpoint.len(),
        snapshot.len(),
        "tag, varint length, bytes"
    );
    assert!(checkpoint.starts_with(b"TRADLOOP"));
    assert!(plugin.take_log().is_empty());
}

#[test]
fn plugin_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Plugin>();
    check::<PluginError>();
}

#[test]
fn create_apply_snapshot_restore() {
    let mut plugin = embedded();
    plugin.create(config(), 42, T0).unwrap();
    let mut rng = SplitMix64::new(1);
    let Reply::Opened(a) = plugin.apply(open(400.0, &mut rng), T0 + 1_000).unwrap() else {
        panic!("Open answers Opened")
    };
    let Reply::Opened(b) = plugin.apply(open(401.0, &mut rng), T0 + 2_000).unwrap() else {
        panic!("Open answers Opened")
    };
    assert_ne!(a.trade_id, b.trade_id);
    let close = |trade_id, price| {
        Command::Close(CloseTrade {
            trade_id,
            price,
            reason: ExitReason::Target,
        })
    };
    let Reply::Closed(closed) = plugin.apply(close(a.trade_id, 404.0), T0 + 3_000).unwrap() else {
        panic!("Close answers Closed")
    };
    assert_eq!(closed.trade_id, a.trade_id);
    assert!(closed.pnl > 0.0);
    let Reply::Stats(stats) = plugin
        .apply(Command::Query(Query::Stats), T0 + 4_000)
        .unwrap()
    else {
        panic!("Query::Stats answers Stats")
    };
    assert_eq!((stats.opened, stats.open), (2, 1));

    let bytes = plugin.snapshot().unwrap();
    assert_eq!(
        Engine::restore(&bytes).unwrap().snapshot(),
        bytes,
        "the plugin's checkpoint restores natively"
    );
    // Restore into a second plugin; both continue identically.
    let mut other = embedded();
    other.restore(&bytes).unwrap();
    assert_eq!(other.snapshot().unwrap(), bytes);
    let next = close(b.trade_id, 399.0);
    assert_eq!(
        plugin.apply(next.clone(), T0 + 5_000).unwrap(),
        other.apply(next, T0 + 5_000).unwrap()
    );
    assert_eq!(plugin.snapshot().unwrap(), other.snapshot().unwrap());
    // Restoring replaces the current engine.
    plugin.restore(&bytes).unwrap();
    assert_eq!(plugin.snapshot().unwrap(), bytes);
    assert!(
        plugin.take_log().is_empty(),
        "nothing failed, nothing logged"
    );
}

/// A seeded stream of commands of every kind, some of them rejected. Trade ids come from
/// the replies (`opened`), which the parity test checks are identical on both sides.
struct Stream {
    rng: SplitMix64,
    now: i64,
    /// Open trades: id -> entry price.
    open: BTreeMap<u64, f64>,
    /// The last id seen, open or closed.
    last_id: u64,
    /// Features forecast and not observed yet.
    forecasts: Vec<Vec<f32>>,
}

impl Stream {
    fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            now: T0,
            open: BTreeMap::new(),
            last_id: 0,
            forecasts: Vec::new(),
        }
    }

    fn side(&mut self) -> Side {
        if self.rng.chance(0.5) {
            Side::Long
        } else {
            Side::Short
        }
    }

    fn level(&mut self, price: f64) -> LevelInput {
        let below = self.rng.chance(0.5);
        LevelInput {
            price: price * if below { 0.99 } else { 1.01 },
            kind: if below {
                LevelKind::Support
            } else {
                LevelKind::Resistance
            },
            features: std::array::from_fn(|_| self.rng.uniform() as f32),
        }
    }

    /// The next command and its time.
    fn next(&mut self) -> (Command, i64) {
        self.now += 1_000 + self.rng.below(600_000) as i64;
        let r = self.rng.below(100);
        let command = match r {
            0..35 => self.open_command(),
            35..65 => match self.pick_open() {
                Some((trade_id, entry)) => {
                    let price = entry * (1.0 + 0.02 * self.rng.normal()).max(0.5);
                    let reason = [
                        ExitReason::Stop,
                        ExitReason::Target,
                        ExitReason::Manual,
                        ExitReason::Timeout,
                    ][self.rng.below(4) as usize];
                    Command::Close(CloseTrade {
                        trade_id,
                        price,
                        reason,
                    })
                }
                None => self.open_command(),
            },
            65..70 => Command::Observe(Observation {
                features: features(&mut self.rng),
                return_pct: 0.01 * self.rng.normal(),
            }),
            // A forecast now, its label later (an Observe of the same features).
            70..73 => {
                let x = features(&mut self.rng);
                self.forecasts.push(x.clone());
                Command::Forecast(ForecastRequest { features: x })
            }
            73..75 => match self.forecasts.pop() {
                Some(x) => Command::Observe(Observation {
                    features: x,
                    return_pct: 0.01 * self.rng.normal(),
                }),
                None => Command::Query(Query::Mixture),
            },
            75..80 => Command::Learn(LearnRequest {
                mode: [
                    LearnMode::Auto,
                    LearnMode::Incremental,
                    LearnMode::Retrain,
                    LearnMode::Eval,
                ][self.rng.below(4) as usize],
            }),
            80..85 => {
                let price = 100.0 * (0.05 * self.rng.normal()).exp();
                let levels = (0..self.rng.below(3)).map(|_| self.level(price)).collect();
                Command::Suggest(SuggestRequest {
                    side: self.side(),
                    price,
                    features: features(&mut self.rng),
                    levels,
                })
            }
            85..90 => Command::Query(match self.rng.below(14) {
                0 => Query::Stats,
                1 => Query::Trade(self.rng.below(self.last_id + 2)),
                2 => Query::OpenTrades,
                3 => Query::ClosedTrades { limit: 5 },
                4 => Query::LevelHistory,
                5 => Query::Config,
                6 => Query::Versions,
                7 => Query::Audit { limit: 5 },
                8 => Query::Monitor { version: None },
                9 => Query::Trial,
                10 => Query::Drift,
                11 => Query::Mixture,
                12 => Query::Accuracy { days: 7 },
                _ => Query::Due,
            }),
            90..93 => Command::RunDue,
            93..95 => Command::SetExitMode(if self.rng.chance(0.5) {
                ExitMode::Training
            } else {
                ExitMode::Deployment
            }),
            95..97 => {
                // Rejected: an unknown trade or a NaN price.
                if self.rng.chance(0.5) {
                    Command::Close(CloseTrade {
                        trade_id: 1 << 40,
                        price: 100.0,
                        reason: ExitReason::Manual,
                    })
                } else {
                    let mut c = self.open_command();
                    if let Command::Open(o) = &mut c {
                        o.price = f64::NAN;
                    }
                    c
                }
            }
            97 => Command::Promote(self.rng.below(4) as u32),
            _ => Command::Rollback(None),
        };
        (command, self.now)
    }

    fn open_command(&mut self) -> Command {
        let side = self.side();
        let price = 100.0 * (0.05 * self.rng.normal()).exp();
        let level = self.rng.chance(0.3).then(|| self.level(price));
        let exits = self.rng.chance(0.2).then_some(match side {
            Side::Long => (price * 0.98, price * 1.03),
            Side::Short => (price * 1.02, price * 0.97),
        });
        Command::Open(OpenTrade {
            symbol: ["SPY", "QQQ", "IWM"][self.rng.below(3) as usize].into(),
            side,
            price,
            size: 1.0 + self.rng.below(10) as f64,
            features: features(&mut self.rng),
            level,
            exits,
        })
    }

    fn pick_open(&mut self) -> Option<(u64, f64)> {
        if self.open.is_empty() {
            return None;
        }
        let k = self.rng.below(self.open.len() as u64) as usize;
        self.open.iter().nth(k).map(|(&id, &v)| (id, v))
    }

    /// Tracks open trades from a reply.
    fn observe(&mut self, command: &Command, reply: &Result<Reply, String>) {
        match (command, reply) {
            (Command::Open(o), Ok(Reply::Opened(opened))) => {
                self.open.insert(opened.trade_id, o.price);
                self.last_id = self.last_id.max(opened.trade_id);
            }
            (Command::Close(c), Ok(Reply::Closed(_))) => {
                self.open.remove(&c.trade_id);
            }
            _ => {}
        }
    }
}

/// The plugin's answer in the native engine's terms: a reply or the rejection text.
fn plugin_result(r: Result<Reply, PluginError>) -> Result<Reply, String> {
    match r {
        Ok(reply) => Ok(reply),
        Err(PluginError::Rejected(e)) => Err(e.to_string()),
        Err(e) => panic!("the plugin failed: {e}"),
    }
}

#[test]
fn plugin_matches_native_engine_bit_for_bit() {
    let seed = 0x7ADE_100F;
    let mut native = Engine::new(config(), seed, T0).unwrap();
    let mut plugin = embedded();
    plugin.create(config(), seed, T0).unwrap();
    assert_eq!(plugin.snapshot().unwrap(), native.snapshot());

    let mut stream = Stream::new(seed);
    let (mut rejected, mut learned, mut closed) = (0, 0, 0);
    for i in 1..=400u32 {
        let (command, now) = stream.next();
        let expected = native
            .apply(command.clone(), now)
            .map_err(|e| e.to_string());
        let got = plugin_result(plugin.apply(command.clone(), now));
        assert_eq!(got, expected, "command {i}: {command:?}");
        match &expected {
            Err(_) => rejected += 1,
            Ok(Reply::Learned(_)) => learned += 1,
            Ok(Reply::Closed(_)) => closed += 1,
            Ok(_) => {}
        }
        stream.observe(&command, &expected);
        if i.is_multiple_of(50) {
            assert_eq!(
                plugin.snapshot().unwrap(),
                native.snapshot(),
                "snapshot after command {i}"
            );
        }
    }
    assert!(
        rejected > 0 && learned > 0 && closed > 20,
        "{rejected} {learned} {closed}"
    );

    // Mid-stream hand-over: the native checkpoint restored into a fresh plugin continues
    // exactly like the native engine.
    let mut fresh = embedded();
    fresh.restore(&native.snapshot()).unwrap();
    for i in 0..50 {
        let (command, now) = stream.next();
        let expected = native
            .apply(command.clone(), now)
            .map_err(|e| e.to_string());
        assert_eq!(
            plugin_result(fresh.apply(command.clone(), now)),
            expected,
            "after restore, command {i}: {command:?}"
        );
        stream.observe(&command, &expected);
    }
    assert_eq!(fresh.snapshot().unwrap(), native.snapshot());
}

#[test]
fn rejected_command_keeps_state_and_is_logged() {
    let mut plugin = embedded();
    let mut native = Engine::new(config(), 3, T0).unwrap();
    plugin.create(config(), 3, T0).unwrap();
    let mut rng = SplitMix64::new(3);
    let command = open(100.0, &mut rng);
    assert_eq!(
        plugin.apply(command.clone(), T0 + 1).unwrap(),
        native.apply(command, T0 + 1).unwrap()
    );
    let before = plugin.snapshot().unwrap();
    plugin.take_log();

    let Command::Open(mut nan) = open(1.0, &mut rng) else {
        unreachable!()
    };
    nan.price = f64::NAN;
    let unknown = Command::Close(CloseTrade {
        trade_id: 999_999,
        price: 100.0,
        reason: ExitReason::Manual,
    });
    for command in [Command::Open(nan), unknown] {
        let local = native.apply(command.clone(), T0 + 2).unwrap_err();
        let message = local.to_string();
        let Err(PluginError::Rejected(relayed)) = plugin.apply(command, T0 + 2) else {
            panic!("not rejected")
        };
        assert_eq!(
            (relayed.kind(), relayed.to_string()),
            (local.kind(), message.clone())
        );
        assert_eq!(plugin.snapshot().unwrap(), before, "{message}");
        assert_eq!(plugin.take_log(), vec![(1, message)]);
    }
    assert_eq!(
        plugin.apply(
            Command::Close(CloseTrade {
                trade_id: 999_999,
                price: 1.0,
                reason: ExitReason::Stop
            }),
            T0
        ),
        Err(PluginError::Rejected(tradeloop_core::Error::Relayed {
            kind: tradeloop_core::ErrorKind::UnknownTrade,
            message: "no trade with id 999999 was opened".into()
        }))
    );
    // A bad config and a corrupt checkpoint are rejected too, keeping the engine.
    let bad = EngineConfig {
        features: 0,
        ..EngineConfig::default()
    };
    assert!(matches!(
        plugin.create(bad, 1, T0),
        Err(PluginError::Rejected(m)) if m.to_string().contains("features")
    ));
    let mut corrupt = before.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xFF;
    assert!(
        matches!(plugin.restore(&corrupt), Err(PluginError::Rejected(m)) if m.to_string().contains("checkpoint"))
    );
    assert_eq!(plugin.snapshot().unwrap(), before);
}

#[test]
fn random_request_bytes_answer_like_native_handle() {
    let mut plugin = embedded();
    let mut native = None;
    let mut rng = SplitMix64::new(0xF022);
    let mut ok = 0;
    for n in 0..3000u32 {
        if n == 1000 {
            // From here on there is an engine, so decodable Apply requests can succeed.
            let create = postcard::to_allocvec(&Request::Create {
                config: Box::new(config()),
                seed: 9,
                now: T0,
            })
            .unwrap();
            assert_eq!(plugin.call_raw(&create).unwrap().0, Status::Ok);
            assert_eq!(abi::handle(&mut native, &create).0, Status::Ok);
        }
        let len = if rng.chance(0.05) {
            rng.below(4096)
        } else {
            rng.below(48)
        } as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Mostly a valid request tag, so decoding goes deeper than the first byte.
        if let Some(first) = bytes.first_mut()
            && rng.chance(0.8)
        {
            *first %= 4;
        }
        let got = plugin
            .call_raw(&bytes)
            .unwrap_or_else(|e| panic!("{bytes:?}: {e}"));
        let expected = abi::handle(&mut native, &bytes);
        assert_eq!(got.0, expected.0, "request {n}: {bytes:?}");
        if got.0 == Status::BadRequest {
            // postcard's decode errors name the platform's usize width (32-bit in wasm), so
            // only the prefix is the same.
            let text = String::from_utf8(got.1.clone()).unwrap();
            assert!(text.starts_with("request does not decode: "), "{text}");
        } else {
            assert_eq!(got.1, expected.1, "request {n}: {bytes:?}");
        }
        if got.0 == Status::Ok {
            ok += 1;
            assert!(postcard::from_bytes::<Response>(&got.1).is_ok());
        }
    }
    assert!(ok > 0, "some random requests are valid");
    // The plugin still works and holds the same engine as the native side.
    let snapshot = native.as_ref().map(Engine::snapshot);
    assert_eq!(plugin.snapshot().ok(), snapshot);
    let mut rng = SplitMix64::new(1);
    assert!(matches!(
        plugin.apply(open(50.0, &mut rng), T0 + 1_000_000_000),
        Ok(Reply::Opened(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Hostile modules.

/// A module implementing the ABI shape, with pieces replaced.
struct Wat {
    imports: &'static str,
    memory: &'static str,
    version: i32,
    call: &'static str,
    result_ptr: &'static str,
    result_len: &'static str,
    extra: &'static str,
}

impl Default for Wat {
    fn default() -> Self {
        Self {
            imports: "",
            memory: r#"(memory (export "memory") 1)"#,
            version: ABI_VERSION as i32,
            call: "(i32.const 0)",
            result_ptr: "(i32.const 2048)",
            result_len: "(i32.const 0)",
            extra: "",
        }
    }
}

impl Wat {
    fn text(&self) -> String {
        format!(
            r#"(module
  {imports}
  {memory}
  (func (export "tl_abi_version") (result i32) (i32.const {version}))
  (func (export "tl_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tl_free") (param i32 i32))
  (func (export "tl_call") (param i32 i32) (result i32) {call})
  (func (export "tl_result_ptr") (result i32) {result_ptr})
  (func (export "tl_result_len") (result i32) {result_len})
  {extra}
)"#,
            imports = self.imports,
            memory = self.memory,
            version = self.version,
            call = self.call,
            result_ptr = self.result_ptr,
            result_len = self.result_len,
            extra = self.extra,
        )
    }

    fn load(&self, limits: Limits) -> Result<Plugin, PluginError> {
        Plugin::from_bytes(self.text().as_bytes(), limits)
    }
}

fn short() -> Limits {
    Limits {
        timeout: Duration::from_millis(200),
        memory_bytes: 16 << 20,
    }
}

fn assert_poisoned(plugin: &mut Plugin) {
    assert!(plugin.is_poisoned());
    let poisoned = PluginError::Abi("plugin poisoned by an earlier trap; recreate it".into());
    assert_eq!(plugin.call_raw(&[3]), Err(poisoned.clone()));
    assert_eq!(plugin.call(&Request::Snapshot), Err(poisoned));
}

#[test]
fn a_well_behaved_wat_module_answers() {
    // The template itself: status Ok with an empty result, which does not decode.
    let mut plugin = Wat::default().load(short()).unwrap();
    assert_eq!(plugin.call_raw(&[3]).unwrap(), (Status::Ok, vec![]));
    assert!(matches!(plugin.snapshot(), Err(PluginError::Abi(m)) if m.contains("decode")));
    assert!(!plugin.is_poisoned());
    // A module answering `Ready` to a snapshot request is an ABI error, not a panic.
    let mut ready = Wat {
        extra: r#"(data (i32.const 2048) "\00")"#,
        result_len: "(i32.const 1)",
        ..Wat::default()
    }
    .load(short())
    .unwrap();
    assert_eq!(ready.call(&Request::Snapshot), Ok(Response::Ready));
    assert!(matches!(ready.snapshot(), Err(PluginError::Abi(m)) if m.contains("unexpected")));
}

#[test]
fn endless_loop_times_out() {
    let wat = Wat {
        call: "(loop $l (br $l)) (i32.const 0)",
        ..Wat::default()
    };
    let mut plugin = wat.load(short()).unwrap();
    assert_eq!(plugin.call_raw(&[3]), Err(PluginError::Timeout));
    assert_poisoned(&mut plugin);
    assert_fresh_embedded_works();
}

#[test]
fn looping_start_function_times_out_at_load() {
    let wat = Wat {
        extra: "(func $start (loop $l (br $l))) (start $start)",
        ..Wat::default()
    };
    assert_eq!(wat.load(short()).err(), Some(PluginError::Timeout));
    assert_fresh_embedded_works();
}

#[test]
fn unbounded_memory_growth_hits_the_limit() {
    let wat = Wat {
        call: "(loop $l (drop (memory.grow (i32.const 16))) (br $l)) (i32.const 0)",
        ..Wat::default()
    };
    let mut plugin = wat.load(short()).unwrap();
    assert_eq!(plugin.call_raw(&[3]), Err(PluginError::MemoryLimit));
    assert_poisoned(&mut plugin);
    // Growing within the limit is fine.
    let grow = Wat {
        call: "(drop (memory.grow (i32.const 16))) (i32.const 0)",
        ..Wat::default()
    };
    let mut plugin = grow.load(short()).unwrap();
    assert_eq!(plugin.call_raw(&[3]).unwrap(), (Status::Ok, vec![]));
    // A module whose initial memory is already above the limit does not load.
    let big = Wat {
        memory: r#"(memory (export "memory") 1000)"#,
        ..Wat::default()
    };
    assert_eq!(big.load(short()).err(), Some(PluginError::MemoryLimit));
    assert_fresh_embedded_works();
}

#[test]
fn unreachable_traps() {
    let wat = Wat {
        call: "(unreachable)",
        ..Wat::default()
    };
    let mut plugin = wat.load(short()).unwrap();
    assert!(
        matches!(plugin.call_raw(&[3]), Err(PluginError::Trap(m)) if m.contains("unreachable"))
    );
    assert_poisoned(&mut plugin);
    assert_fresh_embedded_works();
}

#[test]
fn out_of_bounds_buffers_are_abi_errors() {
    for (result_ptr, result_len) in [
        ("(i32.const 0x7fff0000)", "(i32.const 16)"),
        ("(i32.const 65530)", "(i32.const 100)"),
        ("(i32.const 16)", "(i32.const -1)"),
        ("(i32.const -1)", "(i32.const 2)"),
    ] {
        let wat = Wat {
            result_ptr,
            result_len,
            ..Wat::default()
        };
        let mut plugin = wat.load(short()).unwrap();
        assert!(
            matches!(plugin.call_raw(&[3]), Err(PluginError::Abi(m)) if m.contains("outside")),
            "{result_ptr} {result_len}"
        );
        assert!(!plugin.is_poisoned());
    }
    // tl_alloc returning a buffer past the end of memory, or 0.
    for ptr in ["65535", "0"] {
        let text = Wat::default().text().replace(
            "(param i32) (result i32) (i32.const 1024)",
            &format!("(param i32) (result i32) (i32.const {ptr})"),
        );
        let mut plugin = Plugin::from_bytes(text.as_bytes(), short()).unwrap();
        assert!(matches!(plugin.call_raw(&[3, 3]), Err(PluginError::Abi(_))));
    }
    assert_fresh_embedded_works();
}

#[test]
fn unknown_status_is_an_abi_error() {
    let wat = Wat {
        call: "(i32.const 7)",
        ..Wat::default()
    };
    let mut plugin = wat.load(short()).unwrap();
    assert!(matches!(plugin.call_raw(&[3]), Err(PluginError::Abi(m)) if m.contains("status 7")));
}

#[test]
fn foreign_import_is_refused() {
    let wat = Wat {
        imports: r#"(import "env" "something" (func (param i32)))"#,
        ..Wat::default()
    };
    assert!(matches!(wat.load(short()), Err(PluginError::Abi(m)) if m.contains("env.something")));
    // The right name with the wrong type is refused too.
    let mistyped = Wat {
        imports: r#"(import "tradeloop_host" "log" (func (param i32)))"#,
        ..Wat::default()
    };
    assert!(matches!(mistyped.load(short()), Err(PluginError::Abi(_))));
    assert_fresh_embedded_works();
}

#[test]
fn wrong_abi_version_is_refused() {
    let wat = Wat {
        version: ABI_VERSION as i32 + 1,
        ..Wat::default()
    };
    assert!(matches!(wat.load(short()), Err(PluginError::Abi(m)) if m.contains("ABI version")));
    assert_fresh_embedded_works();
}

#[test]
fn missing_or_mistyped_exports_are_refused() {
    let template = Wat::default().text();
    let cases = [
        template.replace(r#"(export "tl_free")"#, ""),
        template.replace(r#"(memory (export "memory") 1)"#, "(memory 1)"),
        template.replace(
            r#"(func (export "tl_result_len") (result i32) (i32.const 0))"#,
            r#"(func (export "tl_result_len") (result i64) (i64.const 0))"#,
        ),
        // tl_abi_version traps.
        template.replace(
            &format!(r#"(result i32) (i32.const {ABI_VERSION}))"#),
            &format!(r#"(result i32) (i32.const {ABI_VERSION}) (unreachable))"#),
        ),
        "not a module".to_string(),
    ];
    for text in cases {
        assert_ne!(text, template, "every case changes the template");
        let loaded = Plugin::from_bytes(text.as_bytes(), short());
        assert!(
            matches!(loaded, Err(PluginError::Abi(_) | PluginError::Trap(_))),
            "{text}: {loaded:?}"
        );
    }
    assert_fresh_embedded_works();
}

#[test]
fn log_import_reaches_take_log() {
    let wat = Wat {
        imports: r#"(import "tradeloop_host" "log" (func $log (param i32 i32 i32)))"#,
        call: "(call $log (i32.const 2) (i32.const 16) (i32.const 14)) \
               (call $log (i32.const 1) (i32.const -16) (i32.const 100)) \
               (i32.const 1)",
        extra: r#"(data (i32.const 16) "hello from wat")"#,
        result_ptr: "(i32.const 16)",
        result_len: "(i32.const 5)",
        ..Wat::default()
    };
    let mut plugin = wat.load(short()).unwrap();
    assert_eq!(
        plugin.call(&Request::Snapshot),
        Err(PluginError::Rejected(tradeloop_core::Error::Host(
            "the plugin's rejection does not decode: hello".into()
        )))
    );
    let log = plugin.take_log();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], (2, "hello from wat".to_string()));
    assert!(log[1].1.contains("out of bounds"), "{log:?}");
    assert!(plugin.take_log().is_empty());
}

#[test]
fn oversized_request_is_refused_before_sending() {
    // Not allocated for real: the length check comes first.
    let mut plugin = Wat::default().load(short()).unwrap();
    let huge = vec![0u8; tradeloop_core::abi::MAX_REQUEST as usize + 1];
    assert!(matches!(
        plugin.call_raw(&huge),
        Err(PluginError::BadRequest(_))
    ));
    assert!(!plugin.is_poisoned());
}

#[test]
fn random_bytes_as_a_checkpoint_are_rejected_and_the_engine_kept() {
    let mut p = embedded();
    p.create(config(), 1, T0).unwrap();
    let before = p.snapshot().unwrap();
    let mut r = SplitMix64::new(77);
    for i in 0..300 {
        let n = r.below(2048) as usize;
        let body: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
        // Half of them behind a valid envelope (magic, checksum), so decoding is reached.
        let bytes = if i % 2 == 0 {
            body
        } else {
            tradeloop_core::checkpoint::seal(tradeloop_core::checkpoint::SCHEMA, &body)
        };
        match p.restore(&bytes) {
            Err(PluginError::Rejected(e)) => {
                assert_eq!(e.kind(), tradeloop_core::ErrorKind::Checkpoint, "{e}");
            }
            other => panic!("random bytes restored: {other:?}"),
        }
    }
    assert_eq!(
        p.snapshot().unwrap(),
        before,
        "a rejected restore keeps the engine"
    );
}

/// A module that calls the `rank` imports with hostile arguments from `tl_call` and returns
/// what they answered: `rank`'s length, `rank_result`'s code for a wrong length, then for
/// the right length, then the answer bytes from offset 64.
fn rank_prober(ptr: i64, len: i32, dim: i32) -> String {
    format!(
        r#"(module
  (import "tradeloop_host" "rank" (func $rank (param i32 i32 i32) (result i32)))
  (import "tradeloop_host" "rank_result" (func $result (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "tl_abi_version") (result i32) (i32.const {ABI_VERSION}))
  (func (export "tl_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tl_free") (param i32 i32))
  (func (export "tl_call") (param i32 i32) (result i32)
    (local $n i32)
    (local.set $n (call $rank (i32.const {ptr}) (i32.const {len}) (i32.const {dim})))
    (i32.store (i32.const 0) (local.get $n))
    (i32.store (i32.const 4) (call $result (i32.const 64) (i32.add (local.get $n) (i32.const 1))))
    (drop (call $rank (i32.const {ptr}) (i32.const {len}) (i32.const {dim})))
    (i32.store (i32.const 8) (call $result (i32.const 64) (local.get $n)))
    (i32.const 0))
  (func (export "tl_result_ptr") (result i32) (i32.const 0))
  (func (export "tl_result_len") (result i32) (i32.const 512)))"#
    )
}

#[test]
fn hostile_rank_calls_get_error_answers_and_never_reach_the_ranker() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&calls);
    let ranker: tradeloop_host::plugin::RankFn = Arc::new(move |rows, dim| {
        seen.fetch_add(1, Ordering::Relaxed);
        Ok(tradeloop_core::ranking::RankOutput {
            model: "probe@1".into(),
            scores: vec![
                tradeloop_core::ranking::RankScore {
                    score: 0.0,
                    class: None
                };
                rows.len() / dim
            ],
        })
    });
    // (ptr, len, dim, expected error text or None for a good call)
    let cases: [(i64, i32, i32, Option<&str>); 5] = [
        (0xFFFF_0000, 64, 4, Some("out of bounds")),
        (2048, -1, 4, Some("out of bounds")),
        (2048, 12, 4, Some("not whole rows")),
        (2048, 16, 0, Some("not whole rows")),
        (2048, 32, 4, None),
    ];
    for (ptr, len, dim, expected) in cases {
        let wat = rank_prober(ptr, len, dim);
        let mut p = Plugin::from_bytes(wat.as_bytes(), short()).unwrap();
        p.set_ranker(Some(Arc::clone(&ranker)));
        let before = calls.load(Ordering::Relaxed);
        let (status, out) = p.call_raw(&[3]).unwrap();
        assert_eq!(status, Status::Ok);
        let word = |i: usize| i32::from_le_bytes(out[i..i + 4].try_into().unwrap());
        let n = word(0);
        assert!(n > 0, "an answer is always kept");
        assert_eq!(word(4), 1, "a buffer of the wrong length is refused");
        assert_eq!(word(8), 0, "the right length gets the answer");
        let answer = abi::decode_rank_answer(&out[64..64 + n as usize]);
        match expected {
            Some(text) => {
                let err = answer.unwrap_err().to_string();
                assert!(err.contains(text), "{ptr} {len} {dim}: {err}");
                assert_eq!(
                    calls.load(Ordering::Relaxed),
                    before,
                    "the ranker was not called"
                );
            }
            None => {
                assert_eq!(answer.unwrap().scores.len(), 2);
                assert_eq!(calls.load(Ordering::Relaxed), before + 2);
            }
        }
    }
    // Without a ranker there is no answer, and `rank` says why.
    let mut p = Plugin::from_bytes(rank_prober(2048, 32, 4).as_bytes(), short()).unwrap();
    let (_, out) = p.call_raw(&[3]).unwrap();
    let word = |i: usize| i32::from_le_bytes(out[i..i + 4].try_into().unwrap());
    assert_eq!(word(0), abi::RANK_NO_RANKER);
    assert_eq!(word(4), 1, "no answer is kept to copy");
    assert_fresh_embedded_works();
}

/// The kinds no command can produce, and why: the test below covers every other kind.
const NOT_FROM_COMMANDS: [(ErrorKind, &str); 3] = [
    (
        ErrorKind::InvalidLabel,
        "raised by the network's training code on labels the engine itself derives",
    ),
    (
        ErrorKind::InvalidCandle,
        "raised by the paper trader and the candle reader, which run outside the plugin",
    ),
    (ErrorKind::Host, "raised by a host, never by the engine"),
];

/// A state with three trades (1 open, 2 closed and dropped by `max_closed = 1`, 3 closed).
fn error_setup() -> (EngineConfig, Vec<(Command, i64)>) {
    let mut config = config();
    config.journal.max_closed = 1;
    let mut rng = SplitMix64::new(3);
    let close = |trade_id| {
        Command::Close(CloseTrade {
            trade_id,
            price: 101.0,
            reason: ExitReason::Target,
        })
    };
    let setup = vec![
        (open(100.0, &mut rng), T0 + 10),
        (open(100.0, &mut rng), T0 + 20),
        (open(100.0, &mut rng), T0 + 30),
        (close(2), T0 + 40),
        (close(3), T0 + 50),
    ];
    (config, setup)
}

/// One bad command per kind a command can produce, with the time it is sent at.
fn bad_commands() -> Vec<(ErrorKind, Command, i64)> {
    let mut rng = SplitMix64::new(4);
    let mut with = |f: &dyn Fn(&mut OpenTrade)| {
        let Command::Open(mut o) = open(100.0, &mut rng) else {
            unreachable!()
        };
        f(&mut o);
        Command::Open(o)
    };
    let candidates = |n: usize| {
        (0..n)
            .map(|i| Candidate {
                symbol: format!("S{i}"),
                price: 10.0,
                features: vec![0.5; FEATURES as usize],
            })
            .collect::<Vec<_>>()
    };
    let rank = |k, scored| {
        Command::Rank(RankRequest {
            candidates: candidates(2),
            k,
            size: 1.0,
            scored,
        })
    };
    let t = T0 + 100;
    vec![
        (ErrorKind::NonFinite, with(&|o| o.price = f64::NAN), t),
        (ErrorKind::NonPositive, with(&|o| o.size = 0.0), t),
        (
            ErrorKind::FeatureLength,
            with(&|o| o.features.pop().map_or((), drop)),
            t,
        ),
        (
            ErrorKind::ShapeMismatch,
            rank(
                1,
                Some(RankOutput {
                    model: "m".into(),
                    scores: vec![RankScore {
                        score: 1.0,
                        class: None,
                    }],
                }),
            ),
            t,
        ),
        (ErrorKind::InvalidSymbol, with(&|o| o.symbol.clear()), t),
        (
            ErrorKind::InvalidLevel,
            Command::Suggest(SuggestRequest {
                side: Side::Long,
                price: 100.0,
                features: vec![0.5; FEATURES as usize],
                levels: vec![
                    LevelInput {
                        price: 99.0,
                        kind: LevelKind::Support,
                        features: Default::default(),
                    };
                    65
                ],
            }),
            t,
        ),
        (
            ErrorKind::InvalidExits,
            with(&|o| o.exits = Some((101.0, 102.0))),
            t,
        ),
        (
            ErrorKind::UnknownTrade,
            Command::Close(CloseTrade {
                trade_id: 99,
                price: 1.0,
                reason: ExitReason::Manual,
            }),
            t,
        ),
        (
            ErrorKind::TradeAlreadyClosed,
            Command::Close(CloseTrade {
                trade_id: 3,
                price: 1.0,
                reason: ExitReason::Manual,
            }),
            t,
        ),
        (ErrorKind::TradeNotKept, Command::Query(Query::Trade(2)), t),
        (
            ErrorKind::CloseBeforeOpen,
            Command::Close(CloseTrade {
                trade_id: 1,
                price: 1.0,
                reason: ExitReason::Manual,
            }),
            T0,
        ),
        (ErrorKind::UnknownVersion, Command::Promote(99), t),
        (ErrorKind::NoPreviousVersion, Command::Rollback(None), t),
        (ErrorKind::InvalidRanking, rank(0, None), t),
        (ErrorKind::NoRanker, rank(1, None), t),
    ]
}

/// The same bad command gives the same error (kind and message) from a host `Runtime` (the
/// plugin in wasmtime, behind the journal) as from a local `Engine`, for every error kind a
/// command, a configuration or a checkpoint can produce; and the state is unchanged.
#[test]
fn runtime_and_engine_give_the_same_typed_error_for_every_kind() {
    let dir = std::env::temp_dir().join(format!("tradeloop-kinds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (config, setup) = error_setup();
    let settings = Settings {
        engine: config.clone(),
        ..Settings::default()
    };
    let mut rt = Runtime::open(&dir, settings.clone(), Some(T0)).unwrap();
    let mut engine = Engine::new(config.clone(), settings.seed, T0).unwrap();
    for (command, now) in setup {
        assert_eq!(
            rt.execute(command.clone(), now).unwrap(),
            engine.apply(command, now).unwrap()
        );
    }
    let before = engine.snapshot();
    let events = rt.events().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut same = |kind: ErrorKind, remote: Error, local: Error| {
        assert_eq!(local.kind(), kind, "{local}");
        assert_eq!(remote.kind(), kind, "{remote}");
        assert_eq!(remote.to_string(), local.to_string());
        seen.insert(kind.name());
    };
    for (kind, command, now) in bad_commands() {
        let remote = rt.execute(command.clone(), now).unwrap_err();
        let local = engine.apply(command, now).unwrap_err();
        same(kind, remote, local);
    }
    // The ranker's own failure, through the plugin's rank import and through `apply_with`.
    struct Failing;
    impl Ranker for Failing {
        fn rank(&mut self, _: &[f32], _: usize) -> Result<RankOutput, Error> {
            Err(Error::Ranker("model file is gone".into()))
        }
    }
    rt.set_ranker(Some(std::sync::Arc::new(|_: &[f32], _| {
        Err("model file is gone".to_string())
    })));
    let command = bad_commands().pop().unwrap().1;
    let remote = rt.execute(command.clone(), T0 + 100).unwrap_err();
    let local = engine
        .apply_with(command, T0 + 100, &mut Failing)
        .unwrap_err();
    same(ErrorKind::Ranker, remote, local);
    // A configuration and a checkpoint, through the same plugin transport the runtime uses.
    let bad = EngineConfig {
        features: 0,
        ..config.clone()
    };
    let mut plugin = embedded();
    let remote = match plugin.create(bad.clone(), 1, T0) {
        Err(PluginError::Rejected(e)) => e,
        other => panic!("{other:?}"),
    };
    same(
        ErrorKind::InvalidConfig,
        remote,
        Engine::new(bad, 1, T0).unwrap_err(),
    );
    let remote = match plugin.restore(&[1, 2, 3]) {
        Err(PluginError::Rejected(e)) => e,
        other => panic!("{other:?}"),
    };
    same(
        ErrorKind::Checkpoint,
        remote,
        Engine::restore(&[1, 2, 3]).unwrap_err(),
    );

    assert_eq!(
        engine.snapshot(),
        before,
        "a rejected command changes nothing"
    );
    assert_eq!(rt.snapshot().unwrap(), before);
    assert_eq!(
        rt.events().unwrap(),
        events,
        "nothing rejected was journalled"
    );
    let missing: Vec<_> = ErrorKind::ALL
        .iter()
        .filter(|k| !seen.contains(k.name()) && !NOT_FROM_COMMANDS.iter().any(|(n, _)| n == *k))
        .collect();
    assert!(missing.is_empty(), "kinds with no case: {missing:?}");
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The model lifecycle end to end, through engine commands: drift after a regime switch,
//! forgetting with and without replay, the promotion gate, rollback, A/B and the schedule.
//! All data is generated here from fixed seeds.

#![allow(clippy::print_stdout)] // the forgetting test prints its two figures by design

use tradeloop_core::command::{Observation, Observed};
use tradeloop_core::learners::SignalConfig;
use tradeloop_core::learners::signal::{Data, Predictor};
use tradeloop_core::lifecycle::LearnReport;
use tradeloop_core::lifecycle::ab::Arm;
use tradeloop_core::lifecycle::policy::{Action, LearnMode, Reason};
use tradeloop_core::lifecycle::registry::{AuditEvent, Verdict, VersionKind};
use tradeloop_core::lifecycle::schedule::Job;
use tradeloop_core::nn::{OptimConfig, Workspace};
use tradeloop_core::replay::ReplayConfig;
use tradeloop_core::rng::SplitMix64;
use tradeloop_core::{
    CloseTrade, Command, Engine, EngineConfig, ExitReason, LearnRequest, OpenTrade, Outcome, Query,
    Reply, Side,
};

const DAY: i64 = 86_400_000;
/// Monday 2024-01-01 00:00 UTC.
const T0: i64 = 1_704_067_200_000;
const DIM: usize = 4;

/// A regime: which feature decides the class and with which sign.
#[derive(Clone, Copy)]
struct Regime {
    feature: usize,
    sign: f32,
}

const A: Regime = Regime {
    feature: 0,
    sign: 1.0,
};
/// The opposite of A: what was a win is now a loss.
const A_FLIPPED: Regime = Regime {
    feature: 0,
    sign: -1.0,
};
/// A different feature decides.
const B: Regime = Regime {
    feature: 1,
    sign: 1.0,
};

/// One labelled sample: a win (return +1%) when `sign * x[feature] > 0`, else a loss, with
/// 10% of the labels flipped.
fn sample(r: &mut SplitMix64, regime: Regime) -> (Vec<f32>, f64) {
    let x: Vec<f32> = (0..DIM).map(|_| r.normal() as f32).collect();
    let mut win = regime.sign * x[regime.feature] > 0.0;
    if r.chance(0.1) {
        win = !win;
    }
    (x, if win { 0.01 } else { -0.01 })
}

fn config() -> EngineConfig {
    let mut c = EngineConfig {
        features: DIM as u32,
        replay: ReplayConfig {
            capacity: 2000,
            ..ReplayConfig::default()
        },
        signal: SignalConfig {
            hidden: vec![16],
            optimizer: OptimConfig {
                clip_norm: 5.0,
                ..OptimConfig::adam(1e-2)
            },
            ..SignalConfig::default()
        },
        ..EngineConfig::default()
    };
    c.lifecycle.retrain.max_epochs = 30;
    c.lifecycle.retrain.max_samples = 600;
    c
}

fn observe(e: &mut Engine, x: Vec<f32>, ret: f64, t: i64) -> Observed {
    match e.apply(
        Command::Observe(Observation {
            features: x,
            return_pct: ret,
        }),
        t,
    ) {
        Ok(Reply::Observed(o)) => o,
        other => panic!("{other:?}"),
    }
}

fn learn(e: &mut Engine, mode: LearnMode, t: i64) -> LearnReport {
    match e.apply(Command::Learn(LearnRequest { mode }), t) {
        Ok(Reply::Learned(l)) => l.signal,
        other => panic!("{other:?}"),
    }
}

/// Fresh labelled data from a regime, for measuring a predictor.
fn data(seed: u64, n: usize, regime: Regime) -> Data {
    let mut r = SplitMix64::new(seed);
    let mut d = Data {
        dim: DIM,
        ..Data::default()
    };
    for i in 0..n {
        let (x, ret) = sample(&mut r, regime);
        d.x.extend_from_slice(&x);
        d.y.push(Outcome::classify(ret, 0.001).index());
        d.times.push(i as i64);
    }
    d
}

fn accuracy(p: &Predictor, d: &Data) -> f32 {
    p.evaluate(&mut Workspace::default(), d).unwrap().accuracy
}

#[test]
fn a_regime_switch_is_detected_retrained_on_and_recovered_from() {
    let mut e = Engine::new(config(), 1, T0).unwrap();
    let mut r = SplitMix64::new(2);
    let mut t = T0;
    let (before, after) = (1500, 1500);
    let mut hits: Vec<bool> = Vec::new();
    let mut drift_retrain_at = None;
    for i in 0..before + after {
        let regime = if i < before { A } else { A_FLIPPED };
        let (x, ret) = sample(&mut r, regime);
        t += 3_600_000;
        let o = observe(&mut e, x, ret, t);
        hits.push(o.signal.class == o.outcome);
        if let Some(l) = &o.learned
            && i >= before
            && drift_retrain_at.is_none()
            && l.decision.reason == Reason::Drift
        {
            assert_eq!(l.decision.action, Action::Retrain, "drift retrains");
            assert!(
                o.drift.is_some(),
                "the sample that raised the alarm says so"
            );
            drift_retrain_at = Some(i - before);
        }
    }
    let rate = |s: &[bool]| s.iter().filter(|&&h| h).count() as f32 / s.len() as f32;
    let learned_a = rate(&hits[before - 300..before]);
    let just_after = rate(&hits[before..before + 100]);
    let recovered = rate(&hits[before + after - 300..]);
    let detected = drift_retrain_at.expect("drift was never detected after the switch");
    println!(
        "accuracy: end of A {learned_a:.3}, first 100 after the switch {just_after:.3}, \
         last 300 {recovered:.3}; drift retrain {detected} samples after the switch"
    );
    assert!(learned_a > 0.8, "regime A was learned: {learned_a}");
    assert!(just_after < 0.5, "the switch hurts: {just_after}");
    assert!(
        detected <= 150,
        "detected {detected} samples after the switch"
    );
    assert!(recovered > 0.8, "accuracy recovers: {recovered}");
    // Every change of champion is in the audit history.
    let Reply::Audit(audit) = e
        .apply(Command::Query(Query::Audit { limit: 10_000 }), t)
        .unwrap()
    else {
        panic!()
    };
    assert!(
        audit
            .iter()
            .filter(|a| a.at > T0 + before as i64 * 3_600_000)
            .any(|a| matches!(a.event, AuditEvent::Promoted { .. })),
        "a retrained model went live after the switch"
    );
}

#[test]
fn a_lasting_input_shift_retrains_once_per_psi_window_not_on_every_sample() {
    // No candidate goes live (too few held-out samples for a verdict), so the champion and
    // its PSI reference stay while the inputs stay shifted.
    let mut c = config();
    c.lifecycle.gate.min_samples = 1_000_000;
    c.lifecycle.drift.psi.window = 100;
    c.lifecycle.drift.psi.bins = 5;
    let window = c.lifecycle.drift.psi.window as usize;
    let mut e = Engine::new(c, 5, T0).unwrap();
    let mut r = SplitMix64::new(6);
    let mut t = T0;
    for _ in 0..600 {
        let (x, ret) = sample(&mut r, A);
        t += 3_600_000;
        observe(&mut e, x, ret, t);
    }
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    assert!(run.verdict.is_some() && run.verdict != Some(Verdict::Promoted));
    e.apply(Command::Promote(run.version.unwrap()), t).unwrap();
    assert!(e.lifecycle().registry().champion().reference.is_some());

    // Every input moves by +3 and stays there.
    let shifted = 6 * window;
    let (mut drift_retrains, mut alarms) = (Vec::new(), Vec::new());
    for i in 0..shifted {
        let (x, ret) = sample(&mut r, A);
        let x = x.into_iter().map(|v| v + 3.0).collect();
        t += 3_600_000;
        let o = observe(&mut e, x, ret, t);
        if let Some(alarm) = o.drift {
            alarms.push((i, alarm));
        }
        if let Some(l) = o.learned
            && l.decision.reason == Reason::Drift
        {
            assert_eq!(l.decision.action, Action::Retrain);
            let verdict = l.run.unwrap().verdict;
            assert!(verdict.is_some() && verdict != Some(Verdict::Promoted));
            drift_retrains.push(i);
        }
    }
    // Each retrain answered the alarm raised by the same sample, which names the PSI.
    assert_eq!(
        alarms.iter().map(|a| a.0).collect::<Vec<_>>(),
        drift_retrains,
        "{alarms:?}"
    );
    assert!(
        alarms
            .iter()
            .all(|(_, a)| a.page_hinkley || a.psi.is_some_and(|p| p.drifted && p.max > 0.25)),
        "{alarms:?}"
    );
    assert!(alarms.iter().any(|(_, a)| a.psi.is_some()), "{alarms:?}");
    // The alarm is raised again while the shift lasts, but each one needs a full window of
    // inputs after the previous retrain.
    assert!(drift_retrains.len() >= 2, "{drift_retrains:?}");
    assert!(
        drift_retrains.len() <= shifted / window,
        "{} drift retrains in {shifted} samples: {drift_retrains:?}",
        drift_retrains.len()
    );
    for pair in drift_retrains.windows(2) {
        assert!(pair[1] - pair[0] >= window, "{drift_retrains:?}");
    }
}

/// Trains on A, then fine-tunes on B in five rounds (each candidate promoted by hand so
/// the chain continues) and returns the final model's accuracy on fresh A data.
fn accuracy_on_a_after_b(replay_per_new: u32) -> (f32, f32) {
    let mut c = config();
    c.lifecycle.learn_on_close = false;
    c.lifecycle.incremental.replay_per_new = replay_per_new;
    c.lifecycle.incremental.lr_scale = 1.0;
    c.lifecycle.incremental.epochs = 10;
    let mut e = Engine::new(c, 3, T0).unwrap();
    let mut r = SplitMix64::new(4);
    let mut t = T0;
    for _ in 0..1000 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let l = learn(&mut e, LearnMode::Retrain, t);
    assert_eq!(l.run.unwrap().verdict, Some(Verdict::Promoted));
    let fresh_a = data(99, 2000, A);
    let before = accuracy(&e.lifecycle().registry().champion().predictor, &fresh_a);
    for _ in 0..5 {
        for _ in 0..100 {
            let (x, ret) = sample(&mut r, B);
            t += 1000;
            observe(&mut e, x, ret, t);
        }
        let run = learn(&mut e, LearnMode::Incremental, t).run.unwrap();
        assert_eq!(run.kind, VersionKind::Incremental);
        let id = run.version.expect("a fine-tuned version");
        e.apply(Command::Promote(id), t).unwrap();
    }
    let after = accuracy(&e.lifecycle().registry().champion().predictor, &fresh_a);
    (before, after)
}

#[test]
fn fine_tuning_with_replay_forgets_less_than_without() {
    let (a0, with_replay) = accuracy_on_a_after_b(4);
    let (b0, without_replay) = accuracy_on_a_after_b(0);
    println!(
        "accuracy on regime A: after training on A {a0:.3}; after five fine-tunes on B: \
         with replay {with_replay:.3}, without replay {without_replay:.3}"
    );
    assert_eq!(a0, b0, "both start from the same model");
    assert!(a0 > 0.8);
    assert!(
        with_replay > without_replay + 0.05,
        "replay must protect regime A: {with_replay} vs {without_replay}"
    );
}

/// An engine trained on A, with a network champion (version 2).
fn trained_engine(c: EngineConfig) -> (Engine, i64, SplitMix64) {
    let mut e = Engine::new(c, 5, T0).unwrap();
    let mut r = SplitMix64::new(6);
    let mut t = T0;
    for _ in 0..600 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    assert_eq!(
        (run.version, run.verdict, run.prior_chosen),
        (Some(2), Some(Verdict::Promoted), false)
    );
    (e, t, r)
}

#[test]
fn the_gate_keeps_a_worse_candidate_out() {
    let mut c = config();
    c.lifecycle.learn_on_close = false;
    c.lifecycle.incremental.lr_scale = 1.0;
    c.lifecycle.incremental.epochs = 20;
    c.lifecycle.incremental.replay_per_new = 0;
    let (mut e, mut t, mut r) = trained_engine(c);
    // A deliberately bad batch: regime A with every label reversed.
    for _ in 0..200 {
        let (x, ret) = sample(&mut r, A_FLIPPED);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let run = learn(&mut e, LearnMode::Incremental, t).run.unwrap();
    let gate = run.gate.expect("measured on held-out data");
    assert!(!gate.passed && gate.candidate > gate.champion, "{gate:?}");
    assert_eq!(run.verdict, Some(Verdict::Challenger));
    assert_eq!(
        e.lifecycle().registry().champion().id,
        2,
        "champion untouched"
    );
}

#[test]
fn a_nan_run_is_rejected_and_the_champion_untouched() {
    let (mut e, t, _) = trained_engine(config_no_auto());
    let champion = e.lifecycle().registry().champion().predictor.clone();
    // Same engine state, an absurd optimiser: SGD at learning rate 10, momentum 0.99.
    let mut bytes = e.snapshot();
    let mut wild = tradeloop_core::checkpoint::decode(&bytes).unwrap();
    wild.base.config.signal.optimizer.lr = 10.0;
    wild.base.config.signal.optimizer.kind =
        tradeloop_core::checkpoint::v1::OptimKindV1::Sgd { momentum: 0.99 };
    wild.base.config.signal.optimizer.clip_norm = 0.0;
    bytes = tradeloop_core::checkpoint::seal(
        tradeloop_core::checkpoint::SCHEMA,
        &postcard_bytes(&wild),
    );
    let mut e2 = Engine::restore(&bytes).unwrap();
    let run = learn(&mut e2, LearnMode::Retrain, t + 1).run.unwrap();
    assert!(run.rejected.is_some(), "{run:?}");
    assert_eq!(run.version, None);
    let r = e2.lifecycle().registry();
    assert_eq!(r.champion().id, 2);
    assert_eq!(r.champion().predictor, champion);
    assert!(matches!(
        r.audit().last().unwrap().event,
        AuditEvent::Rejected { .. }
    ));
    // And through the original engine, a fine-tune with the same settings is fine.
    assert!(learn(&mut e, LearnMode::Eval, t + 1).evaluation.is_some());
}

fn config_no_auto() -> EngineConfig {
    let mut c = config();
    c.lifecycle.learn_on_close = false;
    c
}

fn postcard_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_allocvec(v).unwrap()
}

#[test]
fn rollback_restores_the_previous_champion_bit_for_bit() {
    let (mut e, mut t, mut r) = trained_engine(config_no_auto());
    let v2 = e.lifecycle().registry().champion().predictor.clone();
    let bits = |p: &Predictor| -> Vec<u32> {
        let Predictor::Net(n) = p else {
            return vec![];
        };
        n.mlp()
            .params()
            .iter()
            .map(|x| x.to_bits())
            .chain(n.normalizer().mean().iter().map(|m| m.to_bits() as u32))
            .chain([n.temperature().to_bits()])
            .collect()
    };
    let before = bits(&v2);
    for _ in 0..300 {
        let (x, ret) = sample(&mut r, B);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    let v3 = run.version.unwrap();
    e.apply(Command::Promote(v3), t).unwrap();
    assert_eq!(e.lifecycle().registry().champion().id, v3);
    assert_ne!(bits(&e.lifecycle().registry().champion().predictor), before);
    assert_eq!(
        e.apply(Command::Rollback(None), t + 1).unwrap(),
        Reply::Champion(2)
    );
    let champion = &e.lifecycle().registry().champion().predictor;
    assert_eq!(bits(champion), before);
    assert_eq!(*champion, v2);
    // The restored engine predicts exactly as version 2 did, and the history says so.
    let probe = vec![0.3, -0.2, 1.0, 0.0];
    let p2 = v2.predict(&mut Workspace::default(), &probe);
    let Reply::Suggestion(s) = e
        .apply(
            Command::Suggest(tradeloop_core::SuggestRequest {
                side: Side::Long,
                price: 100.0,
                features: probe,
                levels: vec![],
            }),
            t + 2,
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!((s.signal, s.model_version), (p2, 2));
    assert_eq!(e.lifecycle().registry().live_at(t + 1), Some(2));
    assert_eq!(e.lifecycle().registry().live_at(t), Some(v3));
}

#[test]
fn a_challenger_gets_its_share_of_trades_and_a_report() {
    let mut c = config_no_auto();
    c.lifecycle.gate.margin = 1.0; // nothing passes: every candidate is a challenger
    let (mut e, mut t, mut r) = trained_engine({
        let mut c = c.clone();
        c.lifecycle.gate.margin = 0.0;
        c
    });
    // Tighten the gate afterwards through a checkpoint round trip of the config.
    let mut dto = tradeloop_core::checkpoint::decode(&e.snapshot()).unwrap();
    dto.base.config.lifecycle = (&c.lifecycle).into();
    e = Engine::restore(&tradeloop_core::checkpoint::seal(
        tradeloop_core::checkpoint::SCHEMA,
        &postcard_bytes(&dto),
    ))
    .unwrap();
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    assert_eq!(run.verdict, Some(Verdict::Challenger));
    let challenger = run.version.unwrap();
    let (mut arms, mut ids) = ([0u32; 2], Vec::new());
    for _ in 0..200 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        let Reply::Opened(o) = e
            .apply(
                Command::Open(OpenTrade {
                    symbol: "SPY".into(),
                    side: Side::Long,
                    price: 100.0,
                    size: 1.0,
                    features: x,
                    level: None,
                    exits: None,
                }),
                t,
            )
            .unwrap()
        else {
            panic!()
        };
        match o.arm {
            Arm::Champion => assert_eq!(o.model_version, 2),
            Arm::Challenger => assert_eq!(o.model_version, challenger),
        }
        arms[o.arm as usize] += 1;
        ids.push((o.trade_id, 100.0 * (1.0 + ret)));
    }
    assert!(arms[0] > 60 && arms[1] > 60, "{arms:?}");
    for (id, price) in ids {
        t += 1000;
        e.apply(
            Command::Close(CloseTrade {
                trade_id: id,
                price,
                reason: ExitReason::Manual,
            }),
            t,
        )
        .unwrap();
    }
    let Reply::Ab(Some(ab)) = e.apply(Command::Query(Query::Ab), t).unwrap() else {
        panic!()
    };
    assert_eq!(
        (ab.champion.trades, ab.challenger.trades),
        (u64::from(arms[0]), u64::from(arms[1]))
    );
    assert!(ab.win_rate_test.is_some() && ab.pnl_test.is_some());
    let Reply::Monitor(m) = e
        .apply(
            Command::Query(Query::Monitor {
                version: Some(challenger),
            }),
            t,
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(m.windows[3].trades, arms[1]);
}

#[test]
fn the_schedule_says_what_is_due_and_run_due_runs_it() {
    let mut e = Engine::new(config_no_auto(), 7, T0).unwrap();
    let due = |e: &mut Engine, t| match e.apply(Command::Query(Query::Due), t).unwrap() {
        Reply::Due(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(due(&mut e, T0), vec![]);
    // Defaults: daily incremental at 02:00 UTC, weekly retrain Sunday 03:00, monthly
    // evaluation and cleanup on the 1st at 04:00. T0 is Monday 1 January, 00:00.
    assert_eq!(due(&mut e, T0 + 2 * 3_600_000 + 1), vec![Job::Incremental]);
    assert_eq!(
        due(&mut e, T0 + 4 * 3_600_000),
        vec![Job::Incremental, Job::Evaluation]
    );
    let sunday = T0 + 6 * DAY + 3 * 3_600_000;
    assert_eq!(
        due(&mut e, sunday),
        vec![Job::Incremental, Job::Retrain, Job::Evaluation]
    );
    let Reply::Ran(ran) = e.apply(Command::RunDue, sunday).unwrap() else {
        panic!()
    };
    let jobs: Vec<Job> = ran.iter().map(|(j, _)| *j).collect();
    assert_eq!(jobs, [Job::Incremental, Job::Retrain, Job::Evaluation]);
    // With nothing learned yet the incremental skips, the forced retrain has no data and
    // is rejected, and the evaluation measures nothing: none of them creates a version.
    assert_eq!(ran[0].1.decision.action, Action::Skip);
    assert!(ran[1].1.run.as_ref().is_some_and(|r| r.rejected.is_some()));
    assert_eq!(e.lifecycle().registry().created(), 1);
    assert_eq!(due(&mut e, sunday + 1), vec![]);
    // Restored from a checkpoint, the schedule remembers what ran.
    let back = Engine::restore(&e.snapshot()).unwrap();
    assert_eq!(back.lifecycle().schedule(), e.lifecycle().schedule());
}

//! The model lifecycle end to end, through engine commands: the served mixture on a planted
//! signal that switches, drift, forgetting with and without replay, trials (a candidate that
//! loses never serves, a tie never promotes), rollback, A/B routing and the schedule. All
//! data is generated here from fixed seeds.

#![allow(clippy::print_stdout)] // the forgetting test prints its two figures by design

use tradeloop_core::command::{ForecastRequest, Observation, Observed};
use tradeloop_core::learners::SignalConfig;
use tradeloop_core::learners::signal::{Data, Predictor};
use tradeloop_core::lifecycle::ab::Arm;
use tradeloop_core::lifecycle::mixture::Expert;
use tradeloop_core::lifecycle::policy::{Action, LearnMode, Reason};
use tradeloop_core::lifecycle::registry::{AuditEvent, PromotionReason, Verdict, VersionKind};
use tradeloop_core::lifecycle::schedule::Job;
use tradeloop_core::lifecycle::{LearnReport, TrialEnd};
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
    let l = &mut c.lifecycle;
    l.retrain.max_samples = 600;
    l.gate.trial = 200;
    l.gate.block = 10;
    l.gate.embargo = 0;
    l.policy.snapshot_every = 300;
    l.policy.retrain_every = 1_000;
    l.policy.drift_cooldown = 300;
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

fn forecast(e: &mut Engine, x: &[f32], t: i64) -> [f32; 3] {
    match e.apply(
        Command::Forecast(ForecastRequest {
            features: x.to_vec(),
        }),
        t,
    ) {
        Ok(Reply::Forecast(f)) => f.signal.probs,
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

/// The class of a return, as `Observe` classifies it with the default flat band.
fn class(ret: f64) -> usize {
    Outcome::classify(ret, 0.001).index().into()
}

/// The W6 protocol on a synthetic stream with a planted signal that switches regime: every
/// row is forecast (`Forecast`), and its label revealed `delay` rows later (`Observe`).
/// Returns, per row, the log-loss and hit of the served forecast and of the running prior.
fn delayed_stream(e: &mut Engine, regimes: &[(Regime, usize)], delay: usize) -> Vec<[f64; 3]> {
    let mut r = SplitMix64::new(21);
    let rows: Vec<(Vec<f32>, f64)> = regimes
        .iter()
        .flat_map(|&(g, n)| (0..n).map(|_| sample(&mut r, g)).collect::<Vec<_>>())
        .collect();
    let mut counts = [0.0f64; 3];
    let mut out = Vec::with_capacity(rows.len());
    for k in 0..rows.len() {
        let t = T0 + k as i64 * 3_600_000;
        if k >= delay {
            let (x, ret) = rows[k - delay].clone();
            let o = observe(e, x, ret, t);
            assert!(o.forecast.is_some(), "every label scores its own forecast");
            counts[class(ret)] += 1.0;
        }
        let p = forecast(e, &rows[k].0, t);
        let y = class(rows[k].1);
        let n: f64 = counts.iter().sum();
        let prior = (counts[y] + 1.0) / (n + 3.0);
        let best = (0..3).fold(0, |b, c| if p[c] > p[b] { c } else { b });
        out.push([
            -f64::from(p[y]).ln(),
            -prior.ln(),
            f64::from(u8::from(best == y)),
        ]);
    }
    out
}

#[test]
fn the_mixture_learns_a_planted_signal_beats_the_prior_and_follows_a_switch() {
    let mut e = Engine::new(config(), 1, T0).unwrap();
    let rows = delayed_stream(&mut e, &[(A, 3000), (A_FLIPPED, 3000)], 12);
    let mean = |s: &[[f64; 3]], i: usize| s.iter().map(|r| r[i]).sum::<f64>() / s.len() as f64;
    let (mix, prior) = (mean(&rows, 0), mean(&rows, 1));
    let before = mean(&rows[2500..3000], 2);
    let just_after = mean(&rows[3000..3100], 2);
    let recovered = mean(&rows[5500..], 2);
    println!(
        "served log-loss {mix:.4} against the prior's {prior:.4}; accuracy at the end of A \
         {before:.3}, first 100 after the switch {just_after:.3}, last 500 {recovered:.3}"
    );
    assert!(mix < prior - 0.1, "a clear margin: {mix} vs {prior}");
    assert!(before > 0.8, "regime A was learned: {before}");
    assert!(just_after < 0.5, "the switch hurts: {just_after}");
    assert!(
        recovered > 0.8,
        "the served forecast follows the switch: {recovered}"
    );
    // What the engine reports agrees, and the bound holds on every expert.
    let Reply::Mixture(m) = e.apply(Command::Query(Query::Mixture), T0).unwrap() else {
        panic!()
    };
    assert_eq!(m.rows as usize, rows.len() - 12);
    assert_eq!(m.copies, 12, "one weight copy per forecast waiting at once");
    assert!(m.excess_vs_prior < 0.0 && m.excess_vs_prior <= m.bound_vs_prior);
    let weight = |x: Expert| m.experts[x.index()].weight;
    assert!(
        weight(Expert::Prior) + weight(Expert::Recent) < 0.05,
        "the priors lost their weight to the learners: {:?}",
        m.experts
    );
}

#[test]
fn a_drift_alarm_after_a_switch_starts_one_retrain() {
    let mut e = Engine::new(config(), 1, T0).unwrap();
    let mut r = SplitMix64::new(2);
    let mut t = T0;
    let before = 1500;
    let mut alarm_at = None;
    let mut retrain_at = None;
    for i in 0..before + 1500 {
        let regime = if i < before { A } else { A_FLIPPED };
        let (x, ret) = sample(&mut r, regime);
        t += 3_600_000;
        let o = observe(&mut e, x, ret, t);
        if i >= before && alarm_at.is_none() && o.drift.is_some_and(|d| d.page_hinkley) {
            alarm_at = Some(i - before);
        }
        if let Some(l) = &o.learned
            && i >= before
            && retrain_at.is_none()
            && l.decision.reason == Reason::Drift
        {
            assert_eq!(l.decision.action, Action::Retrain, "drift retrains");
            retrain_at = Some(i - before);
        }
    }
    let alarm = alarm_at.expect("the switch raised a drift alarm");
    let retrain = retrain_at.expect("the alarm started a retrain");
    println!("alarm {alarm} samples after the switch, retrain {retrain}");
    assert!(alarm <= 150, "detected {alarm} samples after the switch");
    // The retrain waits at most for the trial running at the time.
    assert!(
        retrain >= alarm && retrain <= alarm + 250,
        "{alarm} {retrain}"
    );
}

#[test]
fn a_lasting_input_shift_retrains_once_per_psi_window_not_on_every_sample() {
    let mut c = config();
    c.lifecycle.drift.psi.window = 100;
    c.lifecycle.drift.psi.bins = 5;
    c.lifecycle.policy.drift_cooldown = 1;
    c.lifecycle.policy.snapshot_every = 1_000_000;
    c.lifecycle.policy.retrain_every = 1_000_000;
    // Short trials, so that a retrain's candidate does not hold the next alarm back.
    c.lifecycle.gate.trial = 10;
    c.lifecycle.gate.block = 5;
    let window = c.lifecycle.drift.psi.window as usize;
    let mut e = Engine::new(c, 5, T0).unwrap();
    let mut r = SplitMix64::new(6);
    let mut t = T0;
    for _ in 0..600 {
        let (x, ret) = sample(&mut r, A);
        t += 3_600_000;
        observe(&mut e, x, ret, t);
    }
    // A champion with a drift reference, promoted by hand (its trial is cut short).
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    e.apply(Command::Promote(run.version.unwrap()), t).unwrap();
    assert!(e.lifecycle().registry().champion().reference.is_some());
    assert!(e.lifecycle().trial().is_none());

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
            && l.run.is_none()
        {
            assert_eq!(l.decision.action, Action::Retrain);
            drift_retrains.push(i);
        }
    }
    assert!(alarms.iter().any(|(_, a)| a.psi.is_some()), "{alarms:?}");
    assert!(
        alarms
            .iter()
            .all(|(_, a)| a.page_hinkley || a.psi.is_some_and(|p| p.drifted && p.max > 0.25)),
        "{alarms:?}"
    );
    // The alarm comes back while the shift lasts, but each retrain restarts the window, so
    // the next one needs a full window of new inputs.
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

/// Learns A online, then B, and returns the online network's accuracy on fresh A data after
/// each phase.
fn online_accuracy_on_a_after_b(replay: u32) -> (f32, f32) {
    let mut c = config();
    c.lifecycle.online.replay = replay;
    c.lifecycle.online.lr = 1e-2;
    c.lifecycle.online.lr_decay = 0;
    c.lifecycle.policy.snapshot_every = 1_000_000;
    c.lifecycle.policy.retrain_every = 1_000_000;
    let mut e = Engine::new(c, 3, T0).unwrap();
    let mut r = SplitMix64::new(4);
    let mut t = T0;
    for _ in 0..1500 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let fresh_a = data(99, 2000, A);
    let net = |e: &Engine| Predictor::Net(e.lifecycle().online().net().clone());
    let before = accuracy(&net(&e), &fresh_a);
    for _ in 0..500 {
        let (x, ret) = sample(&mut r, B);
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    (before, accuracy(&net(&e), &fresh_a))
}

#[test]
fn online_learning_with_replay_forgets_less_than_without() {
    let (a0, with_replay) = online_accuracy_on_a_after_b(3);
    let (b0, without_replay) = online_accuracy_on_a_after_b(0);
    println!(
        "online network on regime A: after A {a0:.3} / {b0:.3}; after B: with replay \
         {with_replay:.3}, without replay {without_replay:.3}"
    );
    assert!(a0 > 0.8 && b0 > 0.8, "A was learned: {a0} {b0}");
    assert!(
        with_replay > without_replay + 0.05,
        "replay must protect regime A: {with_replay} vs {without_replay}"
    );
}

/// Feeds `n` samples of `regime` as observations.
fn feed(
    e: &mut Engine,
    r: &mut SplitMix64,
    regime: Regime,
    n: usize,
    t: &mut i64,
) -> Vec<Observed> {
    (0..n)
        .map(|_| {
            let (x, ret) = sample(r, regime);
            *t += 1000;
            observe(e, x, ret, *t)
        })
        .collect()
}

fn trial_ends(obs: &[Observed]) -> Vec<TrialEnd> {
    obs.iter().filter_map(|o| o.trial).collect()
}

/// An engine whose champion (version 2) is a snapshot of an online network trained on A,
/// promoted by its trial.
fn trained_engine(c: EngineConfig) -> (Engine, i64, SplitMix64) {
    let mut e = Engine::new(c, 5, T0).unwrap();
    let mut r = SplitMix64::new(6);
    let mut t = T0;
    feed(&mut e, &mut r, A, 600, &mut t);
    let run = learn(&mut e, LearnMode::Incremental, t).run.unwrap();
    assert_eq!(
        (run.kind, run.version, run.verdict),
        (VersionKind::Online, Some(2), Some(Verdict::OnTrial))
    );
    let ends = trial_ends(&feed(&mut e, &mut r, A, 250, &mut t));
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].verdict, Verdict::Promoted, "{:?}", ends[0]);
    assert_eq!(e.lifecycle().registry().champion().id, 2);
    (e, t, r)
}

/// [`config`] with no automatic version: no snapshot, no retrain, no drift alarm.
fn manual() -> EngineConfig {
    let mut c = config();
    c.lifecycle.policy.snapshot_every = 1_000_000;
    c.lifecycle.policy.retrain_every = 1_000_000;
    c.lifecycle.drift.page_hinkley.lambda = 1e9;
    c
}

#[test]
fn a_candidate_that_loses_its_trial_is_held_and_never_serves() {
    let (mut e, mut t, mut r) = trained_engine(manual());
    // The online network learns reversed labels, and a snapshot of it goes on trial.
    feed(&mut e, &mut r, A_FLIPPED, 600, &mut t);
    let run = learn(&mut e, LearnMode::Incremental, t).run.unwrap();
    let bad = run.version.unwrap();
    // During its trial, labels of regime A come; the candidate never serves a forecast.
    let mut ends = Vec::new();
    for _ in 0..250 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        let Reply::Forecast(f) = e
            .apply(
                Command::Forecast(ForecastRequest {
                    features: x.clone(),
                }),
                t,
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(
            f.model_version, 2,
            "the champion is in the mixture, not the candidate"
        );
        let o = observe(&mut e, x, ret, t);
        ends.extend(o.trial);
    }
    assert_eq!(ends.len(), 1, "{ends:?}");
    let end = ends[0];
    assert_eq!((end.candidate, end.verdict), (bad, Verdict::Held));
    assert!(!end.result.passed && end.result.difference > 0.0, "{end:?}");
    assert_eq!(e.lifecycle().registry().champion().id, 2);
    let held =
        e.lifecycle().registry().audit().iter().any(
            |a| matches!(a.event, AuditEvent::Held { version, trial: Some(_) } if version == bad),
        );
    assert!(held, "the verdict is in the audit");
}

#[test]
fn every_champion_change_is_in_the_reply_that_caused_it_and_in_the_audit() {
    let (mut e, t, _) = trained_engine(manual());
    let audit = e.lifecycle().registry().audit().clone();
    let promoted: Vec<_> = audit
        .iter()
        .filter_map(|a| match &a.event {
            AuditEvent::Promoted {
                version,
                reason: PromotionReason::Trial(r),
                ..
            } => Some((*version, r)),
            _ => None,
        })
        .collect();
    assert_eq!(promoted.len(), 1);
    assert_eq!(promoted[0].0, 2);
    assert!(promoted[0].1.passed && promoted[0].1.p_value < 0.05);
    assert_eq!(e.apply(Command::Promote(1), t).unwrap(), Reply::Champion(1));
    assert_eq!(
        e.apply(Command::Rollback(None), t + 1).unwrap(),
        Reply::Champion(2)
    );
    let Reply::Audit(a) = e
        .apply(Command::Query(Query::Audit { limit: 2 }), t)
        .unwrap()
    else {
        panic!()
    };
    assert!(matches!(
        a[0].event,
        AuditEvent::Promoted {
            version: 1,
            reason: PromotionReason::Manual,
            ..
        }
    ));
    assert!(matches!(
        a[1].event,
        AuditEvent::RolledBack { from: 1, to: 2 }
    ));
}

#[test]
fn a_class_prior_version_keeps_no_psi_reference_and_a_network_does() {
    // Labels independent of the features: the retrain's validation chooses the class prior,
    // which reads no features, so input drift says nothing about it.
    let mut e = Engine::new(manual(), 7, T0).unwrap();
    let mut r = SplitMix64::new(8);
    let mut t = T0;
    for _ in 0..600 {
        let x: Vec<f32> = (0..DIM).map(|_| r.normal() as f32).collect();
        let ret = if r.chance(0.5) { 0.01 } else { -0.01 };
        t += 1000;
        observe(&mut e, x, ret, t);
    }
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    assert!(run.prior_chosen, "{run:?}");
    let v = e.lifecycle().registry().get(run.version.unwrap()).unwrap();
    assert!(matches!(v.predictor, Predictor::Prior(_)));
    assert!(v.reference.is_none());
    // A planted signal: the network is chosen and keeps the reference of its inputs.
    let mut e = Engine::new(manual(), 7, T0).unwrap();
    let mut t = T0;
    feed(&mut e, &mut r, A, 600, &mut t);
    let run = learn(&mut e, LearnMode::Retrain, t).run.unwrap();
    assert!(!run.prior_chosen, "{run:?}");
    let v = e.lifecycle().registry().get(run.version.unwrap()).unwrap();
    assert!(matches!(v.predictor, Predictor::Net(_)));
    assert!(v.reference.is_some());
}

#[test]
fn a_nan_run_is_rejected_and_the_champion_untouched() {
    let (e, t, _) = trained_engine(manual());
    let champion = e.lifecycle().registry().champion().predictor.clone();
    // Same engine state, an absurd optimiser: SGD at learning rate 10, momentum 0.99.
    let mut wild = tradeloop_core::checkpoint::decode(&e.snapshot()).unwrap();
    let sgd = tradeloop_core::checkpoint::v1::OptimKindV1::Sgd { momentum: 0.99 };
    for o in [
        &mut wild.config.signal.optimizer,
        &mut wild.lifecycle.online.opt.config,
    ] {
        o.kind = sgd;
        o.clip_norm = 0.0;
    }
    wild.config.signal.optimizer.lr = 10.0;
    wild.lifecycle.online.opt.v = tradeloop_core::checkpoint::Le(Vec::new().into());
    let bytes = tradeloop_core::checkpoint::seal(
        tradeloop_core::checkpoint::SCHEMA,
        &postcard::to_allocvec(&wild).unwrap(),
    );
    let mut e2 = Engine::restore(&bytes).unwrap();
    let run = learn(&mut e2, LearnMode::Retrain, t + 1).run.unwrap();
    assert!(run.rejected.is_some(), "{run:?}");
    assert_eq!(run.version, None);
    let r = e2.lifecycle().registry();
    assert_eq!(r.champion().id, 2);
    assert_eq!(r.champion().predictor, champion);
    assert!(matches!(
        r.audit().back().unwrap().event,
        AuditEvent::Rejected { .. }
    ));
}

#[test]
fn rollback_restores_the_previous_champion_bit_for_bit() {
    let (mut e, mut t, mut r) = trained_engine(manual());
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
    feed(&mut e, &mut r, B, 300, &mut t);
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
    // The champion expert forecasts exactly as version 2 did, and the history says so.
    let probe = vec![0.3, -0.2, 1.0, 0.0];
    let mut ws = Workspace::default();
    assert_eq!(
        v2.predict(&mut ws, &probe),
        champion.predict(&mut ws, &probe)
    );
    assert_eq!(e.lifecycle().registry().live_at(t + 1), Some(2));
    assert_eq!(e.lifecycle().registry().live_at(t), Some(v3));
}

fn open(e: &mut Engine, x: Vec<f32>, t: i64) -> tradeloop_core::command::Opened {
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
    o
}

#[test]
fn without_ab_routing_a_candidate_gets_no_trade() {
    let (mut e, mut t, mut r) = trained_engine(manual());
    feed(&mut e, &mut r, A, 50, &mut t);
    learn(&mut e, LearnMode::Incremental, t);
    assert!(e.lifecycle().trial().is_some());
    for _ in 0..100 {
        let (x, _) = sample(&mut r, A);
        t += 1000;
        let o = open(&mut e, x, t);
        assert_eq!((o.arm, o.model_version), (Arm::Champion, 2));
    }
}

#[test]
fn with_ab_routing_the_candidate_gets_its_share_and_the_trial_waits_for_both_arms() {
    let (mut e, mut t, mut r) = trained_engine(manual());
    // Turn A/B routing on through a checkpoint round trip of the configuration.
    let mut dto = tradeloop_core::checkpoint::decode(&e.snapshot()).unwrap();
    dto.config.lifecycle.ab.enabled = true;
    dto.config.lifecycle.ab.min_trades = 40;
    e = Engine::restore(&tradeloop_core::checkpoint::seal(
        tradeloop_core::checkpoint::SCHEMA,
        &postcard::to_allocvec(&dto).unwrap(),
    ))
    .unwrap();
    feed(&mut e, &mut r, A, 50, &mut t);
    let candidate = learn(&mut e, LearnMode::Incremental, t)
        .run
        .unwrap()
        .version
        .unwrap();
    let (mut arms, mut ids) = ([0u32; 2], Vec::new());
    for _ in 0..200 {
        let (x, ret) = sample(&mut r, A);
        t += 1000;
        let o = open(&mut e, x, t);
        match o.arm {
            Arm::Champion => assert_eq!(o.model_version, 2),
            Arm::Challenger => assert_eq!(o.model_version, candidate),
        }
        arms[o.arm as usize] += 1;
        ids.push((o.trade_id, 100.0 * (1.0 + ret)));
    }
    assert!(arms[0] > 60 && arms[1] > 60, "{arms:?}");
    // The trial's rows come from these closes; its verdict waits for 40 trades per arm.
    let mut ends = Vec::new();
    for (id, price) in ids {
        t += 1000;
        let Reply::Closed(c) = e
            .apply(
                Command::Close(CloseTrade {
                    trade_id: id,
                    price,
                    reason: ExitReason::Manual,
                }),
                t,
            )
            .unwrap()
        else {
            panic!()
        };
        if let Some(end) = c.trial {
            ends.push(end);
        }
        if ends.is_empty() {
            let Reply::Trial(Some(s)) = e.apply(Command::Query(Query::Trial), t).unwrap() else {
                panic!()
            };
            let ab = s.ab.expect("A/B arms");
            assert!(!s.interim.passed);
            assert!(ab.champion.trades + ab.challenger.trades <= arms[0] as u64 + arms[1] as u64);
        }
    }
    assert_eq!(
        ends.len(),
        1,
        "the trial ended once its sample was complete"
    );
    let result = ends[0].result;
    let trades = result.trades.expect("per-arm trades in the result");
    assert!(trades[0] >= 40 && trades[1] >= 40, "{trades:?}");
    assert!(result.pnl_p_value.is_some());
    let Reply::Monitor(m) = e
        .apply(
            Command::Query(Query::Monitor {
                version: Some(candidate),
            }),
            t,
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(u64::from(m.windows[3].trades), u64::from(arms[1]));
}

#[test]
fn the_schedule_says_what_is_due_and_run_due_runs_it() {
    let mut e = Engine::new(manual(), 7, T0).unwrap();
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
    // With nothing learned yet the snapshot skips, the forced retrain has no data and is
    // rejected, and the evaluation measures nothing: none of them creates a version.
    assert_eq!(ran[0].1.decision.action, Action::Skip);
    assert!(ran[1].1.run.as_ref().is_some_and(|r| r.rejected.is_some()));
    assert!(ran[2].1.evaluation.is_some());
    assert_eq!(e.lifecycle().registry().created(), 1);
    assert_eq!(due(&mut e, sunday + 1), vec![]);
    // Restored from a checkpoint, the schedule remembers what ran.
    let back = Engine::restore(&e.snapshot()).unwrap();
    assert_eq!(back.lifecycle().schedule(), e.lifecycle().schedule());
}

#[test]
fn accuracy_counts_days_back_from_the_newest_close_not_the_wall_clock() {
    let mut e = Engine::new(manual(), 9, T0).unwrap();
    let mut r = SplitMix64::new(10);
    let mut t = T0;
    for _ in 0..40 {
        let (x, ret) = sample(&mut r, A);
        t += 6 * 3_600_000;
        let o = open(&mut e, x, t);
        e.apply(
            Command::Close(CloseTrade {
                trade_id: o.trade_id,
                price: 100.0 * (1.0 + ret),
                reason: ExitReason::Manual,
            }),
            t + 1000,
        )
        .unwrap();
    }
    // Asked "now" (years later), the window still ends at the newest close.
    let now = T0 + 3650 * DAY;
    let Reply::Accuracy(a) = e
        .apply(Command::Query(Query::Accuracy { days: 2 }), now)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(a.until, Some(t + 1000));
    assert_eq!(a.window.trades, 8, "four closes a day, two days");
    let Reply::Accuracy(all) = e
        .apply(Command::Query(Query::Accuracy { days: 30 }), now)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(all.window.trades, 40);
}

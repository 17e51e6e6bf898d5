//! `Command::Rank`: the top K by an outside ranker's score are entered, with score, class and
//! model version in the trade; recorded scores replay bit for bit without the ranker; bad
//! input and bad ranker output change nothing; the top-K monitor scores each ranking.

mod common;

use common::small_config;
use tradeloop_core::command::Ranked;
use tradeloop_core::ranking::{Candidate, RankOutput, RankRequest, RankScore, Ranker};
use tradeloop_core::{Command, Engine, Error, Outcome, Query, Reply};

/// Scores a row by its first feature; class from its sign. Counts its calls.
struct FirstFeature {
    calls: usize,
}

impl Ranker for FirstFeature {
    fn rank(&mut self, rows: &[f32], dim: usize) -> Result<RankOutput, Error> {
        self.calls += 1;
        Ok(RankOutput {
            model: "first-feature@000000000001".into(),
            scores: rows
                .chunks(dim)
                .map(|r| RankScore {
                    score: r[0],
                    class: Some(if r[0] > 0.0 {
                        Outcome::Win
                    } else {
                        Outcome::Loss
                    }),
                })
                .collect(),
        })
    }
}

/// A ranker that answers whatever it is given.
struct Fixed(RankOutput);

impl Ranker for Fixed {
    fn rank(&mut self, _rows: &[f32], _dim: usize) -> Result<RankOutput, Error> {
        Ok(self.0.clone())
    }
}

fn candidate(symbol: &str, price: f64, first: f32) -> Candidate {
    let mut features = vec![0.25; 8];
    features[0] = first;
    Candidate {
        symbol: symbol.into(),
        price,
        features,
    }
}

fn universe(prices: [f64; 4], firsts: [f32; 4]) -> Vec<Candidate> {
    ["AAA", "BBB", "CCC", "DDD"]
        .iter()
        .zip(prices.iter().zip(firsts))
        .map(|(s, (&p, f))| candidate(s, p, f))
        .collect()
}

fn request(candidates: Vec<Candidate>, k: u32) -> RankRequest {
    RankRequest {
        candidates,
        k,
        size: 2.0,
        scored: None,
    }
}

fn ranked(reply: Reply) -> Ranked {
    match reply {
        Reply::Ranked(r) => *r,
        other => panic!("expected Ranked, got {other:?}"),
    }
}

const T0: i64 = 1_700_000_000_000;

#[test]
fn the_top_k_are_entered_with_score_class_and_model() {
    let mut e = Engine::new(small_config(), 1, T0).unwrap();
    let mut ranker = FirstFeature { calls: 0 };
    let r = request(universe([10.0, 20.0, 30.0, 40.0], [0.1, 0.9, -0.5, 0.4]), 2);
    let out = ranked(e.apply_with(Command::Rank(r), T0, &mut ranker).unwrap());
    assert_eq!(ranker.calls, 1);
    assert_eq!(out.model, "first-feature@000000000001");
    assert_eq!(out.picks, vec![1, 3], "BBB (0.9) then DDD (0.4)");
    assert_eq!(out.scores.len(), 4);
    assert_eq!(out.opened.len(), 2);
    let trades: Vec<_> = e.journal().open_trades().cloned().collect();
    assert_eq!(trades.len(), 2);
    let bbb = trades.iter().find(|t| t.symbol == "BBB").unwrap();
    assert_eq!(bbb.entry_price, 20.0);
    assert_eq!(bbb.size, 2.0);
    let by = bbb.ranked.as_ref().expect("ranked info recorded");
    assert_eq!((by.rank, by.of, by.score), (1, 4, 0.9));
    assert_eq!(by.class, Some(Outcome::Win));
    assert_eq!(by.model, "first-feature@000000000001");
    assert_eq!(
        trades
            .iter()
            .find(|t| t.symbol == "DDD")
            .unwrap()
            .ranked
            .as_ref()
            .unwrap()
            .rank,
        2
    );

    // A second ranking: BBB is still open, so it is picked but not entered again.
    let r = request(universe([10.0, 21.0, 30.0, 40.0], [0.1, 0.9, 0.8, -0.4]), 2);
    let out = ranked(e.apply_with(Command::Rank(r), T0 + 1, &mut ranker).unwrap());
    assert_eq!(out.picks, vec![1, 2]);
    assert_eq!(out.opened.iter().map(|o| o.0).collect::<Vec<_>>(), vec![2]);
    assert_eq!(e.journal().open_count(), 3);
}

#[test]
fn recorded_scores_replay_bit_for_bit_without_the_ranker() {
    let mut live = Engine::new(small_config(), 9, T0).unwrap();
    let mut replayed = live.clone();
    let mut ranker = FirstFeature { calls: 0 };
    for i in 0..20 {
        let f = |j: usize| ((i * 7 + j * 3) % 11) as f32 / 10.0 - 0.5;
        let prices = [10.0 + i as f64, 20.0, 30.0 - i as f64 * 0.5, 40.0];
        let r = request(
            universe(prices, [f(0), f(1), f(2), f(3)]),
            1 + (i % 3) as u32,
        );
        let t = T0 + i as i64 * 60_000;
        let reply = ranked(
            live.apply_with(Command::Rank(r.clone()), t, &mut ranker)
                .unwrap(),
        );
        // What a host journals: the request with the scores of the reply.
        let resolved = r.resolved(&reply.model, &reply.scores);
        assert!(resolved.scored.is_some());
        let again = ranked(replayed.apply(Command::Rank(resolved), t).unwrap());
        assert_eq!(again, reply);
    }
    assert_eq!(ranker.calls, 20);
    assert_eq!(live.snapshot(), replayed.snapshot());
    let restored = Engine::restore(&live.snapshot()).unwrap();
    assert_eq!(restored, live);
}

#[test]
fn bad_rankings_change_nothing() {
    let mut e = Engine::new(small_config(), 3, T0).unwrap();
    let mut good = FirstFeature { calls: 0 };
    e.apply_with(
        Command::Rank(request(
            universe([1.0, 2.0, 3.0, 4.0], [0.0, 0.1, 0.2, 0.3]),
            1,
        )),
        T0,
        &mut good,
    )
    .unwrap();
    let before = e.snapshot();
    let base = || universe([1.0, 2.0, 3.0, 4.0], [0.0, 0.1, 0.2, 0.3]);
    let mut nan = base();
    nan[2].features[5] = f32::NAN;
    let mut short = base();
    short[1].features.pop();
    let mut dup = base();
    dup[3].symbol = "AAA".into();
    let mut bad_price = base();
    bad_price[0].price = f64::NAN;
    let mut bad_symbol = base();
    bad_symbol[0].symbol = "has space".into();
    type Check = fn(&Error) -> bool;
    let cases: Vec<(RankRequest, Check)> = vec![
        (request(nan, 1), |e| matches!(e, Error::NonFinite { .. })),
        (request(short, 1), |e| {
            matches!(
                e,
                Error::FeatureLength {
                    expected: 8,
                    got: 7
                }
            )
        }),
        (request(dup, 1), |e| matches!(e, Error::InvalidRanking(_))),
        (request(bad_price, 1), |e| {
            matches!(e, Error::NonPositive { .. } | Error::NonFinite { .. })
        }),
        (request(bad_symbol, 1), |e| {
            matches!(e, Error::InvalidSymbol)
        }),
        (request(base(), 0), |e| {
            matches!(e, Error::InvalidRanking(_))
        }),
        (request(base(), 5), |e| {
            matches!(e, Error::InvalidRanking(_))
        }),
        (request(Vec::new(), 1), |e| {
            matches!(e, Error::InvalidRanking(_))
        }),
        (
            RankRequest {
                size: -1.0,
                ..request(base(), 1)
            },
            |e| matches!(e, Error::NonPositive { .. }),
        ),
    ];
    for (r, ok) in cases {
        let err = e
            .apply_with(Command::Rank(r.clone()), T0 + 5, &mut good)
            .unwrap_err();
        assert!(ok(&err), "{r:?}: {err}");
        assert_eq!(e.snapshot(), before, "{err}");
    }
    // No ranker attached.
    let err = e
        .apply(Command::Rank(request(base(), 1)), T0 + 5)
        .unwrap_err();
    assert_eq!(err, Error::NoRanker);
    // Ranker output that does not fit: wrong count, NaN score, bad model name.
    let s = |v: f32| RankScore {
        score: v,
        class: None,
    };
    for out in [
        RankOutput {
            model: "m@1".into(),
            scores: vec![s(1.0); 3],
        },
        RankOutput {
            model: "m@1".into(),
            scores: vec![s(1.0), s(f32::NAN), s(0.0), s(0.0)],
        },
        RankOutput {
            model: "".into(),
            scores: vec![s(1.0); 4],
        },
        RankOutput {
            model: "two words".into(),
            scores: vec![s(1.0); 4],
        },
        RankOutput {
            model: "x".repeat(65),
            scores: vec![s(1.0); 4],
        },
    ] {
        let err = e
            .apply_with(
                Command::Rank(request(base(), 1)),
                T0 + 5,
                &mut Fixed(out.clone()),
            )
            .unwrap_err();
        assert_eq!(e.snapshot(), before, "{out:?}: {err}");
        // The same output recorded in the command is refused the same way.
        let recorded = RankRequest {
            scored: Some(out),
            ..request(base(), 1)
        };
        assert!(e.apply(Command::Rank(recorded), T0 + 5).is_err());
        assert_eq!(e.snapshot(), before);
    }
}

#[test]
fn a_full_journal_enters_what_fits_in_rank_order() {
    let mut config = small_config();
    config.journal.max_open = 2;
    let mut e = Engine::new(config, 4, T0).unwrap();
    let mut ranker = FirstFeature { calls: 0 };
    let r = request(universe([1.0, 2.0, 3.0, 4.0], [0.4, 0.3, 0.2, 0.1]), 4);
    let out = ranked(e.apply_with(Command::Rank(r), T0, &mut ranker).unwrap());
    assert_eq!(out.picks, vec![0, 1, 2, 3]);
    assert_eq!(
        out.opened.iter().map(|o| o.0).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

#[test]
fn the_monitor_reports_top_k_return_against_the_universe() {
    let mut e = Engine::new(small_config(), 5, T0).unwrap();
    let mut ranker = FirstFeature { calls: 0 };
    let report = |e: &mut Engine| match e.apply(Command::Query(Query::Ranking), T0).unwrap() {
        Reply::Ranking(r) => *r,
        other => panic!("{other:?}"),
    };
    assert_eq!(report(&mut e).rankings, 0);
    assert_eq!(report(&mut e).model, None);
    // Ranking 1 picks AAA and BBB (scores 0.9, 0.8).
    let r = request(
        universe([100.0, 100.0, 100.0, 100.0], [0.9, 0.8, 0.1, -0.2]),
        2,
    );
    e.apply_with(Command::Rank(r), T0, &mut ranker).unwrap();
    // Then: AAA +4%, BBB +2%, CCC 0%, DDD -2%. Picks +3%, universe +1%, excess +2%;
    // score order equals return order: IC = 1.
    let r = request(
        universe([104.0, 102.0, 100.0, 98.0], [0.0, 0.0, 0.0, 0.0]),
        2,
    );
    e.apply_with(Command::Rank(r), T0 + 1, &mut ranker).unwrap();
    let m = report(&mut e);
    assert_eq!((m.rankings, m.periods), (2, 1));
    assert!((m.mean_top_k_return - 0.03).abs() < 1e-12, "{m:?}");
    assert!((m.mean_universe_return - 0.01).abs() < 1e-12, "{m:?}");
    assert!((m.mean_excess_return - 0.02).abs() < 1e-12, "{m:?}");
    assert_eq!(m.hit_rate, 1.0);
    assert!((m.mean_ic - 1.0).abs() < 1e-12);
    assert_eq!(m.model.as_deref(), Some("first-feature@000000000001"));
    // The monitor survives a checkpoint.
    let mut back = Engine::restore(&e.snapshot()).unwrap();
    assert_eq!(report(&mut back), m);
}

//! The training schedule as data: when the incremental update, the full retrain and the
//! evaluation run.
//!
//! The core reads no clock: the caller passes `now` (ms since the Unix epoch, UTC) and asks
//! which jobs are [due](ScheduleState::due), runs them, and [marks](ScheduleState::mark_run)
//! them. Calendar arithmetic uses the one calendar of [`crate::market`] (integers only,
//! `i128`, so no `i64` input can overflow); an occurrence that is not representable as `i64`
//! milliseconds is `None`.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::market::{civil_from_days, days_from_civil};

const MS_PER_MINUTE: i128 = 60_000;
const MS_PER_DAY: i128 = 86_400_000;
const MINUTES_PER_DAY: u16 = 1440;

/// When a job recurs. Times of day are UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub enum Cadence {
    /// Every day at `minute` minutes after 00:00 UTC (0..1440).
    Daily {
        /// Minutes after midnight UTC, 0..1440.
        minute: u16,
    },
    /// Every week on `weekday` (0 = Monday .. 6 = Sunday) at `minute` after 00:00 UTC.
    Weekly {
        /// 0 = Monday .. 6 = Sunday.
        weekday: u8,
        /// Minutes after midnight UTC, 0..1440.
        minute: u16,
    },
    /// Every month on `day` (1..=28, so every month has it) at `minute` after 00:00 UTC.
    Monthly {
        /// Day of the month, 1..=28.
        day: u8,
        /// Minutes after midnight UTC, 0..1440.
        minute: u16,
    },
}

impl Cadence {
    /// Checks the fields' ranges.
    pub fn validate(&self) -> Result<(), Error> {
        let minute = match *self {
            Cadence::Daily { minute } => minute,
            Cadence::Weekly { weekday, minute } => {
                check(
                    weekday < 7,
                    "schedule weekday must be in 0..=6 (Monday..Sunday)",
                )?;
                minute
            }
            Cadence::Monthly { day, minute } => {
                check(
                    (1..=28).contains(&day),
                    "schedule day of month must be in 1..=28",
                )?;
                minute
            }
        };
        check(
            minute < MINUTES_PER_DAY,
            "schedule minute must be in 0..1440",
        )
    }

    fn is_valid(&self) -> bool {
        self.validate().is_ok()
    }

    /// Minutes after midnight, in milliseconds.
    fn time_of_day_ms(&self) -> i128 {
        let minute = match *self {
            Cadence::Daily { minute }
            | Cadence::Weekly { minute, .. }
            | Cadence::Monthly { minute, .. } => minute,
        };
        i128::from(minute) * MS_PER_MINUTE
    }
}

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Job {
    /// Incremental fine-tuning on the new trades.
    Incremental,
    /// Full retrain.
    Retrain,
    /// Evaluation, model selection and cleanup.
    Evaluation,
}

impl Job {
    /// Every job, in the order of [`ScheduleState::last_run`].
    pub const ALL: [Job; 3] = [Job::Incremental, Job::Retrain, Job::Evaluation];

    /// Position in [`Job::ALL`].
    pub const fn index(self) -> usize {
        match self {
            Job::Incremental => 0,
            Job::Retrain => 1,
            Job::Evaluation => 2,
        }
    }
}

/// When each job runs; `None` disables a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Incremental update (default daily at 02:00 UTC: after the US session has closed and
    /// the day's trades are in).
    pub incremental: Option<Cadence>,
    /// Full retrain (default weekly on Sunday at 03:00 UTC: markets are closed, and it runs
    /// after that night's incremental update).
    pub retrain: Option<Cadence>,
    /// Evaluation and cleanup (default monthly on day 1 at 04:00 UTC: after the previous
    /// month is complete and after the night's other jobs).
    pub evaluation: Option<Cadence>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            incremental: Some(Cadence::Daily { minute: 2 * 60 }),
            retrain: Some(Cadence::Weekly {
                weekday: 6,
                minute: 3 * 60,
            }),
            evaluation: Some(Cadence::Monthly {
                day: 1,
                minute: 4 * 60,
            }),
        }
    }
}

impl ScheduleConfig {
    /// Checks every cadence.
    pub fn validate(&self) -> Result<(), Error> {
        for c in [self.incremental, self.retrain, self.evaluation]
            .iter()
            .flatten()
        {
            c.validate()?;
        }
        Ok(())
    }

    /// The cadence of `job` (`None`: the job is disabled).
    pub fn cadence(&self, job: Job) -> Option<Cadence> {
        match job {
            Job::Incremental => self.incremental,
            Job::Retrain => self.retrain,
            Job::Evaluation => self.evaluation,
        }
    }
}

/// When each job last ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// When the schedule was created (ms since the Unix epoch); a job that never ran counts
    /// as having run then, so the first query does not fire every job at once.
    pub created_at: i64,
    /// Last run of each job in [`Job::ALL`] order (ms since the Unix epoch).
    pub last_run: [Option<i64>; 3],
}

impl ScheduleState {
    /// A schedule created at `created_at` whose jobs have never run.
    pub const fn new(created_at: i64) -> Self {
        Self {
            created_at,
            last_run: [None; 3],
        }
    }

    /// The last run of `job`, or `created_at` if it never ran.
    pub fn last(&self, job: Job) -> i64 {
        self.last_run
            .get(job.index())
            .copied()
            .flatten()
            .unwrap_or(self.created_at)
    }

    /// The jobs (in [`Job::ALL`] order) whose most recent scheduled occurrence at or before
    /// `now` is later than their last run. Disabled jobs, invalid cadences and occurrences
    /// outside the `i64` range are never due. Several missed occurrences make a job due
    /// once.
    pub fn due(&self, config: &ScheduleConfig, now: i64) -> Vec<Job> {
        Job::ALL
            .into_iter()
            .filter(|&job| {
                config
                    .cadence(job)
                    .and_then(|c| previous_occurrence(&c, now))
                    .is_some_and(|at| at > self.last(job))
            })
            .collect()
    }

    /// Records that `job` ran at `now`. The recorded time never moves backwards (a stale
    /// `now` cannot make a job due again).
    pub fn mark_run(&mut self, job: Job, now: i64) {
        let last = self.last(job);
        if let Some(slot) = self.last_run.get_mut(job.index()) {
            *slot = Some(match *slot {
                Some(_) => now.max(last),
                None => now,
            });
        }
    }
}

/// The first occurrence of `cadence` strictly after `after` (ms since the Unix epoch).
/// `None` if the cadence is invalid or the occurrence is beyond `i64::MAX` ms.
pub fn next_occurrence(cadence: &Cadence, after: i64) -> Option<i64> {
    if !cadence.is_valid() {
        return None;
    }
    let t = i128::from(after);
    let day = t.div_euclid(MS_PER_DAY);
    let tod = cadence.time_of_day_ms();
    let at = match *cadence {
        Cadence::Daily { .. } => {
            let c = day * MS_PER_DAY + tod;
            if c > t { c } else { c + MS_PER_DAY }
        }
        Cadence::Weekly { weekday, .. } => {
            let ahead = (i128::from(weekday) - weekday_of(day)).rem_euclid(7);
            let c = (day + ahead) * MS_PER_DAY + tod;
            if c > t { c } else { c + 7 * MS_PER_DAY }
        }
        Cadence::Monthly { day: dom, .. } => {
            let (y, m, _) = civil_from_days(day);
            let c = days_from_civil(y, m, i128::from(dom)) * MS_PER_DAY + tod;
            if c > t {
                c
            } else {
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, i128::from(dom)) * MS_PER_DAY + tod
            }
        }
    };
    i64::try_from(at).ok()
}

/// The last occurrence of `cadence` at or before `at_or_before` (ms since the Unix epoch).
/// `None` if the cadence is invalid or the occurrence is before `i64::MIN` ms.
pub fn previous_occurrence(cadence: &Cadence, at_or_before: i64) -> Option<i64> {
    if !cadence.is_valid() {
        return None;
    }
    let t = i128::from(at_or_before);
    let day = t.div_euclid(MS_PER_DAY);
    let tod = cadence.time_of_day_ms();
    let at = match *cadence {
        Cadence::Daily { .. } => {
            let c = day * MS_PER_DAY + tod;
            if c <= t { c } else { c - MS_PER_DAY }
        }
        Cadence::Weekly { weekday, .. } => {
            let back = (weekday_of(day) - i128::from(weekday)).rem_euclid(7);
            let c = (day - back) * MS_PER_DAY + tod;
            if c <= t { c } else { c - 7 * MS_PER_DAY }
        }
        Cadence::Monthly { day: dom, .. } => {
            let (y, m, _) = civil_from_days(day);
            let c = days_from_civil(y, m, i128::from(dom)) * MS_PER_DAY + tod;
            if c <= t {
                c
            } else {
                let (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
                days_from_civil(y, m, i128::from(dom)) * MS_PER_DAY + tod
            }
        }
    };
    i64::try_from(at).ok()
}

/// Day of the week of `days` since 1970-01-01 (a Thursday): 0 = Monday .. 6 = Sunday.
fn weekday_of(days: i128) -> i128 {
    (days + 3).rem_euclid(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds of `y-m-d hh:mm` UTC.
    fn ms(y: i128, m: i128, d: i128, hh: i64, mm: i64) -> i64 {
        i64::try_from(days_from_civil(y, m, d) * MS_PER_DAY).unwrap() + (hh * 60 + mm) * 60_000
    }

    #[test]
    fn calendar_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday_of(0), 3); // Thursday
        // 2024-02-29 was a Thursday; 2000-01-01 a Saturday; 1969-12-31 a Wednesday;
        // 1900-01-01 a Monday; 0001-01-01 (proleptic Gregorian) a Monday.
        assert_eq!(weekday_of(days_from_civil(2024, 2, 29)), 3);
        assert_eq!(weekday_of(days_from_civil(2000, 1, 1)), 5);
        assert_eq!(weekday_of(-1), 2);
        assert_eq!(weekday_of(days_from_civil(1900, 1, 1)), 0);
        assert_eq!(weekday_of(days_from_civil(1, 1, 1)), 0);
        // 2000-01-01 is day 10957; 1600-03-01 and the leap rules: 1900 is not a leap year,
        // 2000 is.
        assert_eq!(days_from_civil(2000, 1, 1), 10_957);
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        // 2024-01-31T23:59Z = 1706745540000 ms (date -d 2024-01-31T23:59Z +%s).
        assert_eq!(ms(2024, 1, 31, 23, 59), 1_706_745_540_000);
        // Round trip over a wide range of days, including negative ones.
        let mut d = -800_000i128;
        while d <= 800_000 {
            let (y, m, dd) = civil_from_days(d);
            assert!((1..=12).contains(&m) && (1..=31).contains(&dd));
            assert_eq!(days_from_civil(y, m, dd), d);
            d += 97;
        }
    }

    #[test]
    fn occurrences_at_known_times() {
        let monthly = Cadence::Monthly {
            day: 1,
            minute: 240,
        };
        let from = ms(2024, 1, 31, 23, 59);
        assert_eq!(next_occurrence(&monthly, from), Some(ms(2024, 2, 1, 4, 0)));
        assert_eq!(
            previous_occurrence(&monthly, from),
            Some(ms(2024, 1, 1, 4, 0))
        );
        // At exactly the occurrence: previous is it, next is a month later.
        let at = ms(2024, 2, 1, 4, 0);
        assert_eq!(previous_occurrence(&monthly, at), Some(at));
        assert_eq!(next_occurrence(&monthly, at), Some(ms(2024, 3, 1, 4, 0)));
        assert_eq!(
            previous_occurrence(&monthly, at - 1),
            Some(ms(2024, 1, 1, 4, 0))
        );
        // Across the year end, and on day 28 of a leap / non-leap February.
        let d28 = Cadence::Monthly { day: 28, minute: 0 };
        assert_eq!(
            next_occurrence(&d28, ms(2023, 12, 28, 0, 0)),
            Some(ms(2024, 1, 28, 0, 0))
        );
        assert_eq!(
            previous_occurrence(&d28, ms(2024, 1, 27, 23, 59)),
            Some(ms(2023, 12, 28, 0, 0))
        );
        assert_eq!(
            next_occurrence(&d28, ms(2024, 2, 28, 0, 0)),
            Some(ms(2024, 3, 28, 0, 0))
        );
        // Weekly Sunday 03:00: 2024-02-29 (Thursday) -> Sunday 2024-03-03; before it,
        // Sunday 2024-02-25.
        let sunday = Cadence::Weekly {
            weekday: 6,
            minute: 180,
        };
        let thu = ms(2024, 2, 29, 12, 0);
        assert_eq!(next_occurrence(&sunday, thu), Some(ms(2024, 3, 3, 3, 0)));
        assert_eq!(
            previous_occurrence(&sunday, thu),
            Some(ms(2024, 2, 25, 3, 0))
        );
        // On the Sunday itself, before and after 03:00.
        let sun_early = ms(2024, 3, 3, 2, 59);
        assert_eq!(
            previous_occurrence(&sunday, sun_early),
            Some(ms(2024, 2, 25, 3, 0))
        );
        assert_eq!(
            next_occurrence(&sunday, sun_early),
            Some(ms(2024, 3, 3, 3, 0))
        );
        let sun_late = ms(2024, 3, 3, 3, 1);
        assert_eq!(
            previous_occurrence(&sunday, sun_late),
            Some(ms(2024, 3, 3, 3, 0))
        );
        assert_eq!(
            next_occurrence(&sunday, sun_late),
            Some(ms(2024, 3, 10, 3, 0))
        );
        // Daily 02:00, before the epoch (negative times).
        let daily = Cadence::Daily { minute: 120 };
        let t = ms(1969, 12, 31, 1, 0);
        assert!(t < 0);
        assert_eq!(previous_occurrence(&daily, t), Some(ms(1969, 12, 30, 2, 0)));
        assert_eq!(next_occurrence(&daily, t), Some(ms(1969, 12, 31, 2, 0)));
        assert_eq!(next_occurrence(&daily, -1), Some(ms(1970, 1, 1, 2, 0)));
        assert_eq!(
            previous_occurrence(&daily, -1),
            Some(ms(1969, 12, 31, 2, 0))
        );
        // Monday (weekday 0) before the epoch: 1969-12-29.
        let monday = Cadence::Weekly {
            weekday: 0,
            minute: 0,
        };
        assert_eq!(
            previous_occurrence(&monday, 0),
            Some(ms(1969, 12, 29, 0, 0))
        );
        assert_eq!(next_occurrence(&monday, 0), Some(ms(1970, 1, 5, 0, 0)));
        // Invalid cadences give None.
        assert_eq!(next_occurrence(&Cadence::Daily { minute: 1440 }, 0), None);
        assert_eq!(
            previous_occurrence(&Cadence::Monthly { day: 0, minute: 0 }, 0),
            None
        );
    }

    #[test]
    fn due_and_mark_run_follow_the_calendar() {
        let config = ScheduleConfig::default();
        // Created Wednesday 2024-01-31 10:00 UTC.
        let mut s = ScheduleState::new(ms(2024, 1, 31, 10, 0));
        assert!(s.due(&config, ms(2024, 1, 31, 23, 59)).is_empty());
        // Thursday 2024-02-01 05:00: the daily 02:00 and the monthly day-1 04:00 have passed.
        let t = ms(2024, 2, 1, 5, 0);
        assert_eq!(s.due(&config, t), vec![Job::Incremental, Job::Evaluation]);
        s.mark_run(Job::Incremental, t);
        assert_eq!(s.due(&config, t), vec![Job::Evaluation]);
        s.mark_run(Job::Evaluation, t + 1);
        assert!(s.due(&config, t + 2).is_empty());
        assert!(s.due(&config, ms(2024, 2, 2, 1, 59)).is_empty());
        // Friday 02:00 exactly: the incremental is due again.
        assert_eq!(s.due(&config, ms(2024, 2, 2, 2, 0)), vec![Job::Incremental]);
        // Three days missed: due once, and one run clears it.
        let sun = ms(2024, 2, 4, 3, 30);
        assert_eq!(s.due(&config, sun), vec![Job::Incremental, Job::Retrain]);
        s.mark_run(Job::Incremental, sun);
        s.mark_run(Job::Retrain, sun);
        assert!(s.due(&config, sun).is_empty());
        // A stale mark cannot move the last run backwards.
        s.mark_run(Job::Retrain, ms(2024, 1, 1, 0, 0));
        assert_eq!(s.last_run[Job::Retrain.index()], Some(sun));
        // The next month's evaluation.
        assert!(
            !s.due(&config, ms(2024, 3, 1, 3, 59))
                .contains(&Job::Evaluation)
        );
        assert!(
            s.due(&config, ms(2024, 3, 1, 4, 0))
                .contains(&Job::Evaluation)
        );
        // A clock that went backwards: nothing is due.
        assert!(s.due(&config, ms(2024, 1, 15, 0, 0)).is_empty());
        // Disabled jobs are never due.
        let only_retrain = ScheduleConfig {
            incremental: None,
            evaluation: None,
            ..config
        };
        assert_eq!(
            s.due(&only_retrain, ms(2025, 1, 1, 0, 0)),
            vec![Job::Retrain]
        );
        let none = ScheduleConfig {
            incremental: None,
            retrain: None,
            evaluation: None,
        };
        assert!(s.due(&none, i64::MAX).is_empty());
    }

    #[test]
    fn config_validation() {
        assert_eq!(ScheduleConfig::default().validate(), Ok(()));
        let bad = [
            Cadence::Daily { minute: 1440 },
            Cadence::Weekly {
                weekday: 7,
                minute: 0,
            },
            Cadence::Weekly {
                weekday: 0,
                minute: 1440,
            },
            Cadence::Monthly { day: 29, minute: 0 },
            Cadence::Monthly { day: 0, minute: 0 },
            Cadence::Monthly {
                day: 1,
                minute: u16::MAX,
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(Error::InvalidConfig(_))),
                "{c:?}"
            );
            let config = ScheduleConfig {
                evaluation: Some(c),
                ..ScheduleConfig::default()
            };
            assert!(config.validate().is_err(), "{c:?}");
            // An invalid cadence that slipped through is never due.
            assert!(
                !ScheduleState::new(0)
                    .due(&config, i64::MAX)
                    .contains(&Job::Evaluation)
            );
        }
        for c in [
            Cadence::Daily { minute: 1439 },
            Cadence::Weekly {
                weekday: 6,
                minute: 0,
            },
            Cadence::Monthly {
                day: 28,
                minute: 1439,
            },
        ] {
            assert_eq!(c.validate(), Ok(()));
        }
    }

    #[test]
    fn extreme_times() {
        let cadences = [
            Cadence::Daily { minute: 0 },
            Cadence::Daily { minute: 1439 },
            Cadence::Weekly {
                weekday: 3,
                minute: 0,
            },
            Cadence::Monthly {
                day: 28,
                minute: 1439,
            },
        ];
        for c in cadences {
            assert_eq!(next_occurrence(&c, i64::MAX), None);
            assert_eq!(previous_occurrence(&c, i64::MIN), None);
            let p = previous_occurrence(&c, i64::MAX).unwrap();
            assert!(next_occurrence(&c, p).is_none_or(|n| n > p));
            let n = next_occurrence(&c, i64::MIN).unwrap();
            assert!(n > i64::MIN && previous_occurrence(&c, n) == Some(n));
        }
        let config = ScheduleConfig::default();
        let mut s = ScheduleState::new(i64::MIN);
        assert_eq!(s.due(&config, i64::MIN), vec![]);
        assert_eq!(s.due(&config, i64::MAX).len(), 3);
        for job in Job::ALL {
            s.mark_run(job, i64::MAX);
        }
        assert!(s.due(&config, i64::MAX).is_empty());
    }

    proptest::proptest! {
        #[test]
        fn occurrences_bracket_any_time(
            t: i64,
            minute in 0u16..1440,
            weekday in 0u8..7,
            day in 1u8..=28,
        ) {
            for c in [
                Cadence::Daily { minute },
                Cadence::Weekly { weekday, minute },
                Cadence::Monthly { day, minute },
            ] {
                let prev = previous_occurrence(&c, t);
                let next = next_occurrence(&c, t);
                if let Some(p) = prev {
                    proptest::prop_assert!(p <= t);
                    // No occurrence between prev and t: the next one after prev is after t.
                    if let Some(n) = next_occurrence(&c, p) {
                        proptest::prop_assert!(n > t);
                    }
                    // prev lands on the cadence's calendar position.
                    let day_no = i128::from(p).div_euclid(MS_PER_DAY);
                    let tod = i128::from(p).rem_euclid(MS_PER_DAY);
                    proptest::prop_assert_eq!(tod, i128::from(minute) * MS_PER_MINUTE);
                    match c {
                        Cadence::Weekly { .. } => {
                            proptest::prop_assert_eq!(weekday_of(day_no), i128::from(weekday));
                        }
                        Cadence::Monthly { .. } => {
                            proptest::prop_assert_eq!(civil_from_days(day_no).2, i128::from(day));
                        }
                        Cadence::Daily { .. } => {}
                    }
                }
                if let Some(n) = next {
                    proptest::prop_assert!(n > t);
                    if let Some(p) = previous_occurrence(&c, n - 1) {
                        proptest::prop_assert!(p <= t);
                    }
                }
                // Both exist unless t is within about a month of the i64 range's ends.
                let month_ms = 32 * 86_400_000i64;
                if t > i64::MIN + month_ms {
                    proptest::prop_assert!(prev.is_some());
                }
                if t < i64::MAX - month_ms {
                    proptest::prop_assert!(next.is_some());
                }
            }
        }

        #[test]
        fn due_never_panics(
            created: i64,
            now: i64,
            runs: [Option<i64>; 3],
            minute: u16,
            weekday: u8,
            day: u8,
        ) {
            let config = ScheduleConfig {
                incremental: Some(Cadence::Daily { minute }),
                retrain: Some(Cadence::Weekly { weekday, minute }),
                evaluation: Some(Cadence::Monthly { day, minute }),
            };
            let mut s = ScheduleState { created_at: created, last_run: runs };
            let due = s.due(&config, now);
            for job in due {
                s.mark_run(job, now);
            }
            // Whatever was due at `now` is not due any more.
            proptest::prop_assert!(s.due(&config, now).is_empty());
        }
    }
}

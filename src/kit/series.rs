//! The occupancy time series: how full a stage's input edge was over the
//! run ([`Series`], sampled every [`OCCUPANCY_EVERY`]), bounded in size
//! whatever the run's length, and its form in the report
//! ([`OccupancyReport`]).

use std::time::Duration;

use serde::Serialize;

use super::latency::round;

/// How often the report samples every input edge's occupancy: fine enough
/// to catch a bottleneck that lasts a second, cheap enough (a lock and a
/// length read per stage) to run under any load.
pub const OCCUPANCY_EVERY: Duration = Duration::from_millis(100);

/// Most points an occupancy time series keeps: when full, neighbouring
/// points merge in pairs and each point covers twice the time, so an hour
/// or a month of samples is still a short, fixed-size series.
pub const SERIES_POINTS: usize = 64;

/// A bounded time series of samples in 0..1: the mean and max overall, and
/// at most [`SERIES_POINTS`] points, each the mean of `per_point` samples.
#[derive(Debug, Default)]
pub struct Series {
    points: Vec<(f64, u32)>,
    /// Samples per point (doubles each time the points merge); 0 before
    /// the first sample.
    per_point: u32,
    sum: f64,
    count: u64,
    max: f64,
}

impl Series {
    /// Adds one sample.
    pub fn push(&mut self, x: f64) {
        self.per_point = self.per_point.max(1);
        self.sum += x;
        self.count += 1;
        self.max = self.max.max(x);
        match self.points.last_mut() {
            Some((sum, n)) if *n < self.per_point => {
                *sum += x;
                *n += 1;
            }
            _ => self.points.push((x, 1)),
        }
        if self.points.len() > SERIES_POINTS {
            self.points = self
                .points
                .chunks(2)
                .map(|c| c.iter().fold((0.0, 0), |(s, n), p| (s + p.0, n + p.1)))
                .collect();
            self.per_point *= 2;
        }
    }

    /// The series for the report, sampled every `every`; `None` when empty.
    pub fn report(&self, every: Duration) -> Option<OccupancyReport> {
        if self.count == 0 {
            return None;
        }
        Some(OccupancyReport {
            mean: round(self.sum / self.count as f64, 3),
            max: round(self.max, 3),
            samples: self.count,
            point_s: round(every.as_secs_f64() * f64::from(self.per_point), 3),
            series: self
                .points
                .iter()
                .map(|(s, n)| round(s / f64::from(*n), 3))
                .collect(),
        })
    }
}

/// How full a stage's input edge was over the run (0 empty, 1 full).
#[derive(Debug, Clone, Serialize)]
pub struct OccupancyReport {
    /// Mean of all samples.
    pub mean: f64,
    /// Highest sample.
    pub max: f64,
    /// Number of samples (one every `occupancy_every_s`).
    pub samples: u64,
    /// Seconds each point of `series` covers.
    pub point_s: f64,
    /// Mean occupancy per point, oldest first.
    pub series: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_stays_bounded_and_keeps_mean_and_max() {
        let mut s = Series::default();
        for i in 0..1000 {
            s.push(if i == 500 { 1.0 } else { 0.5 });
        }
        let r = s.report(OCCUPANCY_EVERY).unwrap();
        assert!(r.series.len() <= SERIES_POINTS, "{}", r.series.len());
        assert_eq!(r.samples, 1000);
        assert_eq!(r.max, 1.0);
        assert!((r.mean - 0.5005).abs() <= 0.001, "{}", r.mean);
        // Each point covers a power of two of samples; all points together
        // cover every sample.
        assert!((r.point_s / 0.1).round() as usize * r.series.len() >= 1000);
    }
}

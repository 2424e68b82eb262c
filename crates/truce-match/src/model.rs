//! The Fellegi-Sunter model: per field and agreement level the probability
//! m of that level among true matches and u among non-matches, estimated
//! without labels by expectation-maximisation over the candidate pairs.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::schema::FieldKind;

/// Agreement levels of one candidate pair, one per field; `MISSING` where a
/// side has no value.
pub type Pattern = Vec<u8>;
pub const MISSING: u8 = u8::MAX;

/// Probabilities are kept away from 0 and 1 so that no single field can
/// veto or force a link.
const FLOOR: f64 = 1e-5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Prior probability that a candidate pair is a match.
    pub lambda: f64,
    /// `m[field][level]`.
    pub m: Vec<Vec<f64>>,
    /// `u[field][level]`.
    pub u: Vec<Vec<f64>>,
    pub iterations: usize,
}

impl Model {
    /// A starting point for EM: matches mostly agree well, non-matches
    /// distributed as in `u_start` (measured on random pairs).
    pub fn initial(level_counts: &[usize], u_start: Vec<Vec<f64>>, lambda: f64) -> Self {
        let m = level_counts
            .iter()
            .map(|&n| {
                let raw: Vec<f64> = (0..n).map(|l| 0.5f64.powi(2 * l as i32 + 1)).collect();
                let total: f64 = raw.iter().sum();
                raw.iter().map(|p| p / total).collect()
            })
            .collect();
        Model {
            lambda: lambda.clamp(1e-4, 0.9),
            m,
            u: u_start,
            iterations: 0,
        }
    }

    /// A model from general knowledge instead of data, for lists too small
    /// for EM: matches mostly agree well, non-matches mostly differ. Per
    /// kind, m and u of each level (best first):
    ///
    /// - name: exact, same after transliteration or in the dictionary,
    ///   close, similar, different;
    /// - date: exact, day and month swapped, partial agrees, one digit off,
    ///   same year, different;
    /// - place: exact, same place, similar, different;
    /// - identifier: exact, one character off, different;
    /// - text: exact, close, half the words, different.
    pub fn prior(kinds: &[FieldKind], lambda: f64) -> Self {
        let (m, u): (Vec<Vec<f64>>, Vec<Vec<f64>>) = kinds
            .iter()
            .map(|kind| {
                let (m, u): (&[f64], &[f64]) = match kind {
                    FieldKind::Name(_) => (
                        &[0.62, 0.25, 0.08, 0.04, 0.01],
                        &[0.01, 0.01, 0.02, 0.06, 0.90],
                    ),
                    FieldKind::Date => (
                        &[0.80, 0.04, 0.06, 0.06, 0.035, 0.005],
                        &[0.0005, 0.0005, 0.01, 0.005, 0.03, 0.954],
                    ),
                    FieldKind::Place => (&[0.60, 0.25, 0.05, 0.10], &[0.03, 0.03, 0.02, 0.92]),
                    FieldKind::Identifier => (&[0.90, 0.05, 0.05], &[0.01, 0.02, 0.97]),
                    FieldKind::Text => (&[0.60, 0.20, 0.10, 0.10], &[0.005, 0.01, 0.05, 0.935]),
                };
                debug_assert_eq!(m.len(), kind.level_count());
                (m.to_vec(), u.to_vec())
            })
            .unzip();
        Model {
            lambda: lambda.clamp(1e-4, 0.9),
            m,
            u,
            iterations: 0,
        }
    }

    /// `weight` of `other` and the rest of `self`, level by level and for
    /// the prior.
    pub fn blend(&self, other: &Model, weight: f64) -> Model {
        let mix = |a: &[Vec<f64>], b: &[Vec<f64>]| -> Vec<Vec<f64>> {
            a.iter()
                .zip(b)
                .map(|(x, y)| {
                    x.iter()
                        .zip(y)
                        .map(|(p, q)| (1.0 - weight) * p + weight * q)
                        .collect()
                })
                .collect()
        };
        Model {
            lambda: (1.0 - weight) * self.lambda + weight * other.lambda,
            m: mix(&self.m, &other.m),
            u: mix(&self.u, &other.u),
            iterations: other.iterations,
        }
    }

    /// Log2 Bayes factor of one field at one level.
    pub fn weight(&self, field: usize, level: u8) -> f64 {
        (self.m[field][level as usize] / self.u[field][level as usize]).log2()
    }

    /// Log2 prior odds.
    pub fn prior_weight(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    fn likelihoods(&self, pattern: &[u8]) -> (f64, f64) {
        let (mut lm, mut lu) = (0.0, 0.0);
        for (field, &level) in pattern.iter().enumerate() {
            if level != MISSING {
                lm += self.m[field][level as usize].ln();
                lu += self.u[field][level as usize].ln();
            }
        }
        (lm, lu)
    }

    /// Runs EM over counted patterns until the parameters move less than
    /// `tolerance` or `max_iterations` pass. The counts stand for the
    /// candidate pairs, so memory does not grow with their number.
    pub fn fit(&mut self, patterns: &HashMap<Pattern, u64>, max_iterations: usize, tolerance: f64) {
        let patterns: Vec<(&Pattern, f64)> = patterns.iter().map(|(p, &c)| (p, c as f64)).collect();
        for iteration in 0..max_iterations {
            let mut m_acc: Vec<Vec<f64>> = self.m.iter().map(|l| vec![0.0; l.len()]).collect();
            let mut u_acc = m_acc.clone();
            let (mut matches, mut total) = (0.0, 0.0);
            let prior = (self.lambda / (1.0 - self.lambda)).ln();
            for (pattern, count) in &patterns {
                let (lm, lu) = self.likelihoods(pattern);
                let posterior = 1.0 / (1.0 + (lu - lm - prior).exp());
                matches += posterior * count;
                total += count;
                for (field, &level) in pattern.iter().enumerate() {
                    if level != MISSING {
                        m_acc[field][level as usize] += posterior * count;
                        u_acc[field][level as usize] += (1.0 - posterior) * count;
                    }
                }
            }
            let normalise = |acc: Vec<Vec<f64>>| -> Vec<Vec<f64>> {
                acc.into_iter()
                    .map(|levels| {
                        let sum: f64 = levels.iter().sum::<f64>() + FLOOR * levels.len() as f64;
                        levels
                            .iter()
                            .map(|c| ((c + FLOOR) / sum).clamp(FLOOR, 1.0 - FLOOR))
                            .collect()
                    })
                    .collect()
            };
            let new_m = normalise(m_acc);
            let new_u = normalise(u_acc);
            let new_lambda = (matches / total.max(1.0)).clamp(1e-6, 0.999);
            let change = max_change(&self.m, &new_m)
                .max(max_change(&self.u, &new_u))
                .max((self.lambda - new_lambda).abs());
            self.m = new_m;
            self.u = new_u;
            self.lambda = new_lambda;
            self.iterations = iteration + 1;
            if change < tolerance {
                break;
            }
        }
    }
}

impl Model {
    /// EM over the prior alone, m and u held: fits the share of matches
    /// among all candidate pairs once m and u come from training sessions.
    pub fn fit_lambda(
        &mut self,
        patterns: &HashMap<Pattern, u64>,
        max_iterations: usize,
        tolerance: f64,
    ) {
        let scored: Vec<(f64, f64)> = patterns
            .iter()
            .map(|(p, &c)| {
                let (lm, lu) = self.likelihoods(p);
                (lu - lm, c as f64)
            })
            .collect();
        for _ in 0..max_iterations {
            let prior = (self.lambda / (1.0 - self.lambda)).ln();
            let (mut matches, mut total) = (0.0, 0.0);
            for (log_ratio, count) in &scored {
                matches += count / (1.0 + (log_ratio - prior).exp());
                total += count;
            }
            let new_lambda = (matches / total.max(1.0)).clamp(1e-6, 0.999);
            let change = (new_lambda - self.lambda).abs();
            self.lambda = new_lambda;
            if change < tolerance {
                break;
            }
        }
    }
}

fn max_change(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f64::max)
}

/// Match probability from a total log2 weight.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three fields (two would not identify the model), two levels: matches
    /// agree on each with probability 0.9, non-matches with 0.2. EM from a
    /// neutral start recovers them.
    #[test]
    fn em_recovers_known_parameters() {
        let mut counts: HashMap<Pattern, u64> = HashMap::new();
        let (n_match, n_non) = (1000.0f64, 9000.0f64);
        let pm = |l: u8| if l == 0 { 0.9 } else { 0.1 };
        let pu = |l: u8| if l == 0 { 0.2 } else { 0.8 };
        for a in 0..2u8 {
            for b in 0..2u8 {
                for c in 0..2u8 {
                    let n = n_match * pm(a) * pm(b) * pm(c) + n_non * pu(a) * pu(b) * pu(c);
                    counts.insert(vec![a, b, c], n.round() as u64);
                }
            }
        }
        let mut model = Model::initial(&[2, 2, 2], vec![vec![0.5, 0.5]; 3], 0.3);
        model.fit(&counts, 2000, 1e-10);
        assert!((model.lambda - 0.1).abs() < 0.01, "lambda {}", model.lambda);
        for field in 0..3 {
            assert!((model.m[field][0] - 0.9).abs() < 0.02, "m {:?}", model.m);
            assert!((model.u[field][0] - 0.2).abs() < 0.02, "u {:?}", model.u);
        }
    }
}

//! Seeded row sampling shared by the dataset recipes and benchmarks.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The generator every recipe uses, so a seed means the same split everywhere.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// `indices` shuffled.
pub fn shuffled(mut indices: Vec<usize>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    indices.shuffle(rng);
    indices
}

/// Splits `indices` after shuffling: the first `round(fraction · n)` and the rest.
pub fn split_fraction(
    indices: Vec<usize>,
    fraction: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut all = shuffled(indices, rng);
    let cut = (all.len() as f64 * fraction).round() as usize;
    let rest = all.split_off(cut.min(all.len()));
    (all, rest)
}

/// Splits `indices` by class so each side keeps the class proportions (`labels[i]` is the
/// class of row `i`).
pub fn split_stratified(
    indices: &[usize],
    labels: &[u8],
    fraction: f64,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for members in by_class(indices, labels) {
        let (a, b) = split_fraction(members, fraction, rng);
        first.extend(a);
        rest.extend(b);
    }
    (first, rest)
}

/// `indices` grouped by class, classes in ascending order, each group in `indices`' order.
fn by_class(indices: &[usize], labels: &[u8]) -> Vec<Vec<usize>> {
    let mut classes: Vec<u8> = indices.iter().map(|&i| labels[i]).collect();
    classes.sort_unstable();
    classes.dedup();
    classes
        .into_iter()
        .map(|class| {
            indices
                .iter()
                .copied()
                .filter(|&i| labels[i] == class)
                .collect()
        })
        .collect()
}

/// `indices` dealt into `k` folds class by class after shuffling, so each fold keeps the
/// class proportions (to within a row).
pub fn stratified_folds(
    indices: &[usize],
    labels: &[u8],
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<usize>> {
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut dealt = 0;
    for members in by_class(indices, labels) {
        for i in shuffled(members, rng) {
            folds[dealt % k].push(i);
            dealt += 1;
        }
    }
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_cover_every_row_once_and_share_the_rare_class() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let all: Vec<usize> = (0..100).collect();
        let folds = stratified_folds(&all, &labels, 5, &mut rng(3));
        let mut seen: Vec<usize> = folds.concat();
        seen.sort_unstable();
        assert_eq!(seen, all);
        for fold in &folds {
            assert_eq!(fold.len(), 20);
            assert_eq!(fold.iter().filter(|&&i| labels[i] == 1).count(), 2);
        }
    }

    #[test]
    fn same_seed_same_split_and_classes_kept() {
        let labels: Vec<u8> = (0..100).map(|i| u8::from(i % 10 == 0)).collect();
        let all: Vec<usize> = (0..100).collect();
        let a = split_stratified(&all, &labels, 0.7, &mut rng(3));
        let b = split_stratified(&all, &labels, 0.7, &mut rng(3));
        assert_eq!(a, b);
        assert_eq!(a.0.iter().filter(|&&i| labels[i] == 1).count(), 7);
        assert_eq!(a.0.len() + a.1.len(), 100);
    }
}

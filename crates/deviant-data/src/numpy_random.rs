//! NumPy's legacy `RandomState` (MT19937 seeded by `np.random.seed(n)`) and scikit-learn's
//! stratified `train_test_split`, draw for draw. Published benchmarks such as ADBench were
//! produced with them; drawing the same rows for the same seed lets a benchmark compare
//! like with like instead of against other random splits.

use rand_mt::Mt;

/// The generator behind `np.random.seed(seed)` and the functions of `np.random`.
pub struct RandomState {
    mt: Mt,
}

impl RandomState {
    /// `np.random.seed(seed)`.
    pub fn new(seed: u32) -> Self {
        Self { mt: Mt::new(seed) }
    }

    fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.mt.next_u32());
        (high << 32) | u64::from(self.mt.next_u32())
    }

    /// A value in `0..=max`, by masked rejection as NumPy's legacy generator draws them.
    fn bounded(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        loop {
            let value = if max <= u64::from(u32::MAX) {
                u64::from(self.mt.next_u32()) & mask
            } else {
                self.next_u64() & mask
            };
            if value <= max {
                return value;
            }
        }
    }

    /// `np.random.randint(0, high, size)`, which is also `np.random.choice(high, size)`
    /// (with replacement).
    pub fn randint(&mut self, high: usize, size: usize) -> Vec<usize> {
        assert!(high > 0, "randint needs a non-empty range");
        (0..size)
            .map(|_| self.bounded(high as u64 - 1) as usize)
            .collect()
    }

    /// `np.random.shuffle(items)`: Fisher–Yates from the last element down.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.bounded(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `np.random.permutation(n)`, which is also what `np.random.choice(n, k,
    /// replace=False)` takes its first `k` from.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        self.shuffle(&mut all);
        all
    }

    /// `np.random.choice(items, k, replace=False)`.
    fn choose<T: Copy>(&mut self, items: &[T], k: usize) -> Vec<T> {
        self.permutation(items.len())[..k]
            .iter()
            .map(|&i| items[i])
            .collect()
    }
}

/// scikit-learn's `train_test_split(rows, test_size=test_share, shuffle=True,
/// stratify=labels)` drawing from `rng` (its `random_state`): the training and test row
/// indices, in the order scikit-learn returns them. Every class needs at least two rows.
pub fn train_test_split_stratified(
    labels: &[u8],
    test_share: f64,
    rng: &mut RandomState,
) -> (Vec<usize>, Vec<usize>) {
    let n = labels.len();
    let n_test = (test_share * n as f64).ceil() as usize;
    let n_train = n - n_test;
    let mut classes: Vec<u8> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    // Row indices of each class in increasing order (NumPy's stable argsort by class).
    let members: Vec<Vec<usize>> = classes
        .iter()
        .map(|&c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let counts: Vec<usize> = members.iter().map(Vec::len).collect();
    let train_counts = approximate_mode(&counts, n_train, rng);
    let remaining: Vec<usize> = counts
        .iter()
        .zip(&train_counts)
        .map(|(c, t)| c - t)
        .collect();
    let test_counts = approximate_mode(&remaining, n_test, rng);
    let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
    for ((rows, &k_train), &k_test) in members.iter().zip(&train_counts).zip(&test_counts) {
        let order = rng.permutation(rows.len());
        let drawn: Vec<usize> = order.iter().map(|&i| rows[i]).collect();
        train.extend_from_slice(&drawn[..k_train]);
        test.extend_from_slice(&drawn[k_train..k_train + k_test]);
    }
    rng.shuffle(&mut train);
    rng.shuffle(&mut test);
    (train, test)
}

/// scikit-learn's `_approximate_mode`: `draws` shared out in proportion to `counts`, the
/// rounding remainder going to the largest fractional parts, ties broken at random.
fn approximate_mode(counts: &[usize], draws: usize, rng: &mut RandomState) -> Vec<usize> {
    let total = counts.iter().sum::<usize>() as f64;
    let continuous: Vec<f64> = counts
        .iter()
        .map(|&c| c as f64 / total * draws as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = draws - floored.iter().sum::<usize>();
    let remainders: Vec<f64> = continuous.iter().map(|c| c - c.floor()).collect();
    let mut values = remainders.clone();
    values.sort_by(|a, b| b.total_cmp(a));
    values.dedup();
    for value in values {
        if need == 0 {
            break;
        }
        let tied: Vec<usize> = (0..counts.len())
            .filter(|&i| remainders[i] == value)
            .collect();
        let take = tied.len().min(need);
        for i in rng.choose(&tied, take) {
            floored[i] += 1;
        }
        need -= take;
    }
    floored
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by NumPy 2.4 and scikit-learn 1.9 for the same calls.

    #[test]
    fn draws_match_numpy() {
        let mut rng = RandomState::new(1);
        assert_eq!(
            rng.randint(214, 10),
            [37, 140, 72, 137, 203, 133, 79, 192, 144, 129]
        );
        let mut rng = RandomState::new(3);
        assert_eq!(
            rng.permutation(20),
            [
                14, 2, 1, 17, 4, 16, 6, 7, 15, 12, 9, 11, 19, 18, 13, 5, 0, 8, 3, 10
            ]
        );
        // Ranges beyond 32 bits draw 64-bit words.
        let mut rng = RandomState::new(7);
        assert_eq!(
            rng.randint(1 << 33, 4),
            [5271381188, 5664942582, 8496402643, 6251689575]
        );
    }

    #[test]
    fn stratified_split_matches_scikit_learn() {
        // train_test_split(np.arange(10), test_size=0.3, stratify=[0]*5+[1]*5) after
        // np.random.seed(4): the classes tie for the spare row, broken by a draw.
        let labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        let (train, test) = train_test_split_stratified(&labels, 0.3, &mut RandomState::new(4));
        assert_eq!(train, [7, 8, 3, 9, 4, 2, 5]);
        assert_eq!(test, [1, 0, 6]);
        // 1,500 rows, the last 45 anomalies, after np.random.seed(2).
        let labels: Vec<u8> = (0..1500).map(|i| u8::from(i >= 1455)).collect();
        let (train, test) = train_test_split_stratified(&labels, 0.3, &mut RandomState::new(2));
        assert_eq!((train.len(), test.len()), (1050, 450));
        assert_eq!(train[..6], [352, 988, 957, 494, 1380, 355]);
        assert_eq!(test[..6], [939, 1394, 124, 1131, 207, 1030]);
        assert_eq!(train.iter().sum::<usize>(), 785_984);
        assert_eq!(test.iter().sum::<usize>(), 338_266);
    }
}

//! ADBench's unsupervised protocol (Han et al., NeurIPS 2022) as its own code draws it: the
//! rows of each seed, the folder of `.npz` sets and the published ROC AUCs beside them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use deviant_core::{Error, Result};

use crate::numpy_random::{RandomState, train_test_split_stratified};

/// ADBench resamples sets under this many rows up to it (with replacement)…
pub const MIN_ROWS: usize = 1_000;
/// …and subsamples sets over this many rows down to it.
pub const MAX_ROWS: usize = 10_000;
/// ADBench's `test_size` (written as it is there: 1 − 0.7 rounds to one more test row).
pub const TEST_SHARE: f64 = 0.3;
/// The table of published values that ships in the ADBench folder.
pub const REFERENCE_FILE: &str = "reference_aucroc.md";

/// The `.npz` sets in `root` (or in `root/npz`), named by file stem without ADBench's number
/// prefix, sorted by name; only those in `only` when it is not empty.
pub fn dataset_files(root: &Path, only: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let dir = if root.join("npz").is_dir() {
        root.join("npz")
    } else {
        root.to_path_buf()
    };
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "npz"))
        .map(|p| (set_name(&p), p))
        .filter(|(name, _)| only.is_empty() || only.contains(name))
        .collect();
    files.sort_by_key(|(name, _)| name.to_lowercase());
    if let Some(missing) = only
        .iter()
        .find(|d| !files.iter().any(|(name, _)| name == *d))
    {
        return Err(Error::config(
            "datasets",
            format!(
                "no set `{missing}` in {}; names are file stems without the number prefix",
                dir.display()
            ),
        ));
    }
    if files.is_empty() {
        return Err(Error::Empty {
            what: dir.display().to_string(),
            remedy: "point to a folder of ADBench .npz files".into(),
        });
    }
    Ok(files)
}

/// `10_cover.npz` → `cover`.
pub fn set_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    match stem.split_once('_') {
        Some((number, rest)) if number.chars().all(|c| c.is_ascii_digit()) => rest.to_string(),
        _ => stem.into_owned(),
    }
}

/// Published ROC AUCs keyed by (set, detector kind), both lower-case, from the ADBench table
/// of `reference_aucroc.md` (beside `npz/`, or in its parent when `--data` is `npz/`). Its
/// column names are matched to kinds without case or underscores: `DeepSVDD` = `deep_svdd`.
pub fn published_aucs(root: &Path) -> Result<HashMap<(String, String), f64>> {
    let path = [
        root.join(REFERENCE_FILE),
        root.join("..").join(REFERENCE_FILE),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        Error::config(
            "published",
            format!(
                "--published needs {REFERENCE_FILE} in {} (it ships with the ADBench folder); \
                 run without --published",
                root.display()
            ),
        )
    })?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    // The section from its `## ADBench` heading to the next heading of that level.
    let section = format!("\n{text}")
        .split("\n## ")
        .find(|s| s.starts_with("ADBench"))
        .map(str::to_string)
        .ok_or_else(|| Error::format(path.display(), "no `## ADBench` section"))?;
    let mut rows = section.lines().filter(|l| l.starts_with('|')).map(|l| {
        l.trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect::<Vec<_>>()
    });
    let header = rows
        .next()
        .ok_or_else(|| Error::format(path.display(), "the ADBench table has no header"))?;
    let kinds: Vec<String> = header
        .iter()
        .map(|h| h.to_lowercase().replace('_', ""))
        .collect();
    let mut out = HashMap::new();
    for row in rows.filter(|r| !r[0].starts_with("---")) {
        for (kind, cell) in kinds.iter().zip(&row).skip(1) {
            if let Ok(value) = cell.parse::<f64>() {
                out.insert((row[0].to_lowercase(), kind.clone()), value);
            }
        }
    }
    Ok(out)
}

/// The key of [`published_aucs`] for a set and a detector kind.
pub fn published_key(dataset: &str, kind: &str) -> (String, String) {
    (dataset.to_lowercase(), kind.replace('_', ""))
}

/// ADBench's rows for one seed, as its data generator draws them with NumPy and
/// scikit-learn: sets under 1,000 rows resampled with replacement to 1,000, sets over 10,000
/// subsampled to 10,000, then a stratified 70/30 split. Returns the training and test rows
/// as indices into `labels`, in ADBench's order; repeated rows appear repeatedly.
pub fn protocol_rows(labels: &[u8], seed: u32) -> (Vec<usize>, Vec<usize>) {
    // ADBench seeds NumPy's global generator with the run's seed before each of these
    // draws; reseeding before the first changes nothing, so one generator serves.
    let mut rng = RandomState::new(seed);
    let n = labels.len();
    let rows: Vec<usize> = if n < MIN_ROWS {
        rng.randint(n, MIN_ROWS)
    } else if n > MAX_ROWS {
        rng.permutation(n)[..MAX_ROWS].to_vec()
    } else {
        (0..n).collect()
    };
    let drawn: Vec<u8> = rows.iter().map(|&i| labels[i]).collect();
    let (train, test) = train_test_split_stratified(&drawn, TEST_SHARE, &mut rng);
    (
        train.iter().map(|&i| rows[i]).collect(),
        test.iter().map(|&i| rows[i]).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_the_ones_adbench_draws() {
        // ADBench's data generator on labels 0…0 1…1 (`a` anomalies of `n`): sizes, first
        // rows and index sums of the training and test parts as NumPy 2.4 and scikit-learn
        // 1.9 draw them, for a resampled set, one kept as is and a subsampled one.
        type Part = (usize, [usize; 4], usize);
        let cases: [(usize, usize, u32, Part, Part); 3] = [
            (
                100,
                10,
                1,
                (700, [33, 20, 2, 15], 33_502),
                (300, [29, 76, 78, 44], 15_572),
            ),
            (
                1001,
                500,
                1,
                (700, [455, 324, 453, 329], 350_339),
                (301, [928, 202, 115, 109], 150_161),
            ),
            (
                12000,
                35,
                3,
                (7000, [2433, 5000, 8780, 10919], 41_998_249),
                (3000, [1136, 7696, 4712, 3530], 17_900_820),
            ),
        ];
        for (n, a, seed, want_train, want_test) in cases {
            let labels: Vec<u8> = (0..n).map(|i| u8::from(i >= n - a)).collect();
            let (train, test) = protocol_rows(&labels, seed);
            for (rows, (len, head, sum)) in [(train, want_train), (test, want_test)] {
                assert_eq!(rows.len(), len, "n = {n}");
                assert_eq!(rows[..4], head, "n = {n}");
                assert_eq!(rows.iter().sum::<usize>(), sum, "n = {n}");
            }
        }
    }

    #[test]
    fn published_values_are_read_from_the_adbench_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("npz")).unwrap();
        std::fs::write(
            dir.path().join(REFERENCE_FILE),
            "# refs\n\n## ADBench (x)\n\n| dataset | PCA | DeepSVDD | IForest |\n\
             |---|---|---|---|\n| Hepatitis | 0.75 | 0.5 |  |\n\n## PyOD\n\n\
             | Data | PCA |\n|---|---|\n| glass | 0.1 |\n",
        )
        .unwrap();
        let published = published_aucs(&dir.path().join("npz")).unwrap();
        assert_eq!(
            published.get(&published_key("Hepatitis", "deep_svdd")),
            Some(&0.5)
        );
        assert_eq!(
            published.get(&published_key("hepatitis", "pca")),
            Some(&0.75)
        );
        assert_eq!(published.get(&published_key("Hepatitis", "iforest")), None);
        assert_eq!(
            published.get(&published_key("glass", "pca")),
            None,
            "PyOD table ignored"
        );
        let err = published_aucs(&dir.path().join("npz").join("none")).unwrap_err();
        assert!(err.to_string().contains("run without --published"), "{err}");
    }

    #[test]
    fn set_names_drop_the_number_prefix() {
        assert_eq!(set_name(Path::new("a/10_cover.npz")), "cover");
        assert_eq!(set_name(Path::new("22_magic.gamma.npz")), "magic.gamma");
        assert_eq!(set_name(Path::new("my_set.npz")), "my_set");
    }
}

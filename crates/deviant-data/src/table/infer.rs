//! Which columns are numeric and which categorical, from the first rows of a file.

use super::*;

/// Infers which columns are numeric and which categorical from the first rows of `path`.
///
/// A column is numeric when every non-missing cell of the sample parses as a number;
/// `opts` can override either way, ignore columns, and name the label column.
pub fn infer_schema(path: &Path, read: &ReadOptions, opts: &SchemaOptions) -> Result<Schema> {
    let file = display_name(path);
    let (names, numeric, label) = if is_npz(path) {
        let (names, _) = read_npz_columns(path)?;
        // ADBench's `y` is the label, 0 = normal, unless the user names another column.
        let label = opts.label.clone().or_else(|| {
            names.iter().any(|n| n == "y").then(|| LabelSpec {
                column: "y".into(),
                normal_values: vec!["0".into()],
            })
        });
        let numeric = vec![true; names.len()];
        (names, numeric, label)
    } else {
        let (names, numeric) = sample_text_columns(path, read, opts)?;
        (names, numeric, opts.label.clone())
    };
    check_known(&names, &opts.categorical, "--categorical", &file)?;
    check_known(&names, &opts.numeric, "--numeric", &file)?;
    check_known(&names, &read.ignore, "--ignore", &file)?;
    if let Some(label) = &label {
        check_known(
            &names,
            std::slice::from_ref(&label.column),
            "--label",
            &file,
        )?;
    }
    let label_column = label.as_ref().map(|l| l.column.as_str());
    let features = names
        .iter()
        .enumerate()
        .filter(|(_, n)| Some(n.as_str()) != label_column && !read.ignore.contains(n))
        .map(|(i, name)| {
            let kind = if opts.categorical.contains(name) {
                ColumnKind::Categorical
            } else if opts.numeric.contains(name) || numeric[i] {
                ColumnKind::Numeric
            } else {
                ColumnKind::Categorical
            };
            ColumnSpec {
                name: name.clone(),
                kind,
            }
        })
        .collect::<Vec<_>>();
    if features.is_empty() {
        return Err(Error::format(
            file,
            "no feature columns are left after the label and --ignore",
        ));
    }
    Ok(Schema {
        features,
        label,
        ignored: read.ignore.clone(),
    })
}

/// The column names of a delimited file and, from its first rows, whether each column holds
/// only numbers (or missing markers).
fn sample_text_columns(
    path: &Path,
    read: &ReadOptions,
    opts: &SchemaOptions,
) -> Result<(Vec<String>, Vec<bool>)> {
    let file = display_name(path);
    let mut reader = open_reader(path, read)?;
    let names = read_header(path, &mut reader, read)?;
    let mut numeric = vec![true; names.len()];
    let mut rows = 0;
    let mut record = csv::StringRecord::new();
    let sample = if opts.sample_rows == 0 {
        10_000
    } else {
        opts.sample_rows
    };
    while rows < sample
        && reader
            .read_record(&mut record)
            .map_err(|e| csv_error(&file, e))?
    {
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line());
        check_cells(&record, &names, &read.limits, &file, line)?;
        for (i, cell) in record.iter().enumerate().take(names.len()) {
            if numeric[i] && parse_number(cell).is_err() {
                numeric[i] = false;
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(Error::Empty {
            what: file,
            remedy: "the file has no data rows".into(),
        });
    }
    Ok((names, numeric))
}

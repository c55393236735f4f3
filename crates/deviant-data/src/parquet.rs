//! Parquet files: flat columns of numbers, strings and booleans, turned into CSV text on
//! arrival like JSON and workbook uploads, so every later read goes through the one CSV
//! reader. Snappy, gzip, LZ4 and zstd pages are read.

use ::parquet::file::reader::{FileReader, SerializedFileReader};
use ::parquet::record::Field;
use bytes::Bytes;
use deviant_core::{Error, Result};

use crate::table::too_large;
use pages::Refusal;

mod pages;

/// CSV text for the rows of the Parquet file in `bytes`, refused with [`Error::TooLarge`]
/// when its pages would expand (or the CSV grow) past `max_bytes`; `name` names it in
/// errors.
pub fn parquet_to_csv(bytes: &[u8], name: &str, max_bytes: u64) -> Result<Vec<u8>> {
    // The `parquet` crate panics on some malformed footers (fuzzing found one); whatever
    // still slips past the checks below is a broken file, not a broken server.
    std::panic::catch_unwind(|| convert(bytes, name, max_bytes)).unwrap_or_else(|_| {
        Err(Error::format(
            name,
            "not a readable Parquet file: its metadata is inconsistent",
        ))
    })
}

fn convert(bytes: &[u8], name: &str, max_bytes: u64) -> Result<Vec<u8>> {
    let reader = SerializedFileReader::new(Bytes::copy_from_slice(bytes))
        .map_err(|e| Error::format(name, format!("not a readable Parquet file: {e}")))?;
    pages::check(bytes, reader.metadata(), max_bytes).map_err(|refusal| match refusal {
        Refusal::TooLarge => too_large(name, max_bytes),
        Refusal::Malformed(why) => {
            Error::format(name, format!("not a readable Parquet file: {why}"))
        }
    })?;
    let columns: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.path().string())
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::internal(format!("writing CSV: {e}"));
    out.write_record(&columns).map_err(csv_error)?;
    let rows = reader
        .get_row_iter(None)
        .map_err(|e| Error::format(name, format!("reading rows: {e}")))?;
    let mut count = 0u64;
    for (i, row) in rows.enumerate() {
        let row = row.map_err(|e| Error::format(name, format!("row {}: {e}", i + 1)))?;
        let cells = row
            .get_column_iter()
            .map(|(column, field)| {
                cell_text(field).ok_or_else(|| Error::Cell {
                    file: name.into(),
                    line: i as u64 + 1,
                    column: column.clone(),
                    reason: "nested lists, maps and groups are not table cells".into(),
                })
            })
            .collect::<Result<Vec<String>>>()?;
        out.write_record(&cells).map_err(csv_error)?;
        if out.get_ref().len() as u64 > max_bytes {
            return Err(too_large(name, max_bytes));
        }
        count += 1;
    }
    if count == 0 {
        return Err(Error::Empty {
            what: name.into(),
            remedy: "the file has no rows".into(),
        });
    }
    out.into_inner()
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))
}

/// A flat value as CSV text (`None` for nested ones); null is an empty, missing cell.
fn cell_text(field: &Field) -> Option<String> {
    Some(match field {
        Field::Null => String::new(),
        Field::Group(_) | Field::ListInternal(_) | Field::MapInternal(_) => return None,
        Field::Str(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ::parquet::basic::Compression;
    use ::parquet::data_type::{ByteArray, ByteArrayType, DoubleType};
    use ::parquet::file::properties::WriterProperties;
    use ::parquet::file::writer::SerializedFileWriter;
    use ::parquet::schema::parser::parse_message_type;

    use super::*;

    fn file(compression: Compression) -> Vec<u8> {
        let schema = Arc::new(
            parse_message_type(
                "message flows { REQUIRED DOUBLE bytes; REQUIRED BYTE_ARRAY proto (UTF8); }",
            )
            .unwrap(),
        );
        let properties = Arc::new(
            WriterProperties::builder()
                .set_compression(compression)
                .build(),
        );
        let mut out = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut out, schema, properties).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<DoubleType>()
            .write_batch(&[10.5, 3.0], None, None)
            .unwrap();
        column.close().unwrap();
        let mut column = group.next_column().unwrap().unwrap();
        column
            .typed::<ByteArrayType>()
            .write_batch(
                &[ByteArray::from("tcp"), ByteArray::from("u,dp")],
                None,
                None,
            )
            .unwrap();
        column.close().unwrap();
        group.close().unwrap();
        writer.close().unwrap();
        out
    }

    #[test]
    fn flat_columns_become_csv_whatever_the_compression() {
        for compression in [Compression::UNCOMPRESSED, Compression::SNAPPY] {
            let csv = parquet_to_csv(&file(compression), "flows.parquet", u64::MAX).unwrap();
            assert_eq!(
                String::from_utf8(csv).unwrap(),
                "bytes,proto\n10.5,tcp\n3.0,\"u,dp\"\n"
            );
        }
    }

    #[test]
    fn files_pyarrow_wrote_pass_the_page_checks() {
        // Dictionary-encoded and plain, snappy-compressed: what pandas writes by default.
        let written: [&[u8]; 2] = [
            include_bytes!("../../../fuzz/corpus/parquet/flows.parquet"),
            include_bytes!("../../../fuzz/corpus/parquet/flows-plain.parquet"),
        ];
        for bytes in written {
            let csv = parquet_to_csv(bytes, "flows.parquet", 1 << 20).unwrap();
            assert!(csv.starts_with(b"bytes,proto,label\n"), "{csv:?}");
        }
    }

    #[test]
    fn a_file_that_is_not_parquet_is_named() {
        let err = parquet_to_csv(b"PAR1 but no more", "flows.parquet", u64::MAX).unwrap_err();
        assert!(
            err.to_string()
                .contains("flows.parquet: not a readable Parquet file"),
            "{err}"
        );
    }

    #[test]
    fn a_file_that_expands_past_the_limit_is_refused() {
        let bytes = file(Compression::SNAPPY);
        let err = parquet_to_csv(&bytes, "bomb.parquet", 10).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("expands past 10 bytes"), "{err}");
    }

    #[test]
    fn inputs_fuzzing_found_are_errors_not_panics() {
        let found: [&[u8]; 3] = [
            include_bytes!("../tests/fixtures/fuzz/parquet-negative-offset.parquet"),
            include_bytes!("../tests/fixtures/fuzz/parquet-short-bit-buffer.parquet"),
            include_bytes!("../tests/fixtures/fuzz/parquet-forged-dictionary.parquet"),
        ];
        for bytes in found {
            let err = parquet_to_csv(bytes, "found.parquet", u64::MAX).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("found.parquet: not a readable Parquet file"),
                "{err}"
            );
        }
    }
}

//! Excel workbooks (`.xlsx`, `.xls`, `.ods` via calamine): the first worksheet, header row
//! first, turned into CSV text on arrival like JSON uploads, so every later read goes through
//! the one CSV reader.

use std::io::Cursor;

use calamine::{Data, Reader, open_workbook_auto_from_rs};
use deviant_core::{Error, Result};

use crate::table::too_large;

/// CSV text for the first worksheet of the workbook in `bytes`, refused with
/// [`Error::TooLarge`] when the workbook's parts would expand (or the CSV grow) past
/// `max_bytes`; `name` names it in errors.
pub fn workbook_to_csv(bytes: &[u8], name: &str, max_bytes: u64) -> Result<Vec<u8>> {
    // An .xlsx or .ods is a zip archive: the sizes its central directory declares are
    // checked before any part is decompressed.
    if bytes.starts_with(b"PK")
        && let Ok(mut archive) = zip::ZipArchive::new(Cursor::new(bytes))
    {
        let declared: u64 = (0..archive.len())
            .map(|i| archive.by_index_raw(i).map_or(0, |part| part.size()))
            .fold(0, u64::saturating_add);
        if declared > max_bytes {
            return Err(too_large(name, max_bytes));
        }
    }
    let mut workbook = open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| Error::format(name, format!("not a readable workbook: {e}")))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| Error::format(name, "the workbook has no worksheet"))?
        .map_err(|e| Error::format(name, format!("reading the first worksheet: {e}")))?;
    let mut rows = range.rows();
    let header = rows.next().ok_or_else(|| Error::Empty {
        what: name.into(),
        remedy: "the first worksheet needs a header row and data rows".into(),
    })?;
    let names: Vec<String> = header.iter().map(cell_text).collect();
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        return Err(Error::format(
            name,
            format!("column {} of the header row has no name", i + 1),
        ));
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| Error::internal(format!("writing CSV: {e}"));
    out.write_record(&names).map_err(csv_error)?;
    for row in rows {
        let cells: Vec<String> = row.iter().map(cell_text).collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        out.write_record(&cells).map_err(csv_error)?;
        if out.get_ref().len() as u64 > max_bytes {
            return Err(too_large(name, max_bytes));
        }
    }
    out.into_inner()
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        // Error cells (#N/A, #DIV/0!, …) count as missing values.
        Data::Error(_) => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_xlsxwriter::Workbook;

    #[test]
    fn the_first_sheet_becomes_csv() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "bytes").unwrap();
        sheet.write_string(0, 1, "proto").unwrap();
        sheet.write_number(1, 0, 10.5).unwrap();
        sheet.write_string(1, 1, "tcp").unwrap();
        sheet.write_number(2, 0, 3.0).unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let csv =
            String::from_utf8(workbook_to_csv(&bytes, "flows.xlsx", u64::MAX).unwrap()).unwrap();
        assert_eq!(csv, "bytes,proto\n10.5,tcp\n3,\n");
    }

    #[test]
    fn bad_workbooks_are_named() {
        let err = workbook_to_csv(b"not a zip", "flows.xlsx", u64::MAX).unwrap_err();
        assert!(
            err.to_string()
                .contains("flows.xlsx: not a readable workbook"),
            "{err}"
        );
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "bytes").unwrap();
        sheet.write_string(0, 2, "proto").unwrap();
        sheet.write_number(1, 1, 4.0).unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let err = workbook_to_csv(&bytes, "flows.xlsx", u64::MAX).unwrap_err();
        assert!(
            err.to_string()
                .contains("column 2 of the header row has no name"),
            "{err}"
        );
    }

    #[test]
    fn a_workbook_that_expands_past_the_limit_is_refused_before_it_is_read() {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "bytes").unwrap();
        for row in 1..2000 {
            sheet.write_number(row, 0, 0.0).unwrap();
        }
        let bytes = workbook.save_to_buffer().unwrap();
        let err = workbook_to_csv(&bytes, "bomb.xlsx", 10_000).unwrap_err();
        assert!(matches!(err, Error::TooLarge { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("bomb.xlsx: the file expands past 10000 bytes")
        );
        assert!(workbook_to_csv(&bytes, "bomb.xlsx", 1 << 20).is_ok());
    }
}

//! What a Parquet file's page headers promise, read before any page is decoded.
//!
//! The `parquet` crate trusts each page header: it reserves the declared uncompressed size
//! before decompressing and fills a dictionary of the declared number of values before
//! reading them, so a few forged bytes ask for gigabytes (fuzzing found a 2 GiB dictionary
//! in a 3 KB file). Its header type is private, hence this small reader of the Thrift
//! compact encoding, which checks every page of every column chunk against the bytes that
//! back it and against the expanded-size limit.

use ::parquet::basic::{Compression, Type as PhysicalType};
use ::parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

/// Why a file's pages cannot be read within bounds.
#[derive(Debug, PartialEq)]
pub(super) enum Refusal {
    /// The headers or offsets are inconsistent; the text says which.
    Malformed(String),
    /// The pages expand past the limit.
    TooLarge,
}

/// Checks every page header of every column chunk in `file` (whose footer is `metadata`):
/// pages lie inside their chunk, a dictionary holds no more values than its bytes can
/// encode, no chunk declares more values than `max_bytes` (each flat value becomes at least
/// one CSV byte), and all pages together expand to at most `max_bytes`.
pub(super) fn check(
    file: &[u8],
    metadata: &ParquetMetaData,
    max_bytes: u64,
) -> Result<(), Refusal> {
    let rows: i64 = metadata
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0))
        .sum();
    if rows as u64 > max_bytes {
        return Err(Refusal::TooLarge);
    }
    let mut expanded = 0u64;
    for chunk in metadata.row_groups().iter().flat_map(|g| g.columns()) {
        expanded = expanded.saturating_add(check_chunk(file, chunk, max_bytes)?);
        if expanded > max_bytes {
            return Err(Refusal::TooLarge);
        }
    }
    Ok(())
}

/// The bytes `chunk`'s pages expand to, once each header is checked.
fn check_chunk(file: &[u8], chunk: &ColumnChunkMetaData, max_bytes: u64) -> Result<u64, Refusal> {
    let column = chunk.column_path().string();
    let malformed = |what: &str| Refusal::Malformed(format!("column `{column}` {what}"));
    let start = chunk
        .dictionary_page_offset()
        .unwrap_or(chunk.data_page_offset());
    let (Ok(start), Ok(length)) = (
        usize::try_from(start),
        usize::try_from(chunk.compressed_size()),
    ) else {
        return Err(malformed("has a negative offset or size"));
    };
    let Some(bytes) = start
        .checked_add(length)
        .and_then(|end| file.get(start..end))
    else {
        return Err(malformed("runs past the end of the file"));
    };
    let compressed = chunk.compression() != Compression::UNCOMPRESSED;
    let value_bits = value_bits(chunk);
    let (mut at, mut expanded, mut values) = (0usize, 0u64, 0u64);
    while at < bytes.len() {
        let mut reader = Compact::new(&bytes[at..]);
        let header = reader
            .page_header()
            .map_err(|e| malformed(&format!("has an unreadable page header ({e})")))?;
        let (Ok(stored), Ok(declared)) = (
            usize::try_from(header.compressed_size),
            u64::try_from(header.uncompressed_size),
        ) else {
            return Err(malformed("has a page of negative size"));
        };
        at += reader.position();
        if stored > bytes.len() - at {
            return Err(malformed("has a page that runs past its column chunk"));
        }
        at += stored;
        // An uncompressed page is decoded from its stored bytes, whatever it declares.
        let page_bytes = if compressed { declared } else { stored as u64 };
        expanded = expanded.saturating_add(page_bytes);
        if expanded > max_bytes {
            return Err(Refusal::TooLarge);
        }
        let count = u64::try_from(header.num_values)
            .map_err(|_| malformed("has a page with a negative count of values"))?;
        if header.is_dictionary && count.saturating_mul(value_bits) > page_bytes.saturating_mul(8) {
            return Err(malformed(&format!(
                "has a dictionary of {count} values in {page_bytes} bytes"
            )));
        }
        if !header.is_dictionary {
            values = values.saturating_add(count);
            if values > max_bytes {
                return Err(Refusal::TooLarge);
            }
        }
    }
    Ok(expanded)
}

/// The fewest bits one plainly encoded value of `chunk`'s type takes (a dictionary is
/// plainly encoded); at least 8 but for booleans, so that zero-width values cannot
/// describe an endless dictionary.
fn value_bits(chunk: &ColumnChunkMetaData) -> u64 {
    match chunk.column_type() {
        PhysicalType::BOOLEAN => 1,
        PhysicalType::INT32 | PhysicalType::FLOAT | PhysicalType::BYTE_ARRAY => 32,
        PhysicalType::INT64 | PhysicalType::DOUBLE => 64,
        PhysicalType::INT96 => 96,
        PhysicalType::FIXED_LEN_BYTE_ARRAY => {
            8 * u64::try_from(chunk.column_descr().type_length())
                .unwrap_or(0)
                .max(1)
        }
    }
}

/// The fields of a page header that bound what decoding it allocates.
#[derive(Debug, Default)]
struct PageHeader {
    uncompressed_size: i32,
    compressed_size: i32,
    is_dictionary: bool,
    num_values: i32,
}

/// Page header field ids and types of the Parquet format's Thrift definition.
const PAGE_TYPE_DICTIONARY: i32 = 2;
const STRUCT: u8 = 12;

/// A reader of the Thrift compact protocol over a byte slice, enough to pick fields out of
/// nested structs and skip everything else.
struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Compact<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Compact { bytes, at: 0 }
    }

    fn position(&self) -> usize {
        self.at
    }

    /// A PageHeader struct: 1 type, 2 uncompressed size, 3 compressed size, and the
    /// value count from field 1 of whichever page header it carries (5 data page,
    /// 7 dictionary page, 8 data page v2).
    fn page_header(&mut self) -> Result<PageHeader, &'static str> {
        let mut header = PageHeader::default();
        let mut last_id = 0i16;
        while let Some((id, kind)) = self.field(&mut last_id)? {
            match (id, kind) {
                (1, 5) => header.is_dictionary = self.int()? == PAGE_TYPE_DICTIONARY,
                (2, 5) => header.uncompressed_size = self.int()?,
                (3, 5) => header.compressed_size = self.int()?,
                (5 | 7 | 8, STRUCT) => header.num_values = self.first_int_field()?,
                _ => self.skip(kind, 0)?,
            }
        }
        Ok(header)
    }

    /// Field 1 (an i32) of a struct, the rest skipped; 0 when absent.
    fn first_int_field(&mut self) -> Result<i32, &'static str> {
        let mut value = 0;
        let mut last_id = 0i16;
        while let Some((id, kind)) = self.field(&mut last_id)? {
            match (id, kind) {
                (1, 5) => value = self.int()?,
                _ => self.skip(kind, 1)?,
            }
        }
        Ok(value)
    }

    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self, last_id: &mut i16) -> Result<Option<(i16, u8)>, &'static str> {
        let byte = self.byte()?;
        let kind = byte & 0x0f;
        if kind == 0 {
            return Ok(None);
        }
        let delta = (byte >> 4) as i16;
        *last_id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| "field id out of range")?
        } else {
            last_id.wrapping_add(delta)
        };
        Ok(Some((*last_id, kind)))
    }

    fn int(&mut self) -> Result<i32, &'static str> {
        i32::try_from(self.zigzag()?).map_err(|_| "i32 out of range")
    }

    fn zigzag(&mut self) -> Result<i64, &'static str> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint too long")
    }

    fn byte(&mut self) -> Result<u8, &'static str> {
        let byte = *self.bytes.get(self.at).ok_or("truncated")?;
        self.at += 1;
        Ok(byte)
    }

    fn advance(&mut self, count: u64) -> Result<(), &'static str> {
        let count = usize::try_from(count).map_err(|_| "truncated")?;
        if count > self.bytes.len() - self.at {
            return Err("truncated");
        }
        self.at += count;
        Ok(())
    }

    /// Skips one value of compact type `kind`; `depth` bounds nesting, so that a forged
    /// header cannot exhaust the stack.
    fn skip(&mut self, kind: u8, depth: u32) -> Result<(), &'static str> {
        if depth > 32 {
            return Err("nested too deeply");
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.advance(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.advance(8),
            8 => {
                let length = self.varint()?;
                self.advance(length)
            }
            9 | 10 => {
                let byte = self.byte()?;
                let count = match byte >> 4 {
                    15 => self.varint()?,
                    short => u64::from(short),
                };
                // Each element takes at least one byte, so a count past the bytes left is
                // a forgery, refused before looping over it.
                if count > (self.bytes.len() - self.at) as u64 {
                    return Err("truncated");
                }
                let element = byte & 0x0f;
                for _ in 0..count {
                    match element {
                        1 | 2 => self.advance(1)?,
                        _ => self.skip(element, depth + 1)?,
                    }
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                if count > (self.bytes.len() - self.at) as u64 {
                    return Err("truncated");
                }
                let kinds = self.byte()?;
                for _ in 0..count {
                    for element in [kinds >> 4, kinds & 0x0f] {
                        match element {
                            1 | 2 => self.advance(1)?,
                            _ => self.skip(element, depth + 1)?,
                        }
                    }
                }
                Ok(())
            }
            STRUCT => {
                let mut last_id = 0i16;
                while let Some((_, kind)) = self.field(&mut last_id)? {
                    self.skip(kind, depth + 1)?;
                }
                Ok(())
            }
            13 => self.advance(16),
            _ => Err("unknown field type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_header_is_read_with_its_nested_count_and_skipped_fields() {
        // type 2 (dictionary), uncompressed 100, compressed 60, crc (skipped),
        // dictionary_page_header { num_values 7, encoding 0 }, then an unknown list.
        let bytes = [
            0x15, 0x04, // 1: i32 2
            0x15, 0xc8, 0x01, // 2: i32 100
            0x15, 0x78, // 3: i32 60
            0x15, 0x02, // 4: i32 1 (crc)
            0x3c, // 7: struct
            0x15, 0x0e, // 1: i32 7
            0x15, 0x00, // 2: i32 0
            0x00, // end of dictionary_page_header
            0x19, 0x25, 0x02, 0x04, // 8: list of two i32 (a field the reader skips)
            0x00, // end of PageHeader
            0xff, // the page itself
        ];
        let mut reader = Compact::new(&bytes);
        let header = reader.page_header().unwrap();
        assert!(header.is_dictionary);
        assert_eq!(
            (
                header.uncompressed_size,
                header.compressed_size,
                header.num_values
            ),
            (100, 60, 7)
        );
        assert_eq!(reader.position(), bytes.len() - 1);
    }

    #[test]
    fn truncated_and_forged_headers_are_errors() {
        assert_eq!(
            Compact::new(&[0x15]).page_header().unwrap_err(),
            "truncated"
        );
        // A list that claims more elements than there are bytes.
        assert_eq!(
            Compact::new(&[0x19, 0xf5, 0xff, 0xff, 0x7f])
                .page_header()
                .unwrap_err(),
            "truncated"
        );
        let deep = [0x1c; 64];
        assert_eq!(
            Compact::new(&deep).page_header().unwrap_err(),
            "nested too deeply"
        );
    }
}

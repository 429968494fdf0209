//! police.uk street-level crime, read from its standard 12-column monthly
//! CSVs. The rows are kept apart from observations — their own table, their
//! own index (`index::police`), collection and tiles — always labelled with
//! their source and licence.

use std::collections::BTreeMap;
use std::io::Read;

use geo::{Contains, Point, Rect};

/// What every view of the layer says about where it came from.
pub const ATTRIBUTION: &str = "Contains public sector information licensed under the Open \
                               Government Licence v3.0 (data.police.uk)";
/// The same in Welsh.
pub const ATTRIBUTION_CY: &str = "Yn cynnwys gwybodaeth y sector cyhoeddus a drwyddedir o dan \
                                  y Drwydded Llywodraeth Agored v3.0 (data.police.uk)";

/// The standard columns, in order.
pub const COLUMNS: [&str; 12] = [
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
];

/// One kept row (force and month are held by its [`MonthImport`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PoliceCrime {
    /// Empty for anti-social behaviour.
    pub crime_id: Option<String>,
    /// The force whose area it falls within.
    pub falls_within: String,
    /// Longitude (an anonymised map point chosen by police.uk).
    pub lon: f64,
    /// Latitude.
    pub lat: f64,
    /// "On or near …".
    pub location: String,
    /// 2011 LSOA code.
    pub lsoa_code: String,
    /// 2011 LSOA name.
    pub lsoa_name: String,
    /// police.uk crime type.
    pub crime_type: String,
    /// Last outcome.
    pub last_outcome: String,
    /// Context (usually empty).
    pub context: String,
}

/// One force-month of a file: what was kept and what was left out, and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MonthImport {
    /// "Reported by".
    pub force: String,
    /// YYYY-MM.
    pub month: String,
    /// Data rows read.
    pub rows_read: usize,
    /// Rows without usable coordinates.
    pub no_location: usize,
    /// Rows outside the service area.
    pub outside_area: usize,
    /// Rows kept.
    pub rows: Vec<PoliceCrime>,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not the standard columns.
    #[error("not a police.uk street-level crime file: the header must be the 12 standard columns ({})", COLUMNS.join(", "))]
    Header,
    /// A row the CSV reader could not read.
    #[error("line {line}: {message}")]
    Row {
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// Reading failed.
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[5..].iter().all(u8::is_ascii_digit)
        && matches!(
            &s[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// Reads a street-level crime CSV, keeping rows with coordinates inside
/// `area`, grouped by force and month, and counting the rest.
pub fn parse(input: impl Read, area: Rect<f64>) -> Result<Vec<MonthImport>, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let header = reader.headers().map_err(|_| ImportError::Header)?;
    if header.len() != COLUMNS.len()
        || header
            .iter()
            .zip(COLUMNS)
            .any(|(h, c)| h.trim_start_matches('\u{feff}') != c)
    {
        return Err(ImportError::Header);
    }
    let mut months: BTreeMap<(String, String), MonthImport> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(ImportError::Row {
                    line: e.position().map_or(0, |p| p.line()),
                    message: e.to_string(),
                })
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let month = field(1);
        if !is_month(month) {
            return Err(ImportError::Row {
                line,
                message: format!("Month must be YYYY-MM, not `{month}`"),
            });
        }
        let m = months
            .entry((field(2).to_owned(), month.to_owned()))
            .or_insert_with(|| MonthImport {
                force: field(2).to_owned(),
                month: month.to_owned(),
                ..MonthImport::default()
            });
        m.rows_read += 1;
        let (lon, lat) = match (field(4).parse::<f64>(), field(5).parse::<f64>()) {
            (Ok(lon), Ok(lat)) if lon.is_finite() && lat.is_finite() => (lon, lat),
            _ => {
                m.no_location += 1;
                continue;
            }
        };
        if !area.contains(&Point::new(lon, lat)) {
            m.outside_area += 1;
            continue;
        }
        m.rows.push(PoliceCrime {
            crime_id: Some(field(0)).filter(|s| !s.is_empty()).map(str::to_owned),
            falls_within: field(3).to_owned(),
            lon,
            lat,
            location: field(6).to_owned(),
            lsoa_code: field(7).to_owned(),
            lsoa_name: field(8).to_owned(),
            crime_type: field(9).to_owned(),
            last_outcome: field(10).to_owned(),
            context: field(11).to_owned(),
        });
    }
    Ok(months.into_values().collect())
}

/// A month as a number (months since year 0), for comparisons.
pub fn month_number(month: &str) -> Option<u32> {
    if !is_month(month) {
        return None;
    }
    let year: u32 = month[..4].parse().ok()?;
    let m: u32 = month[5..].parse().ok()?;
    Some(year * 12 + m - 1)
}

/// The text form of a month number.
pub fn month_text(n: u32) -> String {
    format!("{:04}-{:02}", n / 12, n % 12 + 1)
}

/// The kebab-case code of a crime type ("Anti-social behaviour" →
/// "anti-social-behaviour"), used in filters and tiles.
pub fn type_code(crime_type: &str) -> String {
    let mut code = String::with_capacity(crime_type.len());
    for c in crime_type.chars() {
        if c.is_ascii_alphanumeric() {
            code.push(c.to_ascii_lowercase());
        } else if !code.ends_with('-') && !code.is_empty() {
            code.push('-');
        }
    }
    code.trim_end_matches('-').to_owned()
}

/// Counts over one or more force-months.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportTotals {
    /// Data rows read.
    pub rows_read: usize,
    /// Rows kept.
    pub imported: usize,
    /// Rows without usable coordinates.
    pub no_location: usize,
    /// Rows outside the service area.
    pub outside_area: usize,
}

impl ImportTotals {
    /// The totals of some force-months.
    pub fn of(months: &[MonthImport]) -> ImportTotals {
        let mut t = ImportTotals::default();
        for m in months {
            t.add(&ImportTotals {
                rows_read: m.rows_read,
                imported: m.rows.len(),
                no_location: m.no_location,
                outside_area: m.outside_area,
            });
        }
        t
    }

    /// Adds another's counts.
    pub fn add(&mut self, other: &ImportTotals) {
        self.rows_read += other.rows_read;
        self.imported += other.imported;
        self.no_location += other.no_location;
        self.outside_area += other.outside_area;
    }
}

impl std::fmt::Display for ImportTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows read, {} imported, {} without coordinates, {} outside the service area",
            self.rows_read, self.imported, self.no_location, self.outside_area
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::coord;

    fn wales() -> Rect<f64> {
        Rect::new(
            coord! { x: -5.670, y: 51.375 },
            coord! { x: -2.650, y: 53.436 },
        )
    }

    const FILE: &str = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context
,2021-03,Gwent Police,Gwent Police,-2.997,51.588,\"On or near Park Square, Newport\",W01001600,Newport 013A,Anti-social behaviour,,
abc1,2021-03,Gwent Police,Gwent Police,,,No Location,,,Burglary,Under investigation,
abc2,2021-03,Gwent Police,Gwent Police,-2.359,51.381,On or near Milsom Street,E01014370,Bath and North East Somerset 011A,Shoplifting,Unable to prosecute suspect,
abc3,2021-03,Gwent Police,Gwent Police,-3.001,51.590,On or near Bridge Street,W01001601,Newport 013B,Drugs,Local resolution,
";

    #[test]
    fn rows_without_coordinates_or_outside_the_area_are_counted_not_kept() {
        let months = parse(FILE.as_bytes(), wales()).expect("reads");
        assert_eq!(months.len(), 1);
        let m = &months[0];
        assert_eq!(
            (m.rows_read, m.no_location, m.outside_area, m.rows.len()),
            (4, 1, 1, 2)
        );
        assert_eq!(
            m.rows[0].crime_id, None,
            "anti-social behaviour has no crime id"
        );
        assert_eq!(m.rows[0].location, "On or near Park Square, Newport");
    }

    #[test]
    fn a_file_with_other_columns_is_refused() {
        let err = parse("a,b\n1,2\n".as_bytes(), wales()).expect_err("refused");
        assert!(matches!(err, ImportError::Header));
    }

    #[test]
    fn crime_types_have_kebab_case_codes() {
        assert_eq!(type_code("Anti-social behaviour"), "anti-social-behaviour");
        assert_eq!(
            type_code("Violence and sexual offences"),
            "violence-and-sexual-offences"
        );
        assert_eq!(
            month_text(month_number("2022-10").expect("month")),
            "2022-10"
        );
    }
}

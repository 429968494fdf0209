//! Uploaded files: places (CSV or GeoJSON), boundaries, police.uk CSV.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    safetymap::parsers::file_inputs(bytes);
});

//! CQL2 filters, as text and as JSON.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    safetymap::parsers::filter_inputs(text);
});

//! Query strings and their parameters: bbox, datetime, a whole layer query.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    safetymap::parsers::query_inputs(text);
});

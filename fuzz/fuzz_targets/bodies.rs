//! JSON bodies: a new observation, a drawn shape.
#![no_main]

libfuzzer_sys::fuzz_target!(|text: &str| {
    safetymap::parsers::body_inputs(text);
});

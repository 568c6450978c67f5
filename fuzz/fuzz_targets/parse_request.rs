//! Any HTTP request: parsing and verification never panic and refuse only with 4xx ECS errors.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = common::Input::parse(data);
    common::parse_and_verify(&input);
});

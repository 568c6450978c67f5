//! ecsd's domain: resources, the lifecycle rules and the error table. Pure code: no I/O, and
//! the current time is always passed in.

pub mod error;

pub use error::{ApiError, ErrorCode};

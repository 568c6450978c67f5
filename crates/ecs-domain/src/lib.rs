//! ecsd's domain: resources, the lifecycle rules and the error table. Pure code: no I/O, and
//! the current time is always passed in.

pub mod capacity;
pub mod catalog;
pub mod charging;
pub mod disk;
pub mod error;
pub mod launch;
pub mod lifecycle;
pub mod model;
pub mod money;
pub mod names;
pub mod rules;
pub mod spot;
pub mod time;

pub use error::{ApiError, ErrorCode};
pub use money::Money;

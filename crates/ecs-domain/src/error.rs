//! Errors as ECS reports them: a code, an HTTP status and a message.
//!
//! `ErrorCode` is a row of an error table (data, usually a `const` next to the operation that can
//! return it); `ApiError` is one concrete answer built from such a row.

use std::borrow::Cow;
use std::fmt;

/// One row of an ECS error table: the code, its HTTP status, and the default message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: u16,
    pub message: &'static str,
}

impl ErrorCode {
    pub const fn new(status: u16, code: &'static str, message: &'static str) -> Self {
        Self {
            code,
            status,
            message,
        }
    }

    /// The error with its table message.
    pub fn err(&self) -> ApiError {
        ApiError {
            code: Cow::Borrowed(self.code),
            status: self.status,
            message: Cow::Borrowed(self.message),
        }
    }

    /// The error with a message of its own (rows whose documented message is `%s`).
    pub fn with_message(&self, message: impl Into<String>) -> ApiError {
        ApiError {
            code: Cow::Borrowed(self.code),
            status: self.status,
            message: Cow::Owned(message.into()),
        }
    }
}

/// An error answer: what the client sees in `Code`, `Message` and the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Cow<'static, str>,
    pub status: u16,
    pub message: Cow<'static, str>,
}

impl ApiError {
    pub fn is(&self, row: &ErrorCode) -> bool {
        self.code == row.code
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ErrorCode> for ApiError {
    fn from(row: ErrorCode) -> Self {
        row.err()
    }
}

/// Codes shared by every operation: the gateway's and the generic ones.
pub mod common {
    use super::{ApiError, ErrorCode};

    pub const INVALID_PARAMETER: ErrorCode = ErrorCode::new(
        400,
        "InvalidParameter",
        "The specified parameter is not valid.",
    );
    pub const UNSUPPORTED_PARAMETER: ErrorCode = ErrorCode::new(
        400,
        "UnsupportedParameter",
        "The parameters is unsupported.",
    );
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode::new(
        500,
        "InternalError",
        "The request processing has failed due to some unknown error, exception or failure.",
    );
    pub const SERVICE_UNAVAILABLE: ErrorCode = ErrorCode::new(
        503,
        "ServiceUnavailable",
        "The request has failed due to a temporary failure of the server.",
    );
    pub const IDEMPOTENT_PARAMETER_MISMATCH: ErrorCode = ErrorCode::new(
        400,
        "IdempotentParameterMismatch",
        "The request uses the same client token as a previous, but non-identical request.",
    );
    pub const DRY_RUN_OPERATION: ErrorCode = ErrorCode::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    );
    pub const INVALID_REGION_ID: ErrorCode = ErrorCode::new(
        404,
        "InvalidRegionId.NotFound",
        "The specified RegionId does not exist.",
    );

    /// `MissingParameter` naming the parameter, in the gateway's wording.
    pub fn missing_parameter(name: &str) -> ApiError {
        ErrorCode::new(400, "MissingParameter", "").with_message(format!(
            "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
        ))
    }

    /// `InvalidParameter` naming the parameter.
    pub fn invalid_parameter(name: &str) -> ApiError {
        INVALID_PARAMETER.with_message(format!("The specified parameter \"{name}\" is not valid."))
    }
}

//! Gateway-level error codes (spec §4.4): what the API gateway answers before an operation runs.
//!
//! Messages are the ones real clients have been seen receiving; where the spec marks a status or
//! message as unconfirmed, the choice made here is the spec's recommendation.

use ecs_domain::error::ErrorCode;
use ecs_domain::ApiError;

pub use ecs_domain::error::common::{invalid_parameter, missing_parameter};

/// The prefix of every SignatureDoesNotMatch message. Build the full error with
/// [`signature_does_not_match`], which appends the server's string to sign.
pub const SIGNATURE_DOES_NOT_MATCH: ErrorCode = ErrorCode::new(
    400,
    "SignatureDoesNotMatch",
    "Specified signature is not matched with our calculation.",
);
pub const INCOMPLETE_SIGNATURE: ErrorCode = ErrorCode::new(
    400,
    "IncompleteSignature",
    "The request signature does not conform to Aliyun standards.",
);
pub const INVALID_ACCESS_KEY_ID_NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidAccessKeyId.NotFound",
    "Specified access key is not found.",
);
pub const INVALID_ACCESS_KEY_ID_INACTIVE: ErrorCode = ErrorCode::new(
    400,
    "InvalidAccessKeyId.Inactive",
    "Specified access key is disabled.",
);
pub const INVALID_TIMESTAMP_EXPIRED: ErrorCode = ErrorCode::new(
    400,
    "InvalidTimeStamp.Expired",
    "Specified time stamp or date value is expired.",
);
pub const INVALID_TIMESTAMP_FORMAT: ErrorCode = ErrorCode::new(
    400,
    "InvalidTimeStamp.Format",
    "Specified time stamp or date value is not well formatted.",
);
/// Nonce reuse is detected by the caller, which keeps the (stateful) set of recent nonces.
pub const SIGNATURE_NONCE_USED: ErrorCode = ErrorCode::new(
    400,
    "SignatureNonceUsed",
    "Specified signature nonce was used already.",
);
pub const INVALID_SIGNATURE_METHOD: ErrorCode = ErrorCode::new(
    400,
    "InvalidSignatureMethod",
    "Specified signature method is not supported.",
);
pub const INVALID_ACTION_NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidAction.NotFound",
    "Specified api is not found, please check your url and method.",
);
pub const INVALID_VERSION: ErrorCode = ErrorCode::new(
    400,
    "InvalidVersion",
    "Specified parameter Version is not valid.",
);
pub const UNSUPPORTED_HTTP_METHOD: ErrorCode = ErrorCode::new(
    400,
    "UnsupportedHTTPMethod",
    "This http method is not supported.",
);
pub const THROTTLING: ErrorCode = ErrorCode::new(
    400,
    "Throttling",
    "Request was denied due to request throttling.",
);
pub const THROTTLING_USER: ErrorCode = ErrorCode::new(
    400,
    "Throttling.User",
    "Request was denied due to user flow control.",
);
pub const THROTTLING_API: ErrorCode = ErrorCode::new(
    400,
    "Throttling.Api",
    "Request was denied due to api flow control.",
);

/// SignatureDoesNotMatch echoing the server's string to sign after a `:`.
///
/// The classic Python SDK does `Message.split(':')[1]` on this error and crashes with IndexError
/// when there is no colon; when the echoed string equals its own it reports a wrong secret
/// (`InvalidAccessKeySecret`) instead. A V1 string to sign has all its colons percent-encoded,
/// so everything after the first `:` is the string to sign.
pub fn signature_does_not_match(string_to_sign: &str) -> ApiError {
    SIGNATURE_DOES_NOT_MATCH.with_message(format!(
        "{} server string to sign is:{string_to_sign}",
        SIGNATURE_DOES_NOT_MATCH.message
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_mismatch_message_has_the_classic_shape() {
        let err = signature_does_not_match("GET&%2F&A%3D1");
        assert_eq!(err.status, 400);
        assert_eq!(err.code, "SignatureDoesNotMatch");
        assert_eq!(
            err.message,
            "Specified signature is not matched with our calculation. server string to sign is:GET&%2F&A%3D1"
        );
        assert_eq!(err.message.split(':').nth(1), Some("GET&%2F&A%3D1"));
    }
}

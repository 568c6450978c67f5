//! What RunInstances and CreateInstance take beyond type, image and billing: user data and the
//! spot settings. The rows are ECS's for those parameters.

use ecs_domain::model::{ChargeType, LaunchSettings, SpotStrategy};
use ecs_domain::{ApiError, ErrorCode};

/// The launch parameters as sent (user data already checked as base64 by the door).
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    pub user_data: Option<String>,
    pub spot_strategy: SpotStrategy,
    pub spot_price_limit: Option<String>,
    pub spot_duration: Option<i64>,
}

pub const INVALID_SPOT_STRATEGY: ErrorCode = ErrorCode::new(
    400,
    "InvalidSpotStrategy",
    "The specified SpotStrategy is not valid.",
);
pub const INVALID_SPOT_PRICE_LIMIT: ErrorCode = ErrorCode::new(
    400,
    "InvalidSpotPriceLimit",
    "The specified SpotPriceLimit is not valid.",
);
pub const INVALID_SPOT_DURATION: ErrorCode = ErrorCode::new(
    400,
    "InvalidSpotDuration",
    "The specified SpotDuration is not valid.",
);
pub const INVALID_SPOT_PREPAID: ErrorCode = ErrorCode::new(
    400,
    "InvalidSpotPrepaid",
    "The specified spot type is not support PrePay Instance.",
);
pub const INVALID_USER_DATA: ErrorCode = ErrorCode::new(
    400,
    "InvalidUserData.Base64FormatInvalid",
    "The specified UserData is not valid Base64.",
);
pub const USER_DATA_TOO_BIG: ErrorCode = ErrorCode::new(
    400,
    "InvalidUserData.SizeExceeded",
    "The specified parameter UserData exceeds the size.",
);

/// ECS caps user data at 32 KiB before encoding.
pub const MAX_USER_DATA_BYTES: usize = 32 * 1024;
/// `SpotDuration` is 1 (an hour of protection, the default) or 0 (none).
const SPOT_DURATIONS: [i64; 2] = [0, 1];

/// The settings a new instance keeps, or the row that refuses them. Spot instances are
/// pay-as-you-go only; a price limit is needed for (and kept only with) `SpotWithPriceLimit`;
/// the protection period is kept for spot instances only, as the others ignore it.
pub(crate) fn settle(req: &LaunchRequest, charge: ChargeType) -> Result<LaunchSettings, ApiError> {
    let spot = req.spot_strategy;
    if spot != SpotStrategy::NoSpot && charge == ChargeType::PrePaid {
        return Err(INVALID_SPOT_PREPAID.err());
    }
    let spot_price_limit = match spot {
        SpotStrategy::SpotWithPriceLimit => {
            let raw = req
                .spot_price_limit
                .as_deref()
                .filter(|p| price_limit_ok(p))
                .ok_or_else(|| INVALID_SPOT_PRICE_LIMIT.err())?;
            Some(raw.to_string())
        }
        _ => None,
    };
    let spot_duration = match (spot, req.spot_duration) {
        (SpotStrategy::NoSpot, _) => None,
        (_, None) => Some(1),
        (_, Some(d)) if SPOT_DURATIONS.contains(&d) => Some(d as u32),
        (_, Some(_)) => return Err(INVALID_SPOT_DURATION.err()),
    };
    Ok(LaunchSettings {
        user_data: req.user_data.clone().filter(|u| !u.is_empty()),
        spot_strategy: spot,
        spot_price_limit,
        spot_duration,
        interruption_release_time: None,
    })
}

/// A positive decimal with at most 3 places (ECS's precision for spot prices).
fn price_limit_ok(raw: &str) -> bool {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && whole.len() <= 9
        && digits(whole)
        && frac.len() <= 3
        && digits(frac)
        && !(raw.ends_with('.'))
        && raw.parse::<f64>().is_ok_and(|v| v > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(spot: SpotStrategy, limit: Option<&str>, duration: Option<i64>) -> LaunchRequest {
        LaunchRequest {
            user_data: None,
            spot_strategy: spot,
            spot_price_limit: limit.map(str::to_string),
            spot_duration: duration,
        }
    }

    #[test]
    fn spot_rules() {
        use SpotStrategy::*;
        let post = ChargeType::PostPaid;
        let ok = settle(&req(SpotWithPriceLimit, Some("0.125"), None), post).unwrap();
        assert_eq!(
            (ok.spot_price_limit.as_deref(), ok.spot_duration),
            (Some("0.125"), Some(1))
        );
        let go = settle(&req(SpotAsPriceGo, Some("9"), Some(0)), post).unwrap();
        assert_eq!((go.spot_price_limit, go.spot_duration), (None, Some(0)));
        let plain = settle(&req(NoSpot, Some("9"), Some(5)), post).unwrap();
        assert!(plain.is_default());
        for limit in [
            None,
            Some("0"),
            Some("-1"),
            Some("0.1234"),
            Some("abc"),
            Some("1."),
        ] {
            assert_eq!(
                settle(&req(SpotWithPriceLimit, limit, None), post)
                    .unwrap_err()
                    .code,
                INVALID_SPOT_PRICE_LIMIT.code
            );
        }
        assert_eq!(
            settle(&req(SpotAsPriceGo, None, Some(2)), post)
                .unwrap_err()
                .code,
            INVALID_SPOT_DURATION.code
        );
        assert_eq!(
            settle(&req(SpotAsPriceGo, None, None), ChargeType::PrePaid)
                .unwrap_err()
                .code,
            INVALID_SPOT_PREPAID.code
        );
    }
}

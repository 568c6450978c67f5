//! What RunInstances and CreateInstance take beyond type, image and billing: user data and the
//! spot settings. The rows are ECS's for those parameters.

use chrono::{DateTime, Utc};
use ecs_domain::catalog::{Image, InstanceType};
use ecs_domain::disk::{device_name, Disk, CATEGORIES, MAX_DATA_DISKS};
use ecs_domain::error::common::invalid_parameter;
use ecs_domain::model::{ChargeType, CreditSpecification, LaunchSettings, SpotStrategy};
use ecs_domain::{ApiError, ErrorCode};

/// The launch parameters as sent (user data already checked as base64 by the door).
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    pub user_data: Option<String>,
    pub spot_strategy: SpotStrategy,
    pub spot_price_limit: Option<String>,
    pub spot_duration: Option<i64>,
    /// `SystemDisk.*`.
    pub system_disk: DiskRequest,
    /// `DataDisk.N.*`, in order of N.
    pub data_disks: Vec<DiskRequest>,
    /// `CreditSpecification`: the performance mode asked for a burstable type.
    pub credit_specification: Option<CreditSpecification>,
    /// `DeploymentSetId` and `DeploymentSetGroupNo`, as sent.
    pub deployment_set_id: Option<String>,
    pub deployment_set_group_no: Option<i64>,
}

/// One disk as asked for (`SystemDisk.*` or `DataDisk.N.*`).
#[derive(Debug, Clone, Default)]
pub struct DiskRequest {
    pub category: Option<String>,
    pub size: Option<i64>,
    pub name: String,
    pub description: String,
    /// Data disks only; `None` is ECS's default, true.
    pub delete_with_instance: Option<bool>,
}

/// The disks every instance of one creating call gets: (system disk, data disks), ids unset.
#[derive(Debug, Clone)]
pub(crate) struct DiskPlan {
    pub system: Disk,
    pub data: Vec<Disk>,
}

pub const INVALID_SYSTEM_DISK_CATEGORY: ErrorCode = ErrorCode::new(
    400,
    "InvalidSystemDiskCategory.ValueNotSupported",
    "The specified parameter SystemDisk.Category is not valid.",
);
pub const INVALID_SYSTEM_DISK_SIZE: ErrorCode = ErrorCode::new(
    400,
    "InvalidSystemDiskSize.ValueNotSupported",
    "The specified parameter SystemDisk.Size is invalid.",
);
pub const SYSTEM_DISK_SMALLER_THAN_IMAGE: ErrorCode = ErrorCode::new(
    400,
    "InvalidSystemDiskSize.LessThanImageSize",
    "The specified parameter SystemDisk.Size is less than the image size.",
);
pub const INVALID_DATA_DISK_CATEGORY: ErrorCode = ErrorCode::new(
    400,
    "InvalidDataDiskCategory.ValueNotSupported",
    "The specified parameter DataDisk.n.Category is not valid.",
);
pub const INVALID_DATA_DISK_SIZE: ErrorCode = ErrorCode::new(
    400,
    "InvalidDataDiskSize.ValueNotSupported",
    "The specified DataDisk.n.Size is beyond the permitted range.",
);
pub const TOO_MANY_DATA_DISKS: ErrorCode = ErrorCode::new(
    400,
    "InvalidDataDiskCount.ExceedLimit",
    "The number of data disks exceeds the limit of 16.",
);

/// The default category of new disks.
const DEFAULT_CATEGORY: &str = "cloud_essd";
/// A system disk is at least this big when no size is asked for (or the image's size, if larger).
const DEFAULT_SYSTEM_DISK_GIB: u32 = 40;

/// Checks the asked disks against the categories' limits and the image, and plans the disks
/// each new instance gets.
pub(crate) fn plan_disks(
    req: &LaunchRequest,
    image: &Image,
    region_id: &str,
    charge: ChargeType,
    now: DateTime<Utc>,
) -> Result<DiskPlan, ApiError> {
    let limits = |category: &str| CATEGORIES.iter().find(|(c, _, _)| *c == category);
    let sys = &req.system_disk;
    let category = sys.category.as_deref().unwrap_or(DEFAULT_CATEGORY);
    let (_, (sys_min, sys_max), _) =
        limits(category).ok_or_else(|| INVALID_SYSTEM_DISK_CATEGORY.err())?;
    let size = match sys.size {
        None => DEFAULT_SYSTEM_DISK_GIB.max(image.size_gib),
        Some(n) => {
            let n = u32::try_from(n)
                .ok()
                .filter(|n| (*sys_min..=*sys_max).contains(n))
                .ok_or_else(|| INVALID_SYSTEM_DISK_SIZE.err())?;
            if n < image.size_gib {
                return Err(SYSTEM_DISK_SMALLER_THAN_IMAGE.err());
            }
            n
        }
    };
    let disk =
        |disk_type: &str, category: &str, size_gib: u32, r: &DiskRequest, data: Option<usize>| {
            Disk {
                id: String::new(),
                account_id: 0,
                region_id: region_id.to_string(),
                zone_id: String::new(),
                name: r.name.clone(),
                description: r.description.clone(),
                disk_type: disk_type.into(),
                category: category.into(),
                size_gib,
                instance_id: None,
                device: device_name(data),
                delete_with_instance: r.delete_with_instance.unwrap_or(true),
                image_id: if data.is_none() {
                    image.id.clone()
                } else {
                    String::new()
                },
                charge_type: charge.as_str().into(),
                creation_time: now,
            }
        };
    let mut system = disk("system", category, size, sys, None);
    // The system disk always goes with its instance.
    system.delete_with_instance = true;
    if req.data_disks.len() > MAX_DATA_DISKS {
        return Err(TOO_MANY_DATA_DISKS.err());
    }
    let mut data = Vec::with_capacity(req.data_disks.len());
    for (n, r) in req.data_disks.iter().enumerate() {
        let category = r.category.as_deref().unwrap_or(DEFAULT_CATEGORY);
        let (_, _, (min, max)) =
            limits(category).ok_or_else(|| INVALID_DATA_DISK_CATEGORY.err())?;
        let size = r
            .size
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (*min..=*max).contains(n))
            .ok_or_else(|| INVALID_DATA_DISK_SIZE.err())?;
        data.push(disk("data", category, size, r, Some(n)));
    }
    Ok(DiskPlan { system, data })
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
/// `base` carries the settings checked elsewhere (host name, key pair, bandwidth, ...); the
/// user data and spot settings are checked here and added to it.
pub(crate) fn settle(
    req: &LaunchRequest,
    charge: ChargeType,
    base: LaunchSettings,
) -> Result<LaunchSettings, ApiError> {
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
        ..base
    })
}

/// A `DeploymentSetId` that is not one of the caller's deployment sets (ECS's row in the
/// RunInstances and CreateInstance tables).
pub const DEPLOYMENT_SET_NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "DeploymentSet.NotFound",
    "The specified deployment set does not exist.",
);
/// A `CreditSpecification` for a type that is not burstable. The code and message are ECS's
/// documented row for a performance mode that cannot be had where it was asked for; that ECS
/// answers a non-burstable type with it is unconfirmed (its documents name no other row).
pub const CREDIT_SPECIFICATION_NOT_SUPPORTED: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter.CreditSpecification",
    "The specified CreditSpecification is not supported in this region.",
);
/// Where the instances are placed beyond their zone and host: ecsd keeps no deployment sets,
/// so every `DeploymentSetId` names one that does not exist, and a `DeploymentSetGroupNo`
/// (which numbers a group, 1 to 7, inside an availability-group set) has no set to be in,
/// whatever its value. The latter answers the plain `InvalidParameter` naming it: ECS
/// documents no row of its own for a group number without a set (unconfirmed).
pub(crate) fn check_deployment_set(req: &LaunchRequest) -> Result<(), ApiError> {
    if req
        .deployment_set_id
        .as_deref()
        .is_some_and(|id| !id.is_empty())
    {
        return Err(DEPLOYMENT_SET_NOT_FOUND.err());
    }
    if req.deployment_set_group_no.is_some() {
        return Err(invalid_parameter("DeploymentSetGroupNo"));
    }
    Ok(())
}

/// The performance mode the instances keep: the one asked for, for a burstable type only;
/// `Standard` (ECS's default mode) for a burstable type when none is asked for; none for the
/// other types.
pub(crate) fn credit_specification(
    req: &LaunchRequest,
    instance_type: &InstanceType,
) -> Result<Option<CreditSpecification>, ApiError> {
    match (instance_type.is_burstable(), req.credit_specification) {
        (true, asked) => Ok(Some(asked.unwrap_or(CreditSpecification::Standard))),
        (false, None) => Ok(None),
        (false, Some(_)) => Err(CREDIT_SPECIFICATION_NOT_SUPPORTED.err()),
    }
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
            ..LaunchRequest::default()
        }
    }

    #[test]
    fn deployment_sets_and_credit_modes() {
        let catalog = ecs_domain::catalog::Catalog::builtin();
        let t6 = catalog.instance_type("ecs.t6-c1m1.large").unwrap();
        let g7 = catalog.instance_type("ecs.g7.large").unwrap();
        let asking = |mode| LaunchRequest {
            credit_specification: mode,
            ..LaunchRequest::default()
        };
        use CreditSpecification::*;
        assert_eq!(credit_specification(&asking(None), t6), Ok(Some(Standard)));
        assert_eq!(
            credit_specification(&asking(Some(Unlimited)), t6),
            Ok(Some(Unlimited))
        );
        assert_eq!(credit_specification(&asking(None), g7), Ok(None));
        assert_eq!(
            credit_specification(&asking(Some(Standard)), g7)
                .unwrap_err()
                .code,
            CREDIT_SPECIFICATION_NOT_SUPPORTED.code
        );
        assert_eq!(check_deployment_set(&LaunchRequest::default()), Ok(()));
        let set = LaunchRequest {
            deployment_set_id: Some("ds-bp1".into()),
            deployment_set_group_no: Some(1),
            ..LaunchRequest::default()
        };
        assert_eq!(
            check_deployment_set(&set).unwrap_err().code,
            DEPLOYMENT_SET_NOT_FOUND.code
        );
        let group_alone = LaunchRequest {
            deployment_set_group_no: Some(1),
            ..LaunchRequest::default()
        };
        assert_eq!(
            check_deployment_set(&group_alone).unwrap_err().code,
            "InvalidParameter"
        );
    }

    #[test]
    fn spot_rules() {
        use SpotStrategy::*;
        let post = ChargeType::PostPaid;
        let ok = settle(
            &req(SpotWithPriceLimit, Some("0.125"), None),
            post,
            LaunchSettings::default(),
        )
        .unwrap();
        assert_eq!(
            (ok.spot_price_limit.as_deref(), ok.spot_duration),
            (Some("0.125"), Some(1))
        );
        let go = settle(
            &req(SpotAsPriceGo, Some("9"), Some(0)),
            post,
            LaunchSettings::default(),
        )
        .unwrap();
        assert_eq!((go.spot_price_limit, go.spot_duration), (None, Some(0)));
        let plain = settle(
            &req(NoSpot, Some("9"), Some(5)),
            post,
            LaunchSettings::default(),
        )
        .unwrap();
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
                settle(
                    &req(SpotWithPriceLimit, limit, None),
                    post,
                    LaunchSettings::default()
                )
                .unwrap_err()
                .code,
                INVALID_SPOT_PRICE_LIMIT.code
            );
        }
        assert_eq!(
            settle(
                &req(SpotAsPriceGo, None, Some(2)),
                post,
                LaunchSettings::default()
            )
            .unwrap_err()
            .code,
            INVALID_SPOT_DURATION.code
        );
        assert_eq!(
            settle(
                &req(SpotAsPriceGo, None, None),
                ChargeType::PrePaid,
                LaunchSettings::default()
            )
            .unwrap_err()
            .code,
            INVALID_SPOT_PREPAID.code
        );
    }
}

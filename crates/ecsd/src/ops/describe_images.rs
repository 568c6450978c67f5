//! DescribeImages: the public images instances can be created from.

use ecs_domain::catalog::Image;
use ecs_domain::error::common::invalid_parameter;
use ecs_domain::ErrorCode;
use serde_json::{json, Value};

use super::common::{object, page_number_and_size, region};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeImages",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_OWNER_ALIAS: ErrorCode = ErrorCode::new(
    400,
    "InvalidImageOwnerAlias.ValueNotSupported",
    "The specified ImageOwnerAlias is not supported.",
);
const INVALID_OS_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidOSType.ValueNotSupported",
    "The specified OSType is not supported.",
);
const INVALID_ARCHITECTURE: ErrorCode = ErrorCode::new(
    400,
    "InvalidArchitecture.ValueNotSupported",
    "The specified Architecture is not supported.",
);

/// ECS takes at most 100 comma-separated ids in `ImageId`.
const MAX_IMAGE_IDS: usize = 100;

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region_id = region(ctx)?;
    let ids = ctx.params.comma_list("ImageId").unwrap_or_default();
    if ids.len() > MAX_IMAGE_IDS {
        return Err(invalid_parameter("ImageId"));
    }
    // Every image here is a public system image: asking for another owner's finds none.
    let system = match ctx.params.non_empty("ImageOwnerAlias") {
        None | Some("system") => true,
        Some("self" | "others" | "marketplace") => false,
        Some(_) => return Err(INVALID_OWNER_ALIAS.err()),
    };
    let os_type = ctx.params.non_empty("OSType");
    if os_type.is_some_and(|t| !["linux", "windows"].contains(&t)) {
        return Err(INVALID_OS_TYPE.err());
    }
    let architecture = ctx.params.non_empty("Architecture");
    if architecture.is_some_and(|a| !["i386", "x86_64", "arm64"].contains(&a)) {
        return Err(INVALID_ARCHITECTURE.err());
    }
    // Status defaults to Available; the images here are all Available.
    let statuses = ctx
        .params
        .comma_list("Status")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| vec!["Available".to_string()]);
    let name = ctx.params.non_empty("ImageName");
    let (number, size) = page_number_and_size(ctx)?;
    let matching: Vec<&Image> = ctx
        .service
        .catalog()
        .images
        .iter()
        .filter(|_| system && statuses.iter().any(|s| s == "Available"))
        .filter(|i| ids.is_empty() || ids.contains(&i.id))
        .filter(|i| os_type.is_none_or(|t| t == i.os_type))
        .filter(|i| architecture.is_none_or(|a| a == i.architecture))
        .filter(|i| name.is_none_or(|n| n == i.id))
        .collect();
    let skip = (number as usize - 1).saturating_mul(size as usize);
    let page: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(size as usize)
        .map(|i| render(i))
        .collect();
    Ok(object(json!({
        "RegionId": region_id,
        "TotalCount": matching.len(),
        "PageNumber": number,
        "PageSize": size,
        "Images": { "Image": page },
    })))
}

fn render(i: &Image) -> Value {
    json!({
        "ImageId": i.id,
        "ImageName": i.id,
        "ImageFamily": "",
        "ImageVersion": "",
        "Description": "",
        "OSName": i.os_name,
        "OSNameEn": i.os_name_en.as_deref().unwrap_or(&i.os_name),
        "OSType": i.os_type,
        "Platform": i.platform,
        "Architecture": i.architecture,
        "Size": i.size_gib,
        "Status": "Available",
        "Progress": "100%",
        "Usage": "instance",
        "ImageOwnerAlias": "system",
        "IsPublic": true,
        "IsSelfShared": "",
        "IsSubscribed": false,
        "IsCopied": false,
        "IsSupportCloudinit": !i.is_windows(),
        "IsSupportIoOptimized": true,
        "BootMode": "BIOS",
        "ProductCode": "",
        "CreationTime": creation_time(&i.id),
        "DiskDeviceMappings": { "DiskDeviceMapping": [{
            "Device": "/dev/xvda",
            "Size": i.size_gib.to_string(),
            "Type": "system",
            "Format": "",
            "SnapshotId": "",
        }]},
        "Tags": { "Tag": [] },
    })
}

/// Public image ids end with their build date (`..._alibase_20240819.vhd`); an image without
/// one shows no creation time.
fn creation_time(id: &str) -> String {
    let stem = id.strip_suffix(".vhd").unwrap_or(id);
    let date = stem.rsplit('_').next().unwrap_or_default();
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}T00:00:00Z", &date[..4], &date[4..6], &date[6..])
    } else {
        String::new()
    }
}

//! How resources look in answers (DescribeInstances, DescribeDedicatedHosts).

use ecs_domain::model::{
    post_paid_expired_time, ChargeType, DedicatedHost, Instance, InstanceStatus,
};
use ecs_domain::time::{format_minute, format_minute_opt};
use serde_json::{json, Value};

fn tags(tags: &[(String, String)]) -> Value {
    let list: Vec<Value> = tags
        .iter()
        .map(|(k, v)| json!({"TagKey": k, "TagValue": v}))
        .collect();
    json!({ "Tag": list })
}

fn lock_msg(reason: &str) -> &'static str {
    match reason {
        "financial" => "The specified instance is locked because it expired or your account has overdue payments.",
        _ => "",
    }
}

pub fn instance_view(i: &Instance) -> Value {
    let expired = match &i.subscription {
        Some(sub) => sub.expired_time,
        None => post_paid_expired_time(),
    };
    let locks: Vec<Value> = i
        .locks
        .iter()
        .map(|l| json!({"LockReason": l.as_str(), "LockMsg": lock_msg(l.as_str())}))
        .collect();
    json!({
        "InstanceId": i.id,
        "InstanceName": i.name,
        "Description": i.description,
        "RegionId": i.region_id,
        "ZoneId": i.zone_id,
        "Status": i.status.as_str(),
        "InstanceChargeType": i.charge_type.as_str(),
        "InternetChargeType": "PayByTraffic",
        "InstanceType": i.instance_type,
        "InstanceTypeFamily": family_of(&i.instance_type),
        "Cpu": i.cpu,
        "Memory": i.memory_mib,
        "ImageId": i.image_id,
        "HostName": i.name,
        "CreationTime": format_minute(i.creation_time),
        "StartTime": format_minute_opt(i.start_time),
        "ExpiredTime": format_minute(expired),
        "AutoReleaseTime": format_minute_opt(i.auto_release_time),
        "DeletionProtection": i.deletion_protection,
        "StoppedMode": if i.status == InstanceStatus::Stopped { "KeepCharging" } else { "Not-applicable" },
        "OperationLocks": { "LockReason": locks },
        "Tags": tags(&i.tags),
        "SecurityGroupIds": { "SecurityGroupId": i.security_group_ids },
        "VpcAttributes": { "VSwitchId": i.vswitch_id, "VpcId": "", "PrivateIpAddress": { "IpAddress": [] } },
        "DedicatedHostAttribute": {
            "DedicatedHostId": i.dedicated_host_id.clone().unwrap_or_default(),
        },
        "InstanceNetworkType": "vpc",
        "IoOptimized": true,
        "OSType": "linux",
    })
}

/// `ecs.g7.large` belongs to `ecs.g7`.
fn family_of(instance_type: &str) -> String {
    match instance_type.rsplit_once('.') {
        Some((family, _)) => family.to_string(),
        None => instance_type.to_string(),
    }
}

pub fn host_view(h: &DedicatedHost, instances: &[(String, String)]) -> Value {
    let expired = match &h.subscription {
        Some(sub) => sub.expired_time,
        None => post_paid_expired_time(),
    };
    let locks: Vec<Value> = h
        .locks
        .iter()
        .map(|l| json!({"LockReason": l.as_str()}))
        .collect();
    let instances: Vec<Value> = instances
        .iter()
        .map(|(id, ty)| json!({"InstanceId": id, "InstanceType": ty}))
        .collect();
    json!({
        "DedicatedHostId": h.id,
        "DedicatedHostName": h.name,
        "Description": h.description,
        "DedicatedHostType": h.host_type,
        "RegionId": h.region_id,
        "ZoneId": h.zone_id,
        "Status": h.status.as_str(),
        "ChargeType": h.charge_type.as_str(),
        "SaleCycle": if h.charge_type == ChargeType::PrePaid { "Month" } else { "" },
        "CreationTime": format_minute(h.creation_time),
        "ExpiredTime": format_minute(expired),
        "AutoReleaseTime": format_minute_opt(h.auto_release_time),
        "OperationLocks": { "OperationLock": locks },
        "Instances": { "Instance": instances },
        "Tags": tags(&h.tags),
    })
}

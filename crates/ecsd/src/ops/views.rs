//! How resources look in answers (DescribeInstances, DescribeDedicatedHosts).

use ecs_domain::capacity::{Demand, HostCapacity, Placed};
use ecs_domain::catalog::{Catalog, HostType, Image, InstanceType};
use ecs_domain::model::{
    post_paid_expired_time, ChargeType, DedicatedHost, Instance, InstanceStatus,
    DEFAULT_INTERNET_CHARGE_TYPE,
};
use ecs_domain::money::Money;
use ecs_domain::time::{format_minute, format_minute_opt};
use serde::Serialize;
use serde_json::{json, Value};

fn lock_msg(reason: &str) -> &'static str {
    match reason {
        "financial" => "The specified instance is locked because it expired or your account has overdue payments.",
        "recycling" => "The spot instance is interrupted and will be released.",
        _ => "",
    }
}

/// One instance as DescribeInstances shows it.
///
/// A typed struct rather than a `json!` value: a page of 100 is serialized straight into the
/// response, where building and dropping 100 trees of `serde_json::Value` maps was about half of
/// the page's CPU time. Field names are the wire names (PascalCase, `OSType` spelled out).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceView<'a> {
    instance_id: &'a str,
    instance_name: &'a str,
    description: &'a str,
    region_id: &'a str,
    zone_id: &'a str,
    status: &'static str,
    instance_charge_type: &'static str,
    internet_charge_type: &'static str,
    instance_type: &'a str,
    instance_type_family: &'a str,
    cpu: u32,
    memory: u32,
    image_id: &'a str,
    host_name: &'a str,
    creation_time: String,
    start_time: String,
    expired_time: String,
    auto_release_time: String,
    deletion_protection: bool,
    stopped_mode: &'static str,
    operation_locks: LockList,
    tags: TagList<'a>,
    security_group_ids: SecurityGroupList<'a>,
    vpc_attributes: VpcAttributes<'a>,
    dedicated_host_attribute: DedicatedHostAttribute<'a>,
    instance_network_type: &'static str,
    io_optimized: bool,
    #[serde(rename = "OSType")]
    os_type: &'a str,
    // Spot settings (issue 14).
    spot_strategy: &'static str,
    spot_price_limit: f64,
    spot_duration: u32,
    #[serde(rename = "OSName")]
    os_name: &'a str,
    #[serde(rename = "OSNameEn")]
    os_name_en: &'a str,
    serial_number: String,
    cpu_options: CpuOptions,
    // The address containers are always present, empty when there is nothing, as ECS answers:
    // code reading `PublicIpAddress.IpAddress` must never meet a missing object.
    public_ip_address: IpAddressList<'a>,
    inner_ip_address: IpAddressList<'a>,
    eip_address: EipAddress,
    network_interfaces: NetworkInterfaces<'a>,
    key_pair_name: &'a str,
    resource_group_id: &'a str,
    internet_max_bandwidth_in: u32,
    internet_max_bandwidth_out: u32,
    metadata_options: MetadataOptions,
    /// A burstable instance's performance mode; empty for the other types.
    credit_specification: &'static str,
    // What ecsd has none of, shown empty as ECS shows it for an instance without: no HPC
    // cluster, deployment set or classic VLAN; never recyclable (no spot).
    hpc_cluster_id: &'static str,
    deployment_set_id: &'static str,
    vlan_id: &'static str,
    recyclable: bool,
    /// Every ecsd instance can have disks attached (the DescribeInstances filter agrees).
    device_available: bool,
    dedicated_instance_attribute: DedicatedInstanceAttribute,
}

/// Whether the instance is on a dedicated host (`Tenancy`), and tied to it (`Affinity`: ecsd
/// never moves an instance, ECS's default is shown).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DedicatedInstanceAttribute {
    tenancy: &'static str,
    affinity: &'static str,
}

/// How the vCPUs are made: two threads per core, as on ECS's current families (one for a
/// single vCPU).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CpuOptions {
    core_count: u32,
    threads_per_core: u32,
    numa: &'static str,
}

impl CpuOptions {
    fn of(cpu: u32) -> Self {
        let threads = if cpu >= 2 && cpu.is_multiple_of(2) {
            2
        } else {
            1
        };
        CpuOptions {
            core_count: cpu / threads,
            threads_per_core: threads,
            numa: "",
        }
    }
}

/// A stable UUID-shaped serial number for an instance, from its id (FNV-1a, 128 bits).
fn serial_number(id: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in id.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What every ecsd instance's metadata service is like: ECS's defaults.
pub const HTTP_HOP_LIMIT: u32 = 1;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataOptions {
    http_endpoint: &'static str,
    http_tokens: &'static str,
    http_put_response_hop_limit: u32,
}

/// No ecsd instance has an elastic IP: ECS shows the object with empty values then.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EipAddress {
    allocation_id: &'static str,
    ip_address: &'static str,
    internet_charge_type: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkInterfaces<'a> {
    network_interface: Vec<NetworkInterface<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct NetworkInterface<'a> {
    network_interface_id: &'a str,
    mac_address: &'a str,
    primary_ip_address: &'a str,
    #[serde(rename = "Type")]
    kind: &'static str,
    private_ip_sets: PrivateIpSets<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PrivateIpSets<'a> {
    private_ip_set: Vec<PrivateIpSet<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PrivateIpSet<'a> {
    private_ip_address: &'a str,
    primary: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LockList {
    lock_reason: Vec<LockView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LockView {
    lock_reason: &'static str,
    lock_msg: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagList<'a> {
    tag: Vec<TagView<'a>>,
}

/// `{"Tag": [{"TagKey", "TagValue"}, ...]}`, for instances and hosts alike.
impl<'a> TagList<'a> {
    fn of(tags: &'a [(String, String)]) -> Self {
        TagList {
            tag: tags
                .iter()
                .map(|(k, v)| TagView {
                    tag_key: k,
                    tag_value: v,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TagView<'a> {
    tag_key: &'a str,
    tag_value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SecurityGroupList<'a> {
    security_group_id: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct VpcAttributes<'a> {
    v_switch_id: &'a str,
    vpc_id: &'a str,
    private_ip_address: IpAddressList<'a>,
    nat_ip_address: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpAddressList<'a> {
    ip_address: &'a [String],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DedicatedHostAttribute<'a> {
    dedicated_host_id: &'a str,
    dedicated_host_name: &'a str,
}

impl<'a> InstanceView<'a> {
    /// `image` is the catalogue's record of the instance's image: the OS fields are the
    /// image's, so an image added by the config file shows its own system. An image the
    /// catalogue no longer has (a config that dropped it) shows as a plain 64-bit Linux.
    pub fn of(i: &'a Instance, image: Option<&'a Image>) -> Self {
        let expired = match &i.subscription {
            Some(sub) => sub.expired_time,
            None => post_paid_expired_time(),
        };
        let (os_type, os_name, os_name_en) = match image {
            Some(img) => (
                img.os_type.as_str(),
                img.os_name.as_str(),
                img.os_name_en.as_deref().unwrap_or(&img.os_name),
            ),
            None => ("linux", "Linux 64位", "Linux 64 bit"),
        };
        InstanceView {
            instance_id: &i.id,
            instance_name: &i.name,
            description: &i.description,
            region_id: &i.region_id,
            zone_id: &i.zone_id,
            status: i.status.as_str(),
            instance_charge_type: i.charge_type.as_str(),
            internet_charge_type: match i.launch.internet_charge_type.as_str() {
                "PayByBandwidth" => "PayByBandwidth",
                _ => DEFAULT_INTERNET_CHARGE_TYPE,
            },
            instance_type: &i.instance_type,
            instance_type_family: ecs_domain::catalog::family_of(&i.instance_type),
            cpu: i.cpu,
            memory: i.memory_mib,
            image_id: &i.image_id,
            // Instances launched before host names were kept show their name, as before.
            host_name: if i.launch.host_name.is_empty() {
                &i.name
            } else {
                &i.launch.host_name
            },
            creation_time: format_minute(i.creation_time),
            start_time: format_minute_opt(i.start_time),
            expired_time: format_minute(expired),
            auto_release_time: format_minute_opt(i.auto_release_time),
            deletion_protection: i.deletion_protection,
            stopped_mode: match (i.status, i.stopped_charging) {
                (InstanceStatus::Stopped, true) => "StopCharging",
                (InstanceStatus::Stopped, false) => "KeepCharging",
                _ => "Not-applicable",
            },
            operation_locks: LockList {
                lock_reason: i
                    .locks
                    .iter()
                    .map(|l| LockView {
                        lock_reason: l.as_str(),
                        lock_msg: lock_msg(l.as_str()),
                    })
                    .collect(),
            },
            tags: TagList::of(&i.tags),
            security_group_ids: SecurityGroupList {
                security_group_id: &i.security_group_ids,
            },
            vpc_attributes: VpcAttributes {
                v_switch_id: &i.vswitch_id,
                vpc_id: &i.network.vpc_id,
                private_ip_address: IpAddressList {
                    ip_address: &i.network.private_ips,
                },
                nat_ip_address: "",
            },
            dedicated_host_attribute: DedicatedHostAttribute {
                dedicated_host_id: i.dedicated_host_id.as_deref().unwrap_or_default(),
                dedicated_host_name: "",
            },
            instance_network_type: "vpc",
            io_optimized: true,
            spot_strategy: i.launch.spot_strategy.as_str(),
            spot_price_limit: i
                .launch
                .spot_price_limit
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0.0),
            spot_duration: i.launch.spot_duration.unwrap_or(0),
            os_type,
            os_name,
            os_name_en,
            serial_number: serial_number(&i.id),
            cpu_options: CpuOptions::of(i.cpu),
            public_ip_address: IpAddressList {
                ip_address: &i.network.public_ips,
            },
            inner_ip_address: IpAddressList { ip_address: &[] },
            eip_address: EipAddress {
                allocation_id: "",
                ip_address: "",
                internet_charge_type: "",
            },
            network_interfaces: NetworkInterfaces {
                network_interface: primary_interface(i).into_iter().collect(),
            },
            key_pair_name: &i.launch.key_pair_name,
            resource_group_id: &i.launch.resource_group_id,
            internet_max_bandwidth_in: i.launch.internet_max_bandwidth_in,
            internet_max_bandwidth_out: i.launch.internet_max_bandwidth_out,
            metadata_options: MetadataOptions {
                http_endpoint: "enabled",
                http_tokens: "optional",
                http_put_response_hop_limit: HTTP_HOP_LIMIT,
            },
            hpc_cluster_id: "",
            deployment_set_id: "",
            credit_specification: i
                .launch
                .credit_specification
                .map_or("", |mode| mode.as_str()),
            vlan_id: "",
            recyclable: false,
            device_available: true,
            dedicated_instance_attribute: DedicatedInstanceAttribute {
                tenancy: if i.dedicated_host_id.is_some() {
                    "host"
                } else {
                    "default"
                },
                affinity: "default",
            },
        }
    }
}

impl<'a> InstanceView<'a> {
    /// The view with its host's name (`DedicatedHostAttribute.DedicatedHostName`), which the
    /// instance does not keep.
    pub fn on_host_named(mut self, name: &'a str) -> Self {
        self.dedicated_host_attribute.dedicated_host_name = name;
        self
    }
}

/// The primary network interface, for instances that have one (those launched before the
/// network existed have none).
fn primary_interface(i: &Instance) -> Option<NetworkInterface<'_>> {
    let n = &i.network;
    if n.eni_id.is_empty() {
        return None;
    }
    let primary = n.private_ips.first().map_or("", String::as_str);
    Some(NetworkInterface {
        network_interface_id: &n.eni_id,
        mac_address: &n.mac_address,
        primary_ip_address: primary,
        kind: "Primary",
        private_ip_sets: PrivateIpSets {
            private_ip_set: n
                .private_ips
                .iter()
                .enumerate()
                .map(|(k, ip)| PrivateIpSet {
                    private_ip_address: ip,
                    primary: k == 0,
                })
                .collect(),
        },
    })
}

/// What DescribeDedicatedHosts was asked to show beyond the host itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostDetails {
    /// `SocketDetails=true`: `Capacity.SocketCapacities`.
    pub sockets: bool,
    /// `QueryInventory=true`: `Capacity.AvailableInstanceTypes`, how many more of each type fit.
    pub inventory: bool,
    /// `NeedHostDetail=true`: `HostDetailInfo`.
    pub host_detail: bool,
}

/// One host as DescribeDedicatedHosts shows it: its shape from the catalogue, and its capacity
/// less what the instances on it use. A host whose type the catalogue no longer has shows a
/// shape and capacity of zero.
pub fn host_view(
    h: &DedicatedHost,
    placed: &[Placed],
    catalog: &Catalog,
    details: HostDetails,
) -> Value {
    let expired = match &h.subscription {
        Some(sub) => sub.expired_time,
        None => post_paid_expired_time(),
    };
    let locks: Vec<Value> = h
        .locks
        .iter()
        .map(|l| json!({"LockReason": l.as_str()}))
        .collect();
    let host_type = catalog
        .host_type(&h.host_type)
        .cloned()
        .unwrap_or_else(|| HostType::new(&h.host_type, Money::ZERO, 0, 0, 0, 0));
    let (capacity, sockets) = HostCapacity::with(&host_type, placed);
    let instances: Vec<Value> = placed
        .iter()
        .zip(&sockets)
        .map(|(p, socket)| {
            json!({
                "InstanceId": p.id,
                "InstanceType": p.instance_type,
                "InstanceOwnerId": h.account_id,
                "SocketId": socket.map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    let families = host_type.families();
    // The catalogue's types of the families the host carries that fit on an empty socket.
    let empty = HostCapacity::empty(&host_type);
    let supported: Vec<&InstanceType> = catalog
        .instance_types
        .iter()
        .filter(|t| host_type.carries(t) && empty.holds(demand_of(t)) > 0)
        .collect();
    let gib = |mib: u64| mib as f64 / 1024.0;
    let mut cap = json!({
        "TotalVcpus": capacity.total_vcpus(),
        "AvailableVcpus": capacity.available_vcpus(),
        "TotalMemory": gib(capacity.total_memory_mib()),
        "AvailableMemory": gib(capacity.available_memory_mib()),
        // No instance type in the catalogue has local disks: the host's are all free.
        "TotalLocalStorage": host_type.local_storage_gib,
        "AvailableLocalStorage": host_type.local_storage_gib,
        "LocalStorageCategory": host_type.local_storage_category,
        "TotalVgpus": host_type.vgpus,
        "AvailableVgpus": host_type.vgpus,
    });
    if details.sockets {
        let sockets: Vec<Value> = capacity
            .sockets
            .iter()
            .map(|s| {
                json!({
                    "SocketId": s.id,
                    "TotalVcpu": s.total_vcpus,
                    "AvailableVcpu": s.available_vcpus(),
                    "TotalMemory": gib(s.total_memory_mib),
                    "AvailableMemory": gib(s.available_memory_mib()),
                })
            })
            .collect();
        cap["SocketCapacities"] = json!({ "SocketCapacity": sockets });
    }
    if details.inventory {
        let available: Vec<Value> = supported
            .iter()
            .map(|t| (t, capacity.holds(demand_of(t))))
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| json!({"InstanceType": t.id, "AvailableInstanceCapacity": n}))
            .collect();
        cap["AvailableInstanceTypes"] = json!({ "AvailableInstanceType": available });
    }
    let mut view = json!({
        "DedicatedHostId": h.id,
        "DedicatedHostName": h.name,
        "Description": h.description,
        "DedicatedHostType": h.host_type,
        "DedicatedHostOwnerId": h.account_id,
        "RegionId": h.region_id,
        "ZoneId": h.zone_id,
        // ECS documents no status for an expired host (Available, UnderAssessment,
        // PermanentFailure, TempUnavailable, Redeploying are about the machine): the lock
        // shows in OperationLocks, and the Status filter matches what is shown here.
        "Status": h.status.as_str(),
        "ChargeType": h.charge_type.as_str(),
        "SaleCycle": if h.charge_type == ChargeType::PrePaid { "Month" } else { "" },
        "CreationTime": format_minute(h.creation_time),
        "ExpiredTime": format_minute(expired),
        "AutoReleaseTime": format_minute_opt(h.auto_release_time),
        "ResourceGroupId": "",
        "MachineId": machine_id(&h.id),
        // ECS's defaults: instances move to another machine during maintenance, and the host
        // takes instances launched without a host id.
        "ActionOnMaintenance": "Migrate",
        "AutoPlacement": "on",
        "NetworkAttributes": {"SlbUdpTimeout": 60, "UdpTimeout": 60},
        "Sockets": host_type.sockets,
        "Cores": host_type.cores,
        "PhysicalGpus": host_type.physical_gpus,
        "GPUSpec": host_type.gpu_spec,
        "CpuOverCommitRatio": f64::from(host_type.cpu_over_commit_ratio),
        "Capacity": cap,
        "OperationLocks": { "OperationLock": locks },
        "Instances": { "Instance": instances },
        "Tags": TagList::of(&h.tags),
        "SupportedInstanceTypeFamilies": {
            "SupportedInstanceTypeFamily": families,
        },
        "SupportedInstanceTypesList": {
            "SupportedInstanceTypesList": supported.iter().map(|t| &t.id).collect::<Vec<_>>(),
        },
        "SupportedCustomInstanceTypeFamilies": {
            "SupportedCustomInstanceTypeFamily": Vec::<String>::new(),
        },
    });
    if details.host_detail {
        view["HostDetailInfo"] = json!({ "SerialNumber": host_serial_number(&h.id) });
    }
    view
}

fn demand_of(t: &InstanceType) -> Demand {
    Demand {
        vcpus: t.cpu,
        memory_mib: t.memory_mib,
    }
}

/// A stable stand-in for the physical machine's id: the same host always shows the same one.
fn machine_id(host_id: &str) -> String {
    format!("{:016x}", fnv1a(host_id.as_bytes()))
}

/// A stable stand-in for the machine's serial number (`HostDetailInfo.SerialNumber`).
fn host_serial_number(host_id: &str) -> String {
    format!("SN{:012X}", fnv1a(host_id.as_bytes()) >> 16)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use ecs_domain::model::LockReason;
    use ecs_store::testsuite::{at, sample_instance};
    use serde_json::json;

    use super::*;

    /// The wire shape of one instance, field by field, as the SDK tests and ECS's reference
    /// expect it.
    #[test]
    fn instance_view_fields() {
        let mut i = sample_instance(1, "i-view");
        i.status = InstanceStatus::Stopped;
        i.locks = vec![LockReason::Financial];
        i.tags = vec![("env".into(), "ci".into())];
        i.dedicated_host_id = Some("dh-1".into());
        i.auto_release_time = Some(at("2026-02-01T10:20:00Z"));
        let mut view = serde_json::to_value(InstanceView::of(
            &i,
            ecs_domain::catalog::Catalog::builtin().image(&i.image_id),
        ))
        .unwrap();
        // The fields added for the SDK models' coverage, checked apart (one `json!` of all
        // of them is beyond the macro's recursion limit).
        let added = json!({
            "OSName": "Alibaba Cloud Linux  3.2104 LTS 64位",
            "OSNameEn": "Alibaba Cloud Linux  3.2104 LTS 64 bit",
            "SerialNumber": serial_number("i-view"),
            "CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 2, "Numa": ""},
            "PublicIpAddress": {"IpAddress": []},
            "InnerIpAddress": {"IpAddress": []},
            "EipAddress": {"AllocationId": "", "IpAddress": "", "InternetChargeType": ""},
            "NetworkInterfaces": {"NetworkInterface": []},
            "KeyPairName": "",
            "ResourceGroupId": "",
            "InternetMaxBandwidthIn": 0,
            "InternetMaxBandwidthOut": 0,
            "MetadataOptions": {"HttpEndpoint": "enabled", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1},
            "HpcClusterId": "",
            "DeploymentSetId": "",
            "CreditSpecification": "",
            "VlanId": "",
            "Recyclable": false,
            "DeviceAvailable": true,
            "DedicatedInstanceAttribute": {"Tenancy": "host", "Affinity": "default"},
        });
        for (k, v) in added.as_object().unwrap() {
            assert_eq!(
                view.as_object_mut().unwrap().remove(k).as_ref(),
                Some(v),
                "{k}"
            );
        }
        assert_eq!(
            view,
            json!({
                "InstanceId": "i-view",
                "InstanceName": "i-view",
                "Description": "",
                "RegionId": "cn-hangzhou",
                "ZoneId": "cn-hangzhou-i",
                "Status": "Stopped",
                "InstanceChargeType": "PostPaid",
                "InternetChargeType": "PayByTraffic",
                "InstanceType": "ecs.g7.large",
                "InstanceTypeFamily": "ecs.g7",
                "Cpu": 2,
                "Memory": 8192,
                "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd",
                "HostName": "i-view",
                "CreationTime": "2026-01-01T00:00Z",
                "StartTime": "2026-01-01T00:00Z",
                "ExpiredTime": "2099-12-31T15:59Z",
                "AutoReleaseTime": "2026-02-01T10:20Z",
                "DeletionProtection": false,
                "StoppedMode": "KeepCharging",
                "OperationLocks": {"LockReason": [{
                    "LockReason": "financial",
                    "LockMsg": "The specified instance is locked because it expired or your account has overdue payments.",
                }]},
                "Tags": {"Tag": [{"TagKey": "env", "TagValue": "ci"}]},
                "SecurityGroupIds": {"SecurityGroupId": ["sg-bp1"]},
                "VpcAttributes": {"VSwitchId": "vsw-bp1", "VpcId": "", "PrivateIpAddress": {"IpAddress": []}, "NatIpAddress": ""},
                "DedicatedHostAttribute": {"DedicatedHostId": "dh-1", "DedicatedHostName": ""},
                "InstanceNetworkType": "vpc",
                "IoOptimized": true,
                "OSType": "linux",
                "SpotStrategy": "NoSpot",
                "SpotPriceLimit": 0.0,
                "SpotDuration": 0,
            })
        );
    }
}

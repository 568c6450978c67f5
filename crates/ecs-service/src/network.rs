//! Just enough of a network to be true: every account has a default VPC per region, a default
//! vSwitch per zone of it and a default security group per VPC (their ids are derived from the
//! account and place, so they exist from the first use without being created); each instance
//! gets a private address in its vSwitch's CIDR block that no other instance holds, a primary
//! network interface, and a public address when it has outbound bandwidth.

use std::net::Ipv4Addr;

use ecs_domain::model::InstanceNetwork;
use ecs_domain::{ApiError, ErrorCode};
use ecs_store::{DataField, FieldMatch, InstanceFilter, Page, StoreTx, TxResult};

pub const INVALID_VSWITCH_ID: ErrorCode = ErrorCode::new(
    404,
    "InvalidVSwitchId.NotFound",
    "Specified virtual switch does not exist.",
);
pub const INVALID_SECURITY_GROUP_ID: ErrorCode = ErrorCode::new(
    404,
    "InvalidSecurityGroupId.NotFound",
    "The specified SecurityGroupId does not exist.",
);
pub const VSWITCH_ZONE_MISMATCH: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter.Mismatch",
    "Specified virtual switch is not in the specified zone.",
);
pub const PRIVATE_IP_MALFORMED: ErrorCode = ErrorCode::new(
    400,
    "InvalidPrivateIpAddress.Malformed",
    "Specified private IP address is malformed.",
);
pub const PRIVATE_IP_OUTSIDE: ErrorCode = ErrorCode::new(
    400,
    "InvalidPrivateIpAddress",
    "Specified private IP address is not in the CIDR block of virtual switch.",
);
pub const PRIVATE_IP_TAKEN: ErrorCode = ErrorCode::new(
    400,
    "InvalidPrivateIpAddress.Duplicated",
    "Specified private IP address is duplicated.",
);
pub const PRIVATE_IP_WITH_AMOUNT: ErrorCode = ErrorCode::new(
    400,
    "InvalidParameter.Amount",
    "PrivateIpAddress can only be specified when Amount is 1.",
);
pub const VSWITCH_FULL: ErrorCode = ErrorCode::new(
    400,
    "QuotaExceeded.PrivateIpAddress",
    "Don't have enough private IPs in this switch.",
);

/// A stable id with `prefix` for what `parts` name (FNV-1a, written in base 36): the same
/// account and place always give the same default VPC, vSwitch or security group.
fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u128::from(b);
            h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let tail: String = (0..20)
        .map(|_| {
            let c = ALPHABET[(h % 36) as usize] as char;
            h /= 36;
            c
        })
        .collect();
    format!("{prefix}-{tail}")
}

pub fn default_vpc(account_id: i64, region: &str) -> String {
    derived_id("vpc", &[&account_id.to_string(), region])
}

pub fn default_vswitch(account_id: i64, zone: &str) -> String {
    derived_id("vsw", &[&account_id.to_string(), zone])
}

pub fn default_security_group(account_id: i64, vpc: &str) -> String {
    derived_id("sg", &[&account_id.to_string(), vpc])
}

/// The vSwitch of zone number `k` of its region holds block number `k` (of 16) of the VPC's
/// 172.16.0.0/12: a /16 of 65,536 addresses, of which ECS keeps the first and the last three.
fn cidr(zone_index: usize) -> (u32, u32) {
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 0)) + (zone_index as u32 % 16) * 65536;
    (base, base + 65535)
}

/// The addresses instances may have in a block.
fn usable(block: (u32, u32)) -> (u32, u32) {
    (block.0 + 1, block.1 - 3)
}

/// Where an instance goes: its VPC, vSwitch and zone.
pub struct Placement {
    pub vpc_id: String,
    pub vswitch_id: String,
    pub zone_id: String,
    zone_index: usize,
}

/// The vSwitch asked for (one of the account's in the region, in the zone if one was asked
/// for), else the default one of the zone.
pub fn place(
    account_id: i64,
    region: &str,
    zones: &[String],
    zone: &str,
    zone_asked: bool,
    vswitch: Option<&str>,
) -> Result<Placement, ApiError> {
    let vpc_id = default_vpc(account_id, region);
    let at = |k: usize| Placement {
        vpc_id: vpc_id.clone(),
        vswitch_id: default_vswitch(account_id, &zones[k]),
        zone_id: zones[k].clone(),
        zone_index: k,
    };
    match vswitch {
        None => {
            let k = zones.iter().position(|z| z == zone).unwrap_or(0);
            Ok(at(k))
        }
        Some(v) => {
            let k = zones
                .iter()
                .position(|z| default_vswitch(account_id, z) == v)
                .ok_or_else(|| INVALID_VSWITCH_ID.err())?;
            if zone_asked && zones[k] != zone {
                return Err(VSWITCH_ZONE_MISMATCH.err());
            }
            Ok(at(k))
        }
    }
}

/// The security groups asked for must be the VPC's (ecsd knows only its default one); none
/// asked for gives the default.
pub fn security_groups(
    account_id: i64,
    vpc: &str,
    asked: &[String],
) -> Result<Vec<String>, ApiError> {
    let default = default_security_group(account_id, vpc);
    if asked.is_empty() {
        return Ok(vec![default]);
    }
    if asked.iter().any(|g| *g != default) {
        return Err(INVALID_SECURITY_GROUP_ID.err());
    }
    let mut groups = asked.to_vec();
    groups.dedup();
    Ok(groups)
}

/// Checks a `PrivateIpAddress` parameter's form.
pub fn parse_private_ip(raw: &str) -> Result<Ipv4Addr, ApiError> {
    raw.parse().map_err(|_| PRIVATE_IP_MALFORMED.err())
}

fn held(tx: &mut dyn StoreTx, account_id: i64, vswitch: &str, ip: &str) -> TxResult<bool> {
    let filter = InstanceFilter {
        account_id,
        fields: vec![
            FieldMatch {
                field: DataField::VSwitchId,
                values: vec![vswitch.to_string()],
            },
            FieldMatch {
                field: DataField::PrivateIpAddresses,
                values: vec![ip.to_string()],
            },
        ],
        ..Default::default()
    };
    let page = Page::Offset {
        offset: 0,
        limit: 1,
    };
    Ok(tx.list_instances(&filter, page)?.total > 0)
}

/// The network of a new instance at `placement`: the private address asked for (in the
/// vSwitch's block and held by no instance), else the next free one after the last given out
/// in this vSwitch (kept in the store, so a released address comes back only after the whole
/// block went round); a public address when it has outbound bandwidth.
pub fn assign(
    tx: &mut dyn StoreTx,
    account_id: i64,
    placement: &Placement,
    asked_ip: Option<Ipv4Addr>,
    public: bool,
) -> TxResult<InstanceNetwork> {
    let (first, last) = usable(cidr(placement.zone_index));
    let key = format!("network.{account_id}.{}", placement.vswitch_id);
    // Addresses given out by asking for them; the counter steps around them.
    let explicit_key = format!("{key}.asked");
    let mut asked: Vec<String> = tx
        .setting(&explicit_key)?
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let ip = match asked_ip {
        Some(ip) => {
            let n = u32::from(ip);
            if n < first || n > last {
                return Err(PRIVATE_IP_OUTSIDE.err().into());
            }
            if held(tx, account_id, &placement.vswitch_id, &ip.to_string())? {
                return Err(PRIVATE_IP_TAKEN.err().into());
            }
            if !asked.contains(&ip.to_string()) {
                asked.push(ip.to_string());
                tx.put_setting(&explicit_key, &asked.join(","))?;
            }
            ip
        }
        None => {
            // Until the counter has gone round the block once, what it gives out is new, but
            // for addresses asked for by name; after that every candidate is looked up. So
            // a released address comes back only after the whole block went round, and a
            // held one never.
            let next_key = format!("{key}.next");
            let wrapped_key = format!("{key}.wrapped");
            let mut n = match tx.setting(&next_key)?.and_then(|v| v.parse::<u32>().ok()) {
                Some(n) if (first..=last).contains(&n) => n,
                _ => first,
            };
            let mut wrapped = tx.setting(&wrapped_key)?.is_some();
            let mut tried = 0;
            loop {
                let candidate = Ipv4Addr::from(n);
                if n == last {
                    n = first;
                    if !wrapped {
                        wrapped = true;
                        tx.put_setting(&wrapped_key, "1")?;
                    }
                } else {
                    n += 1;
                }
                let text = candidate.to_string();
                let maybe_held = wrapped || asked.contains(&text);
                if !maybe_held || !held(tx, account_id, &placement.vswitch_id, &text)? {
                    tx.put_setting(&next_key, &n.to_string())?;
                    break candidate;
                }
                tried += 1;
                if tried > last - first {
                    return Err(VSWITCH_FULL.err().into());
                }
            }
        }
    };
    let public_ips = if public {
        vec![next_public_ip(tx)?]
    } else {
        Vec::new()
    };
    let eni_id = crate::creating::new_resource_id("eni");
    Ok(InstanceNetwork {
        vpc_id: placement.vpc_id.clone(),
        private_ips: vec![ip.to_string()],
        public_ips,
        mac_address: mac_of(&eni_id),
        eni_id,
    })
}

/// Public addresses come from 47.96.0.0/12, one after the other across all accounts: one is
/// given to one instance only, and comes back only after about a million more were given.
fn next_public_ip(tx: &mut dyn StoreTx) -> TxResult<String> {
    const KEY: &str = "network.next_public_ip";
    let base = u32::from(Ipv4Addr::new(47, 96, 0, 0));
    // The /12 holds 4,096 /24s; a host never has the .0 or the .255 of one, so the counter runs
    // over the 254 addresses in between of each (stepping over a skipped one instead would
    // give its neighbour out twice).
    let size = 4096 * 254;
    let k = tx
        .setting(KEY)?
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
        % size;
    tx.put_setting(KEY, &((k + 1) % size).to_string())?;
    Ok(public_ip_number(base, k))
}

/// The `k`-th usable public address after `base`.
fn public_ip_number(base: u32, k: u32) -> String {
    Ipv4Addr::from(base + (k / 254) * 256 + k % 254 + 1).to_string()
}

/// Alibaba Cloud's MAC prefix and three bytes of the interface id.
fn mac_of(eni_id: &str) -> String {
    let h = derived_id("", &[eni_id]);
    let b = h.as_bytes();
    format!("00:16:3e:{:02x}:{:02x}:{:02x}", b[1], b[2], b[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_are_distinct_and_skip_each_24s_ends() {
        let base = u32::from(Ipv4Addr::new(47, 96, 0, 0));
        let given: Vec<String> = (0..600).map(|k| public_ip_number(base, k)).collect();
        let distinct: std::collections::HashSet<&String> = given.iter().collect();
        assert_eq!(distinct.len(), given.len());
        assert_eq!(given[0], "47.96.0.1");
        assert_eq!(given[253], "47.96.0.254");
        assert_eq!(given[254], "47.96.1.1");
        assert!(given
            .iter()
            .all(|ip| !ip.ends_with(".0") && !ip.ends_with(".255")));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(default_vpc(1, "cn-hangzhou"), default_vpc(1, "cn-hangzhou"));
        assert_ne!(default_vpc(1, "cn-hangzhou"), default_vpc(2, "cn-hangzhou"));
        assert_ne!(
            default_vswitch(1, "cn-hangzhou-i"),
            default_vswitch(1, "cn-hangzhou-j")
        );
        assert!(default_vswitch(1, "z").starts_with("vsw-"));
        assert_eq!(default_vswitch(1, "z").len(), 24);
    }

    #[test]
    fn blocks_leave_out_the_reserved_addresses() {
        let (a, b) = usable(cidr(1));
        assert_eq!(Ipv4Addr::from(a), Ipv4Addr::new(172, 17, 0, 1));
        assert_eq!(Ipv4Addr::from(b), Ipv4Addr::new(172, 17, 255, 252));
    }
}

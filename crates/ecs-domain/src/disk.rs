//! Cloud disks: every instance has a system disk and may have data disks. A disk created with
//! its instance goes with it when the instance is released if `delete_with_instance` is set;
//! otherwise it is detached and stays, `Available`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    pub id: String,
    pub account_id: i64,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub description: String,
    /// `system` or `data`.
    pub disk_type: String,
    /// `cloud_essd`, `cloud_ssd`, `cloud_efficiency`, `cloud_auto`, `cloud`.
    pub category: String,
    pub size_gib: u32,
    /// The instance it is attached to; `None` once detached.
    pub instance_id: Option<String>,
    /// `/dev/xvda` for the system disk, `/dev/xvdb`... for data disks; empty once detached.
    pub device: String,
    pub delete_with_instance: bool,
    /// The image a system disk was made from.
    pub image_id: String,
    /// The instance's charge type at creation (`PostPaid` or `PrePaid`).
    pub charge_type: String,
    pub creation_time: DateTime<Utc>,
}

impl Disk {
    /// `In_use` while attached, `Available` once detached.
    pub fn status(&self) -> &'static str {
        if self.instance_id.is_some() {
            "In_use"
        } else {
            "Available"
        }
    }
}

/// The smallest and largest size of a disk, in GiB.
pub type SizeRange = (u32, u32);

/// The disk categories ecsd offers, with their size limits in GiB (system disk, data disk).
pub const CATEGORIES: &[(&str, SizeRange, SizeRange)] = &[
    ("cloud_essd", (20, 2048), (20, 32768)),
    ("cloud_ssd", (20, 2048), (20, 32768)),
    ("cloud_efficiency", (20, 2048), (20, 32768)),
    ("cloud_auto", (20, 2048), (20, 32768)),
    ("cloud", (20, 500), (5, 2000)),
];

/// The most data disks one instance can be created with.
pub const MAX_DATA_DISKS: usize = 16;

/// `/dev/xvd` + a letter: `a` for the system disk, `b`... for data disk `n` (from 0).
pub fn device_name(data_index: Option<usize>) -> String {
    let letter = match data_index {
        None => 'a',
        Some(n) => char::from(b'b' + (n as u8 % 25)),
    };
    format!("/dev/xvd{letter}")
}

/// What releasing an instance does to its disks: the ids released with it and the ids
/// detached (kept, `Available`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFate {
    pub released: Vec<String>,
    pub detached: Vec<Disk>,
}

/// Sorts an instance's disks into those that go with it and those detached, as released.
pub fn on_release(disks: Vec<Disk>) -> DiskFate {
    let mut fate = DiskFate::default();
    for mut d in disks {
        if d.delete_with_instance {
            fate.released.push(d.id);
        } else {
            d.instance_id = None;
            d.device = String::new();
            fate.detached.push(d);
        }
    }
    fate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(id: &str, with: bool) -> Disk {
        Disk {
            id: id.into(),
            account_id: 1,
            region_id: "cn-hangzhou".into(),
            zone_id: "cn-hangzhou-h".into(),
            name: String::new(),
            description: String::new(),
            disk_type: "data".into(),
            category: "cloud_essd".into(),
            size_gib: 40,
            instance_id: Some("i-a".into()),
            device: device_name(Some(0)),
            delete_with_instance: with,
            image_id: String::new(),
            charge_type: "PostPaid".into(),
            creation_time: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn release_keeps_only_the_disks_not_deleted_with_the_instance() {
        let fate = on_release(vec![disk("d-sys", true), disk("d-keep", false)]);
        assert_eq!(fate.released, vec!["d-sys".to_string()]);
        assert_eq!(fate.detached.len(), 1);
        let kept = &fate.detached[0];
        assert_eq!(
            (kept.id.as_str(), kept.status(), kept.device.as_str()),
            ("d-keep", "Available", "")
        );
        assert_eq!(device_name(None), "/dev/xvda");
        assert_eq!(device_name(Some(1)), "/dev/xvdc");
    }
}

//! What can be created, where, and what it costs: instance types, dedicated host types,
//! public images, regions and zones. Built in, and replaceable or extendable by a JSON config file.

use serde::{Deserialize, Serialize};

use crate::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    pub id: String,
    pub cpu: u32,
    pub memory_mib: u32,
    /// Subscription price per month, in the account's currency.
    pub monthly_price: Money,
}

/// A dedicated host type: its price and the machine behind it. Every field but `id` and
/// `monthly_price` may be left out of a config; the defaults are a two-socket general-purpose
/// host (64 physical cores, 128 vCPUs, 512 GiB), without local storage or GPUs, carrying the
/// family its id names (`ddh.X` carries `ecs.X`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostType {
    pub id: String,
    pub monthly_price: Money,
    /// CPU sockets. An instance sits on one socket, never across two, as on ECS.
    #[serde(default = "default_sockets")]
    pub sockets: u32,
    /// Physical cores, all sockets together.
    #[serde(default = "default_cores")]
    pub cores: u32,
    /// vCPUs, all sockets together, before over-commit.
    #[serde(default = "default_vcpus")]
    pub vcpus: u32,
    #[serde(default = "default_memory_gib")]
    pub memory_gib: u32,
    /// Local storage in GiB; 0 for none.
    #[serde(default)]
    pub local_storage_gib: u32,
    /// The local disks' category (`local_ssd_pro`, ...); empty when there are none.
    #[serde(default)]
    pub local_storage_category: String,
    /// The GPU model; empty when there are none.
    #[serde(default)]
    pub gpu_spec: String,
    #[serde(default)]
    pub physical_gpus: u32,
    #[serde(default)]
    pub vgpus: u32,
    /// The instance type families it carries; empty: the one its id names.
    #[serde(default)]
    pub instance_type_families: Vec<String>,
    /// vCPUs given out per physical vCPU (1 to 5, as ECS allows); memory is never over-committed.
    #[serde(default = "default_over_commit")]
    pub cpu_over_commit_ratio: u32,
}

fn default_sockets() -> u32 {
    2
}
fn default_cores() -> u32 {
    64
}
fn default_vcpus() -> u32 {
    128
}
fn default_memory_gib() -> u32 {
    512
}
fn default_over_commit() -> u32 {
    1
}

impl HostType {
    /// A host type of the given shape and price, with no local storage or GPUs, carrying the
    /// family its id names.
    pub fn new(
        id: &str,
        monthly_price: Money,
        sockets: u32,
        cores: u32,
        vcpus: u32,
        memory_gib: u32,
    ) -> Self {
        HostType {
            id: id.into(),
            monthly_price,
            sockets,
            cores,
            vcpus,
            memory_gib,
            local_storage_gib: 0,
            local_storage_category: String::new(),
            gpu_spec: String::new(),
            physical_gpus: 0,
            vgpus: 0,
            instance_type_families: Vec::new(),
            cpu_over_commit_ratio: 1,
        }
    }

    /// The families it carries: the configured ones, else `ecs.X` for a type `ddh.X`, by
    /// Alibaba Cloud's naming (none for another id).
    pub fn families(&self) -> Vec<String> {
        if !self.instance_type_families.is_empty() {
            return self.instance_type_families.clone();
        }
        match self.id.strip_prefix("ddh.") {
            Some(family) if !family.is_empty() => vec![format!("ecs.{family}")],
            _ => Vec::new(),
        }
    }

    /// Whether instances of this type may be placed on it (by family; whether one fits is
    /// [`crate::capacity`]'s question).
    pub fn carries(&self, instance_type: &InstanceType) -> bool {
        self.families().iter().any(|f| f == instance_type.family())
    }

    /// What makes a host type unusable or meaningless, in words for the start-up message.
    fn problem(&self) -> Option<&'static str> {
        if self.sockets == 0 || self.cores == 0 || self.vcpus == 0 || self.memory_gib == 0 {
            return Some("sockets, cores, vcpus and memory_gib must be above 0");
        }
        if !self.cores.is_multiple_of(self.sockets) || !self.vcpus.is_multiple_of(self.sockets) {
            return Some("cores and vcpus must split evenly over the sockets");
        }
        if self.vcpus < self.cores {
            return Some("vcpus cannot be fewer than the physical cores");
        }
        if !(u64::from(self.memory_gib) * 1024).is_multiple_of(u64::from(self.sockets)) {
            return Some("memory_gib must split evenly (in MiB) over the sockets");
        }
        if (self.local_storage_gib == 0) != self.local_storage_category.trim().is_empty() {
            return Some(
                "local_storage_gib and local_storage_category go together (both or neither)",
            );
        }
        if (self.physical_gpus == 0) != self.gpu_spec.trim().is_empty() {
            return Some("physical_gpus and gpu_spec go together (both or neither)");
        }
        if !(1..=5).contains(&self.cpu_over_commit_ratio) {
            return Some("cpu_over_commit_ratio must be 1 to 5");
        }
        if self
            .instance_type_families
            .iter()
            .any(|f| f.trim().is_empty())
        {
            return Some("instance_type_families cannot hold an empty name");
        }
        None
    }
}

/// A public image instances can be created from (DescribeImages, RunInstances' `ImageId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    /// The operating system's name as DescribeImages shows it (`OSName`).
    pub os_name: String,
    /// `OSNameEn`; the `os_name` when a config leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_name_en: Option<String>,
    /// `linux` or `windows`.
    pub os_type: String,
    /// The distribution (`Aliyun`, `Ubuntu`, `CentOS`, `Debian`, `Windows Server 2022`, ...).
    pub platform: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// The system disk size the image needs, in GiB (the smallest system disk it fits on).
    pub size_gib: u32,
}

impl Image {
    /// Windows images need a larger system disk and take no `UserData` script as Linux does.
    pub fn is_windows(&self) -> bool {
        self.os_type == "windows"
    }
}

/// The burstable families (t5, t6): instances of their types earn and spend CPU credits, and
/// only they take a `CreditSpecification`.
pub const BURSTABLE_FAMILIES: &[&str] = &["ecs.t5", "ecs.t6"];

impl InstanceType {
    /// The family an instance type belongs to: `ecs.g7.large` is in `ecs.g7`, and
    /// `ecs.t6-c1m2.large` in `ecs.t6` (ECS names a burstable type's CPU-to-memory ratio after
    /// a hyphen). A config type without a size part is its own family.
    pub fn family(&self) -> &str {
        family_of(&self.id)
    }

    /// Whether it is a burstable type (its family is one of [`BURSTABLE_FAMILIES`]), built in
    /// or added by a config.
    pub fn is_burstable(&self) -> bool {
        is_burstable(&self.id)
    }
}

/// The family of the instance type named `id` (see [`InstanceType::family`]).
pub fn family_of(id: &str) -> &str {
    match id.rsplit_once('.') {
        Some((family, _)) if family.contains('.') => {
            family.split_once('-').map_or(family, |(base, _)| base)
        }
        _ => id,
    }
}

/// Whether the instance type named `id` is burstable (see [`InstanceType::is_burstable`]);
/// for an instance, whose type is kept by name.
pub fn is_burstable(id: &str) -> bool {
    BURSTABLE_FAMILIES.contains(&family_of(id))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub id: String,
    pub local_name: String,
    /// The name DescribeRegions shows for `AcceptLanguage=en-US`; the local name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub english_name: Option<String>,
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub regions: Vec<Region>,
    pub instance_types: Vec<InstanceType>,
    pub host_types: Vec<HostType>,
    #[serde(default)]
    pub images: Vec<Image>,
}

/// A config file's view of the catalog: every list is optional. `regions` replaces the built-in
/// list; instance and host types extend (or override by id) the built-in ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogOverrides {
    pub regions: Option<Vec<Region>>,
    #[serde(default)]
    pub instance_types: Vec<InstanceType>,
    #[serde(default)]
    pub host_types: Vec<HostType>,
    /// Public images: extend (or override by id) the built-in ones.
    #[serde(default)]
    pub images: Vec<Image>,
}

impl Catalog {
    pub fn region(&self, id: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.id == id)
    }

    pub fn instance_type(&self, id: &str) -> Option<&InstanceType> {
        self.instance_types.iter().find(|t| t.id == id)
    }

    pub fn host_type(&self, id: &str) -> Option<&HostType> {
        self.host_types.iter().find(|t| t.id == id)
    }

    pub fn image(&self, id: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.id == id)
    }

    /// What a config could make wrong and nothing would report until a call trips on it: an
    /// empty region list (every call would be InvalidRegionId.NotFound), a region without
    /// zones, empty or repeated ids, sizes of zero, negative prices (renewals would pay the
    /// account).
    pub fn check(&self) -> Result<(), String> {
        if self.regions.is_empty() {
            return Err("regions: at least one region is needed".into());
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.regions {
            if r.id.trim().is_empty() || !seen.insert(r.id.as_str()) {
                return Err(format!("regions: empty or repeated region id {:?}", r.id));
            }
            if r.zones.is_empty() || r.zones.iter().any(|z| z.trim().is_empty()) {
                return Err(format!("region {}: needs zones, none of them empty", r.id));
            }
        }
        for t in &self.instance_types {
            if t.id.trim().is_empty() || t.cpu == 0 || t.memory_mib == 0 {
                return Err(format!(
                    "instance type {:?}: needs an id, cpu and memory_mib above 0",
                    t.id
                ));
            }
        }
        let mut image_ids = std::collections::HashSet::new();
        for i in &self.images {
            if i.id.trim().is_empty() || !image_ids.insert(i.id.as_str()) {
                return Err(format!("images: empty or repeated image id {:?}", i.id));
            }
            if !["linux", "windows"].contains(&i.os_type.as_str()) || i.size_gib == 0 {
                return Err(format!(
                    "image {}: os_type must be \"linux\" or \"windows\" and size_gib above 0",
                    i.id
                ));
            }
        }
        for t in &self.host_types {
            if let Some(why) = t.problem() {
                return Err(format!("host type {:?}: {why}", t.id));
            }
        }
        let prices = self
            .instance_types
            .iter()
            .map(|t| (&t.id, t.monthly_price))
            .chain(self.host_types.iter().map(|t| (&t.id, t.monthly_price)));
        for (id, price) in prices {
            if id.trim().is_empty() || price < Money::ZERO {
                return Err(format!(
                    "type {id:?}: needs an id and a monthly_price of 0 or more"
                ));
            }
        }
        Ok(())
    }

    pub fn apply(mut self, overrides: CatalogOverrides) -> Self {
        if let Some(regions) = overrides.regions {
            self.regions = regions;
        }
        for t in overrides.instance_types {
            self.instance_types.retain(|old| old.id != t.id);
            self.instance_types.push(t);
        }
        for t in overrides.host_types {
            self.host_types.retain(|old| old.id != t.id);
            self.host_types.push(t);
        }
        for i in overrides.images {
            self.images.retain(|old| old.id != i.id);
            self.images.push(i);
        }
        self
    }

    pub fn builtin() -> Self {
        fn english_name(id: &str) -> Option<&'static str> {
            Some(match id {
                "cn-hangzhou" => "China (Hangzhou)",
                "cn-shanghai" => "China (Shanghai)",
                "cn-beijing" => "China (Beijing)",
                "cn-shenzhen" => "China (Shenzhen)",
                "ap-southeast-1" => "Singapore",
                "us-west-1" => "US (Silicon Valley)",
                "us-east-1" => "US (Virginia)",
                "eu-central-1" => "Germany (Frankfurt)",
                _ => return None,
            })
        }
        let region = |id: &str, name: &str, zones: &[&str]| Region {
            id: id.into(),
            local_name: name.into(),
            english_name: english_name(id).map(str::to_string),
            zones: zones.iter().map(|z| z.to_string()).collect(),
        };
        let regions = vec![
            region(
                "cn-hangzhou",
                "华东1（杭州）",
                &[
                    "cn-hangzhou-h",
                    "cn-hangzhou-i",
                    "cn-hangzhou-j",
                    "cn-hangzhou-k",
                ],
            ),
            region(
                "cn-shanghai",
                "华东2（上海）",
                &[
                    "cn-shanghai-e",
                    "cn-shanghai-f",
                    "cn-shanghai-g",
                    "cn-shanghai-l",
                ],
            ),
            region(
                "cn-beijing",
                "华北2（北京）",
                &[
                    "cn-beijing-g",
                    "cn-beijing-h",
                    "cn-beijing-i",
                    "cn-beijing-k",
                ],
            ),
            region(
                "cn-shenzhen",
                "华南1（深圳）",
                &["cn-shenzhen-d", "cn-shenzhen-e"],
            ),
            region(
                "ap-southeast-1",
                "新加坡",
                &["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
            ),
            region("us-west-1", "美国（硅谷）", &["us-west-1a", "us-west-1b"]),
            region(
                "us-east-1",
                "美国（弗吉尼亚）",
                &["us-east-1a", "us-east-1b"],
            ),
            region(
                "eu-central-1",
                "德国（法兰克福）",
                &["eu-central-1a", "eu-central-1b"],
            ),
        ];

        // Sizes and memory-per-vCPU follow the families: g = 1:4, c = 1:2, r = 1:8.
        // Prices are plausible monthly list prices, for renewal charges only.
        let mut instance_types = Vec::new();
        let sizes: [(&str, u32); 8] = [
            ("large", 2),
            ("xlarge", 4),
            ("2xlarge", 8),
            ("3xlarge", 12),
            ("4xlarge", 16),
            ("8xlarge", 32),
            ("16xlarge", 64),
            ("32xlarge", 128),
        ];
        let families: [(&str, u32, &str); 6] = [
            // family, GiB per vCPU, price per vCPU-month
            ("g7", 4, "12"),
            ("c7", 2, "9"),
            ("r7", 8, "16"),
            ("g6", 4, "11"),
            ("c6", 2, "8.5"),
            ("r6", 8, "15"),
        ];
        for (family, gib_per_cpu, cpu_price) in families {
            let cpu_price: Money = cpu_price.parse().expect("built-in prices are decimals");
            for (size, cpu) in sizes {
                instance_types.push(InstanceType {
                    id: format!("ecs.{family}.{size}"),
                    cpu,
                    memory_mib: cpu * gib_per_cpu * 1024,
                    monthly_price: Money::from_units(cpu_price.units() * cpu as i64),
                });
            }
        }
        // Two sockets each, memory per vCPU as the family's instance types have it, so the
        // family's sizes up to one socket's worth (16xlarge on the 7th generation, 8xlarge on
        // the 6th) fit.
        let host = |id: &str, price: &str, cores: u32, gib_per_vcpu: u32| {
            let price = price.parse().expect("built-in prices are decimals");
            HostType::new(id, price, 2, cores, cores * 2, cores * 2 * gib_per_vcpu)
        };
        let host_types = vec![
            host("ddh.g6", "6000", 52, 4),
            host("ddh.g7", "6500", 64, 4),
            host("ddh.c7", "5200", 64, 2),
            host("ddh.c6", "4800", 52, 2),
            host("ddh.r7", "8000", 64, 8),
        ];
        // Public images of the common distributions, named as ECS names its system images.
        let image = |id: &str, os_name: &str, platform: &str, arch: &str, size_gib: u32| Image {
            id: id.into(),
            os_name: os_name.into(),
            os_name_en: Some(
                os_name
                    .replace(" 64位 ARM版", " 64 bit ARM Edition")
                    .replace(
                        " 数据中心版 64位英文版",
                        " Datacenter Edition 64-bit English",
                    )
                    .replace(" 64位", " 64 bit"),
            ),
            os_type: if platform.starts_with("Windows") {
                "windows"
            } else {
                "linux"
            }
            .into(),
            platform: platform.into(),
            architecture: arch.into(),
            size_gib,
        };
        let images = vec![
            image(
                "aliyun_3_x64_20G_alibase_20240819.vhd",
                "Alibaba Cloud Linux  3.2104 LTS 64位",
                "Aliyun",
                "x86_64",
                20,
            ),
            image(
                "aliyun_3_arm64_20G_alibase_20240819.vhd",
                "Alibaba Cloud Linux  3.2104 LTS 64位 ARM版",
                "Aliyun",
                "arm64",
                20,
            ),
            image(
                "ubuntu_22_04_x64_20G_alibase_20240101.vhd",
                "Ubuntu  22.04 64位",
                "Ubuntu",
                "x86_64",
                20,
            ),
            image(
                "ubuntu_24_04_x64_20G_alibase_20240812.vhd",
                "Ubuntu  24.04 64位",
                "Ubuntu",
                "x86_64",
                20,
            ),
            image(
                "centos_7_9_x64_20G_alibase_20240628.vhd",
                "CentOS  7.9 64位",
                "CentOS",
                "x86_64",
                20,
            ),
            image(
                "debian_12_6_x64_20G_alibase_20240823.vhd",
                "Debian  12.6 64位",
                "Debian",
                "x86_64",
                20,
            ),
            image(
                "win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd",
                "Windows Server  2022 数据中心版 64位英文版",
                "Windows Server 2022",
                "x86_64",
                40,
            ),
        ];
        // The burstable t6 family: two vCPUs (four or eight for the largest) and from half a
        // GiB to 32 GiB of memory, priced below the enterprise families.
        let burstable: [(&str, u32, u32, &str); 7] = [
            // type, vCPUs, MiB, price per month
            ("ecs.t6-c4m1.large", 2, 512, "9"),
            ("ecs.t6-c2m1.large", 2, 1024, "14"),
            ("ecs.t6-c1m1.large", 2, 2048, "24"),
            ("ecs.t6-c1m2.large", 2, 4096, "38"),
            ("ecs.t6-c1m4.large", 2, 8192, "60"),
            ("ecs.t6-c1m4.xlarge", 4, 16384, "120"),
            ("ecs.t6-c1m4.2xlarge", 8, 32768, "240"),
        ];
        for (id, cpu, memory_mib, price) in burstable {
            instance_types.push(InstanceType {
                id: id.into(),
                cpu,
                memory_mib,
                monthly_price: price.parse().expect("built-in prices are decimals"),
            });
        }
        Catalog {
            regions,
            instance_types,
            host_types,
            images,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_common_types_and_regions() {
        let c = Catalog::builtin();
        for t in [
            "ecs.g7.large",
            "ecs.c7.xlarge",
            "ecs.r7.2xlarge",
            "ecs.g6.large",
            "ecs.c6.large",
        ] {
            assert!(c.instance_type(t).is_some(), "{t}");
        }
        assert_eq!(c.instance_type("ecs.g7.large").unwrap().memory_mib, 8192);
        for h in ["ddh.g6", "ddh.g7", "ddh.c7"] {
            assert!(c.host_type(h).is_some(), "{h}");
        }
        for r in [
            "cn-hangzhou",
            "cn-shanghai",
            "cn-beijing",
            "ap-southeast-1",
            "us-west-1",
        ] {
            assert!(c.region(r).is_some(), "{r}");
        }
    }

    #[test]
    fn overrides_replace_regions_and_extend_types() {
        let o: CatalogOverrides = serde_json::from_str(
            r#"{"regions":[{"id":"lab-1","local_name":"Lab","zones":["lab-1a"]}],
                "instance_types":[{"id":"ecs.tiny","cpu":1,"memory_mib":512,"monthly_price":"3.5"}]}"#,
        )
        .unwrap();
        let c = Catalog::builtin().apply(o);
        assert!(c.region("cn-hangzhou").is_none());
        assert!(c.region("lab-1").is_some());
        assert_eq!(c.check(), Ok(()));
        assert!(c.instance_type("ecs.tiny").is_some());
        assert!(c.instance_type("ecs.g7.large").is_some());
    }

    #[test]
    fn images_are_built_in_and_extended_by_the_config() {
        let c = Catalog::builtin();
        let alinux = c.image("aliyun_3_x64_20G_alibase_20240819.vhd").unwrap();
        assert_eq!((alinux.os_type.as_str(), alinux.size_gib), ("linux", 20));
        let win = c
            .image("win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd")
            .unwrap();
        assert!(win.is_windows());
        assert!(c.image("m-doesnotexist").is_none());
        let o: CatalogOverrides = serde_json::from_str(
            r#"{"images":[{"id":"m-lab","os_name":"Lab OS","os_type":"linux","platform":"Lab",
                "architecture":"x86_64","size_gib":8}]}"#,
        )
        .unwrap();
        let c = c.apply(o);
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.image("m-lab").unwrap().size_gib, 8);
        assert!(c.image("aliyun_3_x64_20G_alibase_20240819.vhd").is_some());
    }

    #[test]
    fn instance_type_families() {
        let c = Catalog::builtin();
        assert_eq!(c.instance_type("ecs.g7.large").unwrap().family(), "ecs.g7");
        assert_eq!(
            c.instance_type("ecs.r6.16xlarge").unwrap().family(),
            "ecs.r6"
        );
        let t6 = c.instance_type("ecs.t6-c1m2.large").unwrap();
        assert_eq!((t6.family(), t6.cpu, t6.memory_mib), ("ecs.t6", 2, 4096));
        assert!(t6.is_burstable());
        assert!(!c.instance_type("ecs.g7.large").unwrap().is_burstable());
        let lone = InstanceType {
            id: "tiny".into(),
            cpu: 1,
            memory_mib: 512,
            monthly_price: Money::ZERO,
        };
        assert_eq!(lone.family(), "tiny");
    }

    #[test]
    fn host_types_have_a_shape_and_carry_their_family() {
        let c = Catalog::builtin();
        let g7 = c.host_type("ddh.g7").unwrap();
        assert_eq!(
            (g7.sockets, g7.cores, g7.vcpus, g7.memory_gib),
            (2, 64, 128, 512)
        );
        assert_eq!(
            (
                g7.local_storage_gib,
                g7.physical_gpus,
                g7.cpu_over_commit_ratio
            ),
            (0, 0, 1)
        );
        assert_eq!(g7.families(), ["ecs.g7"]);
        assert!(g7.carries(c.instance_type("ecs.g7.16xlarge").unwrap()));
        assert!(!g7.carries(c.instance_type("ecs.c7.large").unwrap()));
        // Every built-in host type has its family's memory per vCPU, and its family's types up
        // to one socket's vCPUs.
        for h in &c.host_types {
            let carried: Vec<&InstanceType> =
                c.instance_types.iter().filter(|t| h.carries(t)).collect();
            assert!(!carried.is_empty(), "{}", h.id);
            for t in carried {
                assert_eq!(
                    h.memory_gib / h.vcpus,
                    t.memory_mib / 1024 / t.cpu,
                    "{} vs {}",
                    h.id,
                    t.id
                );
            }
        }
        // A config's host type with only an id and a price gets the default shape.
        let o: CatalogOverrides =
            serde_json::from_str(r#"{"host_types":[{"id":"ddh.lab","monthly_price":"1"}]}"#)
                .unwrap();
        let c = c.apply(o);
        assert_eq!(c.check(), Ok(()));
        let lab = c.host_type("ddh.lab").unwrap();
        assert_eq!((lab.sockets, lab.vcpus, lab.memory_gib), (2, 128, 512));
        assert_eq!(lab.families(), ["ecs.lab"]);
        let o: CatalogOverrides = serde_json::from_str(
            r#"{"host_types":[{"id":"lab-host","monthly_price":"1","sockets":1,"cores":8,"vcpus":16,
                "memory_gib":64,"local_storage_gib":1788,"local_storage_category":"local_ssd_pro",
                "instance_type_families":["ecs.g7","ecs.c7"],"cpu_over_commit_ratio":2}]}"#,
        )
        .unwrap();
        let c = c.apply(o);
        assert_eq!(c.check(), Ok(()));
        assert_eq!(
            c.host_type("lab-host").unwrap().families(),
            ["ecs.g7", "ecs.c7"]
        );
    }

    #[test]
    fn check_refuses_host_types_without_a_usable_shape() {
        let with = |fields: &str| {
            let json =
                format!(r#"{{"host_types":[{{"id":"ddh.x","monthly_price":"1",{fields}}}]}}"#);
            let overrides: CatalogOverrides = serde_json::from_str(&json).unwrap();
            Catalog::builtin().apply(overrides).check()
        };
        for bad in [
            r#""sockets":0"#,
            r#""cores":0"#,
            r#""vcpus":0"#,
            r#""memory_gib":0"#,
            r#""sockets":3"#,
            r#""vcpus":32"#,
            r#""local_storage_gib":100"#,
            r#""local_storage_category":"local_ssd_pro""#,
            r#""physical_gpus":2"#,
            r#""gpu_spec":"NVIDIA A10""#,
            r#""cpu_over_commit_ratio":0"#,
            r#""cpu_over_commit_ratio":6"#,
            r#""instance_type_families":[""]"#,
        ] {
            let refused = with(bad);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|m| m.starts_with("host type \"ddh.x\"")),
                "{bad}: {refused:?}"
            );
        }
        assert_eq!(with(r#""sockets":4,"cores":64,"vcpus":128"#), Ok(()));
        assert_eq!(
            with(r#""physical_gpus":2,"gpu_spec":"NVIDIA A10","vgpus":8"#),
            Ok(())
        );
    }

    #[test]
    fn check_refuses_what_no_call_could_use() {
        assert_eq!(Catalog::builtin().check(), Ok(()));
        let with = |json: &str| {
            let overrides: CatalogOverrides = serde_json::from_str(json).unwrap();
            Catalog::builtin().apply(overrides).check()
        };
        assert!(with(r#"{"regions":[]}"#).is_err());
        assert!(with(r#"{"regions":[{"id":"a","local_name":"A","zones":["a1"]},{"id":"a","local_name":"A","zones":["a2"]}]}"#).is_err());
        assert!(with(r#"{"regions":[{"id":"a","local_name":"A","zones":[]}]}"#).is_err());
        assert!(with(r#"{"regions":[{"id":"","local_name":"A","zones":["a1"]}]}"#).is_err());
        assert!(with(
            r#"{"instance_types":[{"id":"x","cpu":1,"memory_mib":512,"monthly_price":"-1"}]}"#
        )
        .is_err());
        assert!(with(r#"{"host_types":[{"id":"","monthly_price":"1"}]}"#).is_err());
        let img = |id: &str, os: &str, size: u32| {
            format!(
                r#"{{"images":[{{"id":"{id}","os_name":"x","os_type":"{os}","platform":"x","architecture":"x86_64","size_gib":{size}}}]}}"#
            )
        };
        assert!(with(&img("", "linux", 20)).is_err());
        assert!(with(&img("m-1", "beos", 20)).is_err());
        assert!(with(&img("m-1", "linux", 0)).is_err());
        assert_eq!(with(&img("m-1", "windows", 40)), Ok(()));
        assert!(with(
            r#"{"instance_types":[{"id":"x","cpu":0,"memory_mib":512,"monthly_price":"1"}]}"#
        )
        .is_err());
        assert_eq!(
            with(r#"{"instance_types":[{"id":"x","cpu":1,"memory_mib":512,"monthly_price":"0"}]}"#),
            Ok(())
        );
    }
}

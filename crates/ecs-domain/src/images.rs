//! The operating system of an image, as DescribeInstances shows it (`OSName`, `OSNameEn`,
//! `OSType`). ecsd keeps no image records: the system is read from the public image id's
//! naming (`aliyun_3_x64_...`, `ubuntu_22_04_x64_...`, `win2022_...`), which is how Alibaba
//! Cloud names its public images. An id that names no known system (a custom image) is shown
//! as a 64-bit Linux.

/// An image's operating system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOs {
    /// `linux` or `windows`.
    pub os_type: &'static str,
    /// The name in Chinese, as ECS's `OSName` gives it.
    pub os_name: String,
    /// The name in English (`OSNameEn`).
    pub os_name_en: String,
}

/// Distributions by the id's first part, with their shown names.
const DISTROS: &[(&str, &str)] = &[
    ("aliyun", "Alibaba Cloud Linux"),
    ("alinux", "Alibaba Cloud Linux"),
    ("ubuntu", "Ubuntu"),
    ("centos", "CentOS"),
    ("debian", "Debian"),
    ("rockylinux", "Rocky Linux"),
    ("almalinux", "AlmaLinux"),
    ("anolisos", "Anolis OS"),
    ("opensuse", "openSUSE"),
    ("suse", "SUSE Linux Enterprise Server"),
    ("redhat", "Red Hat Enterprise Linux"),
    ("fedora", "Fedora"),
    ("freebsd", "FreeBSD"),
];

pub fn os_of(image_id: &str) -> ImageOs {
    let lower = image_id.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("win") {
        let year: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let name = if year.is_empty() {
            "Windows Server".to_string()
        } else {
            format!("Windows Server {year}")
        };
        return ImageOs {
            os_type: "windows",
            os_name: format!("{name} 64位"),
            os_name_en: format!("{name} 64-bit"),
        };
    }
    let mut parts = lower.split('_');
    let first = parts.next().unwrap_or_default();
    let name = DISTROS
        .iter()
        .find(|(prefix, _)| *prefix == first)
        .map(|(_, name)| {
            // The version: the numeric parts after the name (`22_04` is 22.04).
            let version: Vec<&str> = parts
                .take_while(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .collect();
            if version.is_empty() {
                (*name).to_string()
            } else {
                format!("{name} {}", version.join("."))
            }
        })
        .unwrap_or_else(|| "Linux".to_string());
    ImageOs {
        os_type: "linux",
        os_name: format!("{name} 64位"),
        os_name_en: format!("{name} 64 bit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_from_public_image_ids() {
        let os = os_of("aliyun_3_x64_20G_alibase_20240819.vhd");
        assert_eq!(
            (os.os_type, os.os_name_en.as_str()),
            ("linux", "Alibaba Cloud Linux 3 64 bit")
        );
        let os = os_of("ubuntu_22_04_x64_20G_alibase_20240710.vhd");
        assert_eq!(os.os_name_en, "Ubuntu 22.04 64 bit");
        let os = os_of("win2022_21H2_x64_dtc_en-us_40G_alibase_20240816.vhd");
        assert_eq!(
            (os.os_type, os.os_name_en.as_str()),
            ("windows", "Windows Server 2022 64-bit")
        );
        let os = os_of("m-bp1custom");
        assert_eq!(
            (os.os_type, os.os_name_en.as_str()),
            ("linux", "Linux 64 bit")
        );
    }
}

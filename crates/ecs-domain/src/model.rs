//! The resources ecsd keeps: accounts, instances and dedicated hosts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Money;

/// Declares a closed set of wire values: `as_str` gives the wire spelling, `parse` takes it back
/// (exact spelling, as ECS compares enum values).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// How a resource is billed.
    ChargeType { PostPaid = "PostPaid", PrePaid = "PrePaid" }
);

wire_enum!(
    /// Instance states ECS documents (a released instance has no state: it is gone).
    InstanceStatus {
        Pending = "Pending",
        Starting = "Starting",
        Running = "Running",
        Stopping = "Stopping",
        Stopped = "Stopped",
    }
);

wire_enum!(
    /// The auto-renew setting of a subscription instance.
    RenewalStatus { AutoRenewal = "AutoRenewal", Normal = "Normal", NotRenewal = "NotRenewal" }
);

wire_enum!(
    /// Unit of a subscription period or renewal duration.
    PeriodUnit { Week = "Week", Month = "Month", Year = "Year" }
);

wire_enum!(
    /// Why an instance is locked (OperationLocks).
    LockReason {
        Financial = "financial",
        Security = "security",
        Recycling = "recycling",
        DedicatedHostFinancial = "dedicatedhostfinancial",
        Refunded = "refunded",
    }
);

wire_enum!(
    /// The performance mode of a burstable instance (`CreditSpecification`): held to its
    /// baseline when out of CPU credits, or bursting on and paying for the surplus.
    CreditSpecification { Standard = "Standard", Unlimited = "Unlimited" }
);

wire_enum!(
    /// Dedicated host states.
    HostStatus {
        Available = "Available",
        UnderAssessment = "UnderAssessment",
        PermanentFailure = "PermanentFailure",
        TempUnavailable = "TempUnavailable",
        Redeploying = "Redeploying",
    }
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub balance: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    pub account_id: i64,
}

/// The auto-renew settings of a subscription resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalSettings {
    pub status: RenewalStatus,
    pub duration: u32,
    pub unit: PeriodUnit,
}

impl Default for RenewalSettings {
    fn default() -> Self {
        Self {
            status: RenewalStatus::Normal,
            duration: 1,
            unit: PeriodUnit::Month,
        }
    }
}

/// Subscription state of a PrePaid resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// End of the paid period (minute precision).
    pub expired_time: DateTime<Utc>,
    pub renewal: RenewalSettings,
    /// When the next auto-renew charge is tried; `None` when none is planned.
    pub next_renewal_attempt: Option<DateTime<Utc>>,
    /// Set when the instance expired unpaid: the time it is released if still unpaid.
    pub expiry_release_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub account_id: i64,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub description: String,
    pub instance_type: String,
    pub cpu: u32,
    pub memory_mib: u32,
    pub image_id: String,
    pub charge_type: ChargeType,
    pub status: InstanceStatus,
    pub creation_time: DateTime<Utc>,
    pub start_time: Option<DateTime<Utc>>,
    pub auto_release_time: Option<DateTime<Utc>>,
    pub deletion_protection: bool,
    /// Present for PrePaid instances.
    pub subscription: Option<Subscription>,
    pub locks: Vec<LockReason>,
    pub tags: Vec<(String, String)>,
    pub security_group_ids: Vec<String>,
    pub vswitch_id: String,
    pub dedicated_host_id: Option<String>,
    /// Stopped in economical mode (StopInstance `StoppedMode=StopCharging`), until started again.
    /// Absent from rows written before it existed, and from the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped_charging: bool,
    /// Its VPC and addresses. Rows written before these existed load with none.
    #[serde(default)]
    pub network: InstanceNetwork,
    /// Settings given at creation that the describe calls show again: network-side ones
    /// (issue 15), user data and spot settings (issue 14). Absent from rows written before they
    /// existed, and from the JSON when all are defaults.
    #[serde(default, skip_serializing_if = "LaunchSettings::is_default")]
    pub launch: LaunchSettings,
    /// The CPU socket of its dedicated host it sits on. Absent from rows written before
    /// sockets were kept (placed again, first fit, when shown) and for instances on no host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_socket: Option<u32>,
}

/// What ECS shows as `InternetChargeType` when none was chosen.
pub const DEFAULT_INTERNET_CHARGE_TYPE: &str = "PayByTraffic";

/// An instance's place in the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceNetwork {
    pub vpc_id: String,
    /// Private addresses, the primary first.
    pub private_ips: Vec<String>,
    /// Public addresses (one when it was launched with outbound bandwidth).
    pub public_ips: Vec<String>,
    /// The primary network interface.
    pub eni_id: String,
    pub mac_address: String,
}

/// How an instance was launched, beyond its type, image and billing, as the describe calls show
/// it again (a password is never kept in the clear, nor shown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LaunchSettings {
    pub host_name: String,
    pub key_pair_name: String,
    pub resource_group_id: String,
    /// Empty: [`DEFAULT_INTERNET_CHARGE_TYPE`].
    pub internet_charge_type: String,
    /// Mbit/s.
    pub internet_max_bandwidth_in: u32,
    pub internet_max_bandwidth_out: u32,
    /// `UserData` as given at creation: base64 text, kept as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "SpotStrategy::is_no_spot")]
    pub spot_strategy: SpotStrategy,
    /// `SpotPriceLimit` (per hour) for `SpotWithPriceLimit`, as a decimal with up to 3 places.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_price_limit: Option<String>,
    /// `SpotDuration`: hours of protection from interruption after creation (0 or 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spot_duration: Option<u32>,
    /// Set when the spot instance was interrupted: it is released at this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interruption_release_time: Option<DateTime<Utc>>,
    /// The performance mode of a burstable instance; `None` for the other types, which have
    /// none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credit_specification: Option<CreditSpecification>,
}

impl LaunchSettings {
    pub fn is_default(&self) -> bool {
        *self == LaunchSettings::default()
    }

    pub fn is_spot(&self) -> bool {
        !self.spot_strategy.is_no_spot()
    }
}

/// `SpotStrategy`: an ordinary pay-as-you-go instance, or a spot instance bid with a price
/// limit or at the market price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SpotStrategy {
    #[default]
    NoSpot,
    SpotWithPriceLimit,
    SpotAsPriceGo,
}

impl SpotStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            SpotStrategy::NoSpot => "NoSpot",
            SpotStrategy::SpotWithPriceLimit => "SpotWithPriceLimit",
            SpotStrategy::SpotAsPriceGo => "SpotAsPriceGo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SpotStrategy::NoSpot,
            SpotStrategy::SpotWithPriceLimit,
            SpotStrategy::SpotAsPriceGo,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn is_no_spot(&self) -> bool {
        *self == SpotStrategy::NoSpot
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedicatedHost {
    pub id: String,
    pub account_id: i64,
    pub region_id: String,
    pub zone_id: String,
    pub name: String,
    pub description: String,
    pub host_type: String,
    pub charge_type: ChargeType,
    pub status: HostStatus,
    pub creation_time: DateTime<Utc>,
    pub auto_release_time: Option<DateTime<Utc>>,
    pub subscription: Option<Subscription>,
    pub locks: Vec<LockReason>,
    pub tags: Vec<(String, String)>,
}

/// The expiry ECS shows for pay-as-you-go resources, which never expire.
pub fn post_paid_expired_time() -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.with_ymd_and_hms(2099, 12, 31, 15, 59, 0).unwrap()
}

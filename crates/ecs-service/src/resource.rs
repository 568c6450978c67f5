//! What instances and dedicated hosts share as billed resources, written once: the auto-release
//! time, the subscription, the due actions, expiry, and how each is read and written in the
//! store. The commands and the lifecycle arms that treat both alike are generic over it.

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::lifecycle::{expire_host, expire_instance, host_due, instance_due, Due, Outcome};
use ecs_domain::model::{ChargeType, DedicatedHost, Instance, Subscription};
use ecs_domain::Money;
use ecs_store::{StoreResult, StoreTx};

pub(crate) trait Billed: Clone + Send + Sync + 'static {
    fn region_id(&self) -> &str;
    fn charge_type(&self) -> ChargeType;
    fn auto_release_time_mut(&mut self) -> &mut Option<DateTime<Utc>>;
    fn subscription_mut(&mut self) -> Option<&mut Subscription>;
    /// The scheduled actions, as the due index holds them.
    fn due(&self) -> Vec<Due>;
    /// Expires the unpaid subscription at `at`: stopped, locked, released after `grace`.
    fn expire(&mut self, at: DateTime<Utc>, grace: Duration) -> Outcome;
    /// The monthly price of its type (zero for a type no longer in the catalog).
    fn monthly_price(&self, catalog: &Catalog) -> Money;
    fn load(tx: &mut dyn StoreTx, account_id: i64, id: &str) -> StoreResult<Option<Self>>;
    fn save(&self, tx: &mut dyn StoreTx) -> StoreResult<()>;
}

impl Billed for Instance {
    fn region_id(&self) -> &str {
        &self.region_id
    }
    fn charge_type(&self) -> ChargeType {
        self.charge_type
    }
    fn auto_release_time_mut(&mut self) -> &mut Option<DateTime<Utc>> {
        &mut self.auto_release_time
    }
    fn subscription_mut(&mut self) -> Option<&mut Subscription> {
        self.subscription.as_mut()
    }
    fn due(&self) -> Vec<Due> {
        instance_due(self)
    }
    fn expire(&mut self, at: DateTime<Utc>, grace: Duration) -> Outcome {
        expire_instance(self, at, grace)
    }
    fn monthly_price(&self, catalog: &Catalog) -> Money {
        catalog
            .instance_type(&self.instance_type)
            .map(|t| t.monthly_price)
            .unwrap_or(Money::ZERO)
    }
    fn load(tx: &mut dyn StoreTx, account_id: i64, id: &str) -> StoreResult<Option<Self>> {
        tx.instance(account_id, id)
    }
    fn save(&self, tx: &mut dyn StoreTx) -> StoreResult<()> {
        tx.put_instance(self)
    }
}

impl Billed for DedicatedHost {
    fn region_id(&self) -> &str {
        &self.region_id
    }
    fn charge_type(&self) -> ChargeType {
        self.charge_type
    }
    fn auto_release_time_mut(&mut self) -> &mut Option<DateTime<Utc>> {
        &mut self.auto_release_time
    }
    fn subscription_mut(&mut self) -> Option<&mut Subscription> {
        self.subscription.as_mut()
    }
    fn due(&self) -> Vec<Due> {
        host_due(self)
    }
    fn expire(&mut self, at: DateTime<Utc>, grace: Duration) -> Outcome {
        expire_host(self, at, grace)
    }
    fn monthly_price(&self, catalog: &Catalog) -> Money {
        catalog
            .host_type(&self.host_type)
            .map(|t| t.monthly_price)
            .unwrap_or(Money::ZERO)
    }
    fn load(tx: &mut dyn StoreTx, account_id: i64, id: &str) -> StoreResult<Option<Self>> {
        tx.host(account_id, id)
    }
    fn save(&self, tx: &mut dyn StoreTx) -> StoreResult<()> {
        tx.put_host(self)
    }
}

/// The resource with this id in the account (and region, when one was named), or `not_found`.
pub(crate) fn find<R: Billed>(
    tx: &mut dyn StoreTx,
    account_id: i64,
    region: Option<&str>,
    id: &str,
    not_found: ecs_domain::ErrorCode,
) -> ecs_store::TxResult<R> {
    match R::load(tx, account_id, id)? {
        Some(r) if region.is_none_or(|want| want == r.region_id()) => Ok(r),
        _ => Err(not_found.err().into()),
    }
}

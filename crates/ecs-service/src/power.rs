//! Rebooting an instance, and reading one instance whole (DescribeInstanceAttribute,
//! DescribeUserData). The error rows are the ones ECS answers for those operations.

use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::Instance;
use ecs_domain::rules::{check_reboot, PowerRefusal};
use ecs_domain::ApiError;

use crate::instances::{EXPIRED_OR_IN_ARREARS, INCORRECT_STATUS, NOT_FOUND};
use crate::resource::find;
use crate::{Caller, Service};

/// Restart a running instance (RebootInstance).
#[derive(Debug, Clone)]
pub struct RebootInstance {
    pub id: String,
    pub region: Option<String>,
    /// `ForceStop`: power off instead of shutting down. ecsd has no guest to wait for, so
    /// both end the same way; the flag is read (and must be a boolean) for that reason only.
    pub force_stop: bool,
    pub dry_run: bool,
}

impl Service {
    /// Rows: [`NOT_FOUND`], [`EXPIRED_OR_IN_ARREARS`] (an expired, locked subscription),
    /// [`INCORRECT_STATUS`] (not Running), `DryRunOperation`.
    pub async fn reboot_instance(
        &self,
        caller: &Caller,
        cmd: RebootInstance,
    ) -> Result<(), ApiError> {
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            let mut instance: Instance =
                find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            check_reboot(&instance).map_err(|why| match why {
                PowerRefusal::Expired => EXPIRED_OR_IN_ARREARS.err(),
                PowerRefusal::Status => INCORRECT_STATUS.err(),
            })?;
            if cmd.dry_run {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            // The instance is Running again at once; it was started anew, which StartTime shows.
            instance.start_time = Some(now);
            tx.put_instance(&instance)?;
            Ok(())
        })
        .await
    }

    /// One of the caller's instances (in `region` when given), or [`NOT_FOUND`].
    pub fn instance(
        &self,
        caller: &Caller,
        region: Option<String>,
        id: String,
    ) -> Result<Instance, ApiError> {
        let account = caller.account_id;
        self.read(move |tx| find(tx, account, region.as_deref(), &id, NOT_FOUND))
    }
}

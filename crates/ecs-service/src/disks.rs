//! Reading disks (DescribeDisks). Disks are created with their instances and released or
//! detached with them (see `instances::release`).

use ecs_domain::disk::Disk;
use ecs_domain::ApiError;

use crate::{Caller, Service};

/// Which of the caller's disks to list; every present filter must match.
#[derive(Debug, Clone, Default)]
pub struct DiskQuery {
    pub region: String,
    pub zone: Option<String>,
    pub ids: Option<Vec<String>>,
    pub instance_id: Option<String>,
    /// `system` or `data`; `None` for all.
    pub disk_type: Option<String>,
    pub category: Option<String>,
    /// `In_use` or `Available`.
    pub status: Option<String>,
    pub delete_with_instance: Option<bool>,
}

impl Service {
    /// The caller's disks matching `q`, in creation order: the total and the page of
    /// `page_size` from page `page_number` (from 1).
    pub fn list_disks(
        &self,
        caller: &Caller,
        q: DiskQuery,
        page_number: u32,
        page_size: u32,
    ) -> Result<(usize, Vec<Disk>), ApiError> {
        let account = caller.account_id;
        let all = self.read(move |tx| {
            Ok(tx
                .disks(account, Some(&q.region), q.instance_id.as_deref())?
                .into_iter()
                .filter(|d| q.zone.as_ref().is_none_or(|z| *z == d.zone_id))
                .filter(|d| q.ids.as_ref().is_none_or(|ids| ids.contains(&d.id)))
                .filter(|d| q.disk_type.as_ref().is_none_or(|t| *t == d.disk_type))
                .filter(|d| q.category.as_ref().is_none_or(|c| *c == d.category))
                .filter(|d| q.status.as_deref().is_none_or(|s| s == d.status()))
                .filter(|d| {
                    q.delete_with_instance
                        .is_none_or(|w| w == d.delete_with_instance)
                })
                .collect::<Vec<_>>())
        })?;
        let skip = (page_number as usize - 1).saturating_mul(page_size as usize);
        let total = all.len();
        Ok((
            total,
            all.into_iter()
                .skip(skip)
                .take(page_size as usize)
                .collect(),
        ))
    }
}

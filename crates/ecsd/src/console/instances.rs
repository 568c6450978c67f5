//! The instance list of a region: filters (billing method, status, name), sort, paging.
//!
//! Paging goes through the store's listing in creation order, which its indexes serve without
//! reading more than a page of rows (and count from an index or a counter), so a page stays
//! fast at 100,000 instances. Newest first is the same order read from the other end. Sorting
//! by another column needs every match in hand, so it is offered when the filter leaves at most
//! [`SORT_IN_MEMORY_MAX`] instances; past that the page says so and shows newest first.

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ecs_domain::model::{ChargeType, Instance, InstanceStatus, LockReason};
use ecs_service::{InstanceFilter, Listing, Page};

use super::form::{url, Fields};
use super::view::{self, charge_label, renewal_label, status_label, Choice, TimeView};
use super::{page, session, unavailable};
use crate::app::App;

/// Page sizes offered; the first is the default.
pub const PAGE_SIZES: [u32; 3] = [20, 50, 100];
/// The most matches sorted by a column other than creation time.
pub const SORT_IN_MEMORY_MAX: u64 = 5_000;

const SORTS: [(&str, &str); 5] = [
    ("created-desc", "Newest first"),
    ("created-asc", "Oldest first"),
    ("name", "Name (A to Z)"),
    ("release", "Auto-release time (soonest first)"),
    ("expiry", "Expiry (soonest first)"),
];

/// One row of the list.
pub struct InstanceRow {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    /// For the status badge's class: `running`, `stopped`, ...
    pub status_class: String,
    pub charge: &'static str,
    pub prepaid: bool,
    pub instance_type: String,
    pub zone: String,
    pub created: TimeView,
    pub expiry: Option<TimeView>,
    pub auto_release: Option<TimeView>,
    pub protected: bool,
    pub renewal: String,
    pub locked: bool,
    pub host: Option<String>,
}

impl InstanceRow {
    pub fn of(i: &Instance) -> Self {
        InstanceRow {
            id: i.id.clone(),
            name: i.name.clone(),
            status: status_label(i.status),
            status_class: i.status.as_str().to_ascii_lowercase(),
            charge: charge_label(i.charge_type),
            prepaid: i.charge_type == ChargeType::PrePaid,
            instance_type: i.instance_type.clone(),
            zone: i.zone_id.clone(),
            created: view::time(i.creation_time),
            expiry: i.subscription.as_ref().map(|s| view::time(s.expired_time)),
            auto_release: i.auto_release_time.map(view::time),
            protected: i.deletion_protection,
            renewal: match &i.subscription {
                None => String::new(),
                Some(s) if s.renewal.status == ecs_domain::model::RenewalStatus::AutoRenewal => {
                    format!(
                        "{}, {} {}",
                        renewal_label(s.renewal.status),
                        s.renewal.duration,
                        unit_label(s.renewal.unit, s.renewal.duration)
                    )
                }
                Some(s) => renewal_label(s.renewal.status).to_string(),
            },
            locked: i.locks.contains(&LockReason::Financial),
            host: i.dedicated_host_id.clone(),
        }
    }
}

pub fn unit_label(unit: ecs_domain::model::PeriodUnit, n: u32) -> &'static str {
    use ecs_domain::model::PeriodUnit::*;
    match (unit, n == 1) {
        (Week, true) => "week",
        (Week, false) => "weeks",
        (Month, true) => "month",
        (Month, false) => "months",
        (Year, true) => "year",
        (Year, false) => "years",
    }
}

#[derive(Template)]
#[template(path = "console/instances.html")]
struct ListPage {
    chrome: view::Chrome,
    rows: Vec<InstanceRow>,
    total: u64,
    page: u64,
    pages: u64,
    first_shown: u64,
    last_shown: u64,
    charge: String,
    status: String,
    name: String,
    sort: String,
    size: u32,
    charges: Vec<Choice>,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    sizes: Vec<Choice>,
    first: Option<String>,
    prev: Option<String>,
    next: Option<String>,
    last: Option<String>,
    /// Why the sort asked for is not the one shown.
    note: Option<String>,
    /// The query without `page`, for the page-number form.
    filtered: bool,
}

/// The filter and page a list query asks for.
struct Query {
    region: String,
    charge: String,
    status: String,
    name: String,
    sort: String,
    size: u32,
    page: u64,
}

impl Query {
    fn read(app: &App, q: &Fields) -> Self {
        let charge = q
            .get("charge")
            .filter(|c| ChargeType::parse(c).is_some())
            .unwrap_or_default()
            .to_string();
        let status = q
            .get("status")
            .filter(|s| InstanceStatus::parse(s).is_some())
            .unwrap_or_default()
            .to_string();
        let sort = q
            .get("sort")
            .filter(|s| SORTS.iter().any(|(v, _)| v == s))
            .unwrap_or("created-desc")
            .to_string();
        let size = q
            .get("size")
            .and_then(|s| s.parse().ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(PAGE_SIZES[0]);
        let page = q
            .get("page")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        Query {
            region: view::region(app, q),
            charge,
            status,
            name: q
                .get("name")
                .unwrap_or_default()
                .chars()
                .take(128)
                .collect(),
            sort,
            size,
            page,
        }
    }

    fn filter(&self) -> InstanceFilter {
        InstanceFilter {
            region_id: Some(self.region.clone()),
            charge_type: ChargeType::parse(&self.charge),
            status: (!self.status.is_empty()).then(|| self.status.clone()),
            // A name without wildcards is looked for anywhere in the name.
            name: (!self.name.is_empty()).then(|| {
                if self.name.contains('*') {
                    self.name.clone()
                } else {
                    format!("*{}*", self.name)
                }
            }),
            ..Default::default()
        }
    }

    fn url(&self, page: u64) -> String {
        let (size, page) = (self.size.to_string(), page.to_string());
        url(
            "/console/instances",
            [
                ("region", self.region.as_str()),
                ("charge", self.charge.as_str()),
                ("status", self.status.as_str()),
                ("name", self.name.as_str()),
                ("sort", self.sort.as_str()),
                ("size", size.as_str()),
                ("page", page.as_str()),
            ],
        )
    }
}

/// The rows of one page, the total, and a note when the sort had to change.
fn fetch(
    app: &App,
    caller: &ecs_service::Caller,
    q: &Query,
) -> Result<(Vec<Instance>, u64, Option<String>), ecs_domain::ApiError> {
    let service = &app.service;
    let filter = q.filter();
    let size = u64::from(q.size);
    let offset = (q.page - 1).saturating_mul(size);
    if q.sort == "created-asc" {
        let listing = service.list_instances(
            caller,
            filter,
            Page::Offset {
                offset,
                limit: q.size,
            },
        )?;
        return Ok((listing.items, listing.total, None));
    }
    let Listing { total, .. } = service.list_instances(
        caller,
        filter.clone(),
        Page::Offset {
            offset: 0,
            limit: 0,
        },
    )?;
    let mut note = None;
    if q.sort != "created-desc" {
        if total <= SORT_IN_MEMORY_MAX {
            let mut all = service
                .list_instances(
                    caller,
                    filter,
                    Page::Offset {
                        offset: 0,
                        limit: u32::try_from(total).unwrap_or(u32::MAX),
                    },
                )?
                .items;
            // Ties (and instances without the sorted value, which go last) keep creation order.
            match q.sort.as_str() {
                "name" => all.sort_by(|a, b| a.name.cmp(&b.name)),
                "release" => {
                    all.sort_by_key(|i| (i.auto_release_time.is_none(), i.auto_release_time))
                }
                _ => all.sort_by_key(|i| {
                    let t = i.subscription.as_ref().map(|s| s.expired_time);
                    (t.is_none(), t)
                }),
            }
            let total = all.len() as u64;
            let page = all
                .into_iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(q.size as usize)
                .collect();
            return Ok((page, total, None));
        }
        note = Some(format!(
            "Sorting by this column is offered when the filter leaves at most {SORT_IN_MEMORY_MAX} \
             instances; this one leaves {total}. Narrow the filter, or read them newest first \
             (shown)."
        ));
    }
    // Newest first: the page counted from the far end of creation order, reversed.
    if offset >= total {
        return Ok((Vec::new(), total, note));
    }
    let end = total - offset;
    let start = end.saturating_sub(size);
    let mut items = service
        .list_instances(
            caller,
            q.filter(),
            Page::Offset {
                offset: start,
                limit: u32::try_from(end - start).unwrap_or(q.size),
            },
        )?
        .items;
    items.reverse();
    Ok((items, total, note))
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session = match session::require(&app, &headers, "/console/instances", raw.as_deref()) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let fields = Fields::query(raw.as_deref());
    let q = Query::read(&app, &fields);
    let chrome = view::Chrome::new(&app, &session, "Instances", "instances", &q.region);
    let (items, total, note) = match fetch(&app, &session.caller(), &q) {
        Ok(found) => found,
        Err(e) => return unavailable(chrome, &e),
    };
    let size = u64::from(q.size);
    let pages = total.div_ceil(size).max(1);
    let page_no = q.page;
    let first_shown = if items.is_empty() {
        0
    } else {
        (page_no - 1) * size + 1
    };
    let last_shown = first_shown + items.len() as u64 - u64::from(!items.is_empty());
    let link = |p: u64, show: bool| show.then(|| q.url(p));
    let charges = Choice::list(
        [
            ("", "All billing methods"),
            ("PostPaid", "Pay-as-you-go"),
            ("PrePaid", "Subscription"),
        ],
        &q.charge,
    );
    let mut statuses = vec![("", "All statuses")];
    statuses.extend(
        InstanceStatus::ALL
            .iter()
            .map(|s| (s.as_str(), status_label(*s))),
    );
    let size_text: Vec<String> = PAGE_SIZES.iter().map(|s| s.to_string()).collect();
    let listing = ListPage {
        rows: items.iter().map(InstanceRow::of).collect(),
        total,
        page: page_no,
        pages,
        first_shown,
        last_shown,
        charges,
        statuses: Choice::list(statuses, &q.status),
        sorts: Choice::list(SORTS, &q.sort),
        sizes: Choice::list(
            size_text.iter().map(|s| (s.as_str(), s.as_str())),
            &q.size.to_string(),
        ),
        first: link(1, page_no > 1),
        prev: link(page_no - 1, page_no > 1),
        next: link(page_no + 1, page_no < pages),
        last: link(pages, page_no < pages),
        note,
        filtered: !q.charge.is_empty() || !q.status.is_empty() || !q.name.is_empty(),
        charge: q.charge,
        status: q.status,
        name: q.name,
        sort: q.sort,
        size: q.size,
        chrome,
    };
    page(StatusCode::OK, &listing)
}

//! The dedicated host list of a region, with each host's own release settings (see
//! `release.rs`: scheduled release on or off, release now refused while instances are on it).

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ecs_domain::model::LockReason;
use ecs_service::{HostFilter, Page};

use super::form::{url, Fields};
use super::view::{self, charge_label, Chrome, TimeView};
use super::{page, session, unavailable};
use crate::app::App;

const PAGE_SIZE: u32 = 50;

pub struct HostRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub charge: &'static str,
    pub host_type: String,
    pub zone: String,
    pub created: TimeView,
    pub expiry: Option<TimeView>,
    pub auto_release: Option<TimeView>,
    pub instances: Vec<String>,
    pub locked: bool,
}

#[derive(Template)]
#[template(path = "console/hosts.html")]
struct HostsPage {
    chrome: Chrome,
    rows: Vec<HostRow>,
    total: u64,
    page: u64,
    pages: u64,
    prev: Option<String>,
    next: Option<String>,
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let session = match session::require(&app, &headers, "/console/hosts", raw.as_deref()) {
        Ok(s) => s,
        Err(answer) => return *answer,
    };
    let fields = Fields::query(raw.as_deref());
    let region = view::region(&app, &fields);
    let page_no: u64 = fields
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let chrome = Chrome::new(&app, &session, "Dedicated hosts", "hosts", &region);
    let listing = match app.service.list_hosts(
        &session.caller(),
        HostFilter {
            region_id: Some(region.clone()),
            ..Default::default()
        },
        Page::Offset {
            offset: (page_no - 1) * u64::from(PAGE_SIZE),
            limit: PAGE_SIZE,
        },
    ) {
        Ok(l) => l,
        Err(e) => return unavailable(chrome, &e),
    };
    let pages = listing.total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    let link = |p: u64| {
        let p = p.to_string();
        url(
            "/console/hosts",
            [("region", region.as_str()), ("page", p.as_str())],
        )
    };
    let rows = listing
        .items
        .into_iter()
        .map(|(h, on_host)| HostRow {
            status: h.status.as_str().to_string(),
            charge: charge_label(h.charge_type),
            host_type: h.host_type,
            zone: h.zone_id,
            created: view::time(h.creation_time),
            expiry: h.subscription.map(|s| view::time(s.expired_time)),
            auto_release: h.auto_release_time.map(view::time),
            instances: on_host.into_iter().map(|p| p.id).collect(),
            locked: h.locks.contains(&LockReason::Financial),
            name: h.name,
            id: h.id,
        })
        .collect();
    page(
        StatusCode::OK,
        &HostsPage {
            chrome,
            rows,
            total: listing.total,
            page: page_no,
            pages,
            prev: (page_no > 1).then(|| link(page_no - 1)),
            next: (page_no < pages).then(|| link(page_no + 1)),
        },
    )
}

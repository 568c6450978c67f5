//! What the server's doors share: the service every call goes through, the scheduler that
//! carries out due work, and the admin token.

use std::sync::Arc;

use ecs_scheduler::Scheduler;
use ecs_service::Service;

pub struct App {
    pub service: Arc<Service>,
    pub scheduler: Arc<Scheduler>,
    /// Bearer token of the admin API; `None` turns the API off.
    pub admin_token: Option<String>,
}

impl App {
    pub fn new(service: Arc<Service>, admin_token: Option<String>) -> Self {
        let scheduler = Arc::new(Scheduler::new(service.clone()));
        Self {
            service,
            scheduler,
            admin_token,
        }
    }
}

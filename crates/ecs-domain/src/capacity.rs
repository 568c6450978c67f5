//! How much of a dedicated host its instances take, and how many more of a type fit.
//!
//! ECS places an instance on one CPU socket of a host, never across two (the DescribeDedicatedHosts
//! `SocketDetails` documentation): a type fits if one socket has room for it, whatever the other
//! sockets have left. Placement here is first fit, lowest socket first, so "how many more fit"
//! is the sum over the sockets of what each one holds.

use crate::catalog::HostType;

/// What one instance takes of its host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Demand {
    pub vcpus: u32,
    pub memory_mib: u32,
}

/// An instance on a host, as capacity sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub id: String,
    pub instance_type: String,
    pub demand: Demand,
    /// The socket it was placed on; none for instances placed before sockets were kept.
    pub socket_id: Option<u32>,
}

/// One socket's share of the host and what is used of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Socket {
    pub id: u32,
    pub total_vcpus: u32,
    pub total_memory_mib: u64,
    pub used_vcpus: u64,
    pub used_memory_mib: u64,
}

impl Socket {
    pub fn available_vcpus(&self) -> u64 {
        u64::from(self.total_vcpus).saturating_sub(self.used_vcpus)
    }

    pub fn available_memory_mib(&self) -> u64 {
        self.total_memory_mib.saturating_sub(self.used_memory_mib)
    }

    /// How many more instances of `demand` this socket holds.
    pub fn holds(&self, demand: Demand) -> u64 {
        if demand.vcpus == 0 && demand.memory_mib == 0 {
            return 0;
        }
        let by = |available: u64, each: u32| match each {
            0 => u64::MAX,
            each => available / u64::from(each),
        };
        by(self.available_vcpus(), demand.vcpus)
            .min(by(self.available_memory_mib(), demand.memory_mib))
    }

    fn take(&mut self, demand: Demand) {
        self.used_vcpus += u64::from(demand.vcpus);
        self.used_memory_mib += u64::from(demand.memory_mib);
    }
}

/// A host's sockets with what its instances use of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCapacity {
    pub sockets: Vec<Socket>,
}

impl HostCapacity {
    /// An empty host of this type: vCPUs (times the over-commit ratio) and memory split evenly
    /// over the sockets.
    pub fn empty(host_type: &HostType) -> Self {
        let n = host_type.sockets;
        let sockets = (0..n)
            .map(|id| Socket {
                id,
                total_vcpus: host_type.vcpus / n * host_type.cpu_over_commit_ratio,
                total_memory_mib: u64::from(host_type.memory_gib) * 1024 / u64::from(n),
                used_vcpus: 0,
                used_memory_mib: 0,
            })
            .collect();
        HostCapacity { sockets }
    }

    /// The host with `placed` on it, and the socket each of them is on (in the same order).
    /// An instance without a (valid) socket is placed first fit in the given order; one that
    /// fits nowhere (a host type a config shrank) is counted on the socket with the most vCPUs
    /// left, which then shows none available rather than a negative number.
    pub fn with(host_type: &HostType, placed: &[Placed]) -> (Self, Vec<Option<u32>>) {
        let mut host = Self::empty(host_type);
        let mut sockets = vec![None; placed.len()];
        for (k, p) in placed.iter().enumerate() {
            if let Some(s) = p.socket_id.filter(|s| (*s as usize) < host.sockets.len()) {
                host.sockets[s as usize].take(p.demand);
                sockets[k] = Some(s);
            }
        }
        for (k, p) in placed.iter().enumerate() {
            if sockets[k].is_some() {
                continue;
            }
            sockets[k] = host.place(p.demand).or_else(|| {
                let roomiest = host
                    .sockets
                    .iter_mut()
                    .max_by_key(|s| (s.available_vcpus(), std::cmp::Reverse(s.id)))?;
                roomiest.take(p.demand);
                Some(roomiest.id)
            });
        }
        (host, sockets)
    }

    /// Place one instance of `demand`: the lowest socket with room for it, or none.
    pub fn place(&mut self, demand: Demand) -> Option<u32> {
        let socket = self.sockets.iter_mut().find(|s| s.holds(demand) >= 1)?;
        socket.take(demand);
        Some(socket.id)
    }

    /// Place `amount` instances of `demand`, all or none: the socket of each, or `None` (and
    /// the host unchanged) if they do not all fit.
    pub fn place_all(&mut self, demand: Demand, amount: u32) -> Option<Vec<u32>> {
        let mut trial = self.clone();
        let sockets = (0..amount)
            .map(|_| trial.place(demand))
            .collect::<Option<Vec<_>>>()?;
        *self = trial;
        Some(sockets)
    }

    /// How many more instances of `demand` fit.
    pub fn holds(&self, demand: Demand) -> u64 {
        self.sockets
            .iter()
            .map(|s| s.holds(demand))
            .fold(0, u64::saturating_add)
    }

    pub fn total_vcpus(&self) -> u64 {
        self.sockets.iter().map(|s| u64::from(s.total_vcpus)).sum()
    }

    pub fn available_vcpus(&self) -> u64 {
        self.sockets.iter().map(Socket::available_vcpus).sum()
    }

    pub fn total_memory_mib(&self) -> u64 {
        self.sockets.iter().map(|s| s.total_memory_mib).sum()
    }

    pub fn available_memory_mib(&self) -> u64 {
        self.sockets.iter().map(Socket::available_memory_mib).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn g7() -> HostType {
        Catalog::builtin().host_type("ddh.g7").unwrap().clone()
    }

    fn demand(vcpus: u32, gib: u32) -> Demand {
        Demand {
            vcpus,
            memory_mib: gib * 1024,
        }
    }

    fn placed(id: &str, d: Demand, socket_id: Option<u32>) -> Placed {
        Placed {
            id: id.into(),
            instance_type: String::new(),
            demand: d,
            socket_id,
        }
    }

    #[test]
    fn an_empty_host_splits_its_vcpus_and_memory_over_its_sockets() {
        let host = HostCapacity::empty(&g7());
        assert_eq!(host.sockets.len(), 2);
        assert_eq!((host.total_vcpus(), host.available_vcpus()), (128, 128));
        assert_eq!(host.total_memory_mib(), 512 * 1024);
        assert!(host
            .sockets
            .iter()
            .all(|s| (s.total_vcpus, s.total_memory_mib) == (64, 256 * 1024)));
        // 2 vCPUs / 8 GiB: 32 per socket.
        assert_eq!(host.holds(demand(2, 8)), 64);
        // One socket's worth: one per socket. Twice that: none, though the host has 128 vCPUs.
        assert_eq!(host.holds(demand(64, 256)), 2);
        assert_eq!(host.holds(demand(128, 512)), 0);
    }

    #[test]
    fn placed_instances_use_their_socket_and_the_rest_is_available() {
        let (host, sockets) = HostCapacity::with(
            &g7(),
            &[
                placed("a", demand(16, 64), Some(1)),
                placed("b", demand(2, 8), None),
            ],
        );
        assert_eq!(sockets, vec![Some(1), Some(0)]);
        assert_eq!(host.available_vcpus(), 128 - 18);
        assert_eq!(host.available_memory_mib(), (512 - 72) * 1024);
        assert_eq!(
            (
                host.sockets[0].available_vcpus(),
                host.sockets[1].available_vcpus()
            ),
            (62, 48)
        );
        // 32 vCPUs each: one more on socket 0 (62 left), one on socket 1 (48 left).
        assert_eq!(host.holds(demand(32, 128)), 2);
        // Memory can be what runs out first: 248 GiB left on socket 0, 192 on socket 1.
        assert_eq!(host.holds(demand(1, 200)), 1);
    }

    #[test]
    fn placing_is_first_fit_and_all_or_none() {
        let mut host = HostCapacity::empty(&g7());
        assert_eq!(host.place_all(demand(32, 128), 3), Some(vec![0, 0, 1]));
        let before = host.clone();
        // One more fits (socket 1), two do not: nothing is taken.
        assert_eq!(host.place_all(demand(32, 128), 2), None);
        assert_eq!(host, before);
        assert_eq!(host.place_all(demand(32, 128), 1), Some(vec![1]));
        assert_eq!(host.holds(demand(1, 1)), 0);
        assert_eq!(host.place(demand(1, 1)), None);
    }

    #[test]
    fn instances_beyond_the_host_count_as_using_it_all() {
        let (host, sockets) = HostCapacity::with(
            &g7(),
            &[
                placed("a", demand(64, 256), None),
                placed("b", demand(64, 256), None),
                placed("c", demand(8, 32), None),
            ],
        );
        assert_eq!(sockets, vec![Some(0), Some(1), Some(0)]);
        assert_eq!(
            (host.available_vcpus(), host.available_memory_mib()),
            (0, 0)
        );
        // A socket id beyond the host's sockets (a config with fewer) is placed again.
        let (_, sockets) = HostCapacity::with(&g7(), &[placed("a", demand(2, 8), Some(7))]);
        assert_eq!(sockets, vec![Some(0)]);
    }

    #[test]
    fn over_commit_multiplies_vcpus_not_memory() {
        let mut t = g7();
        t.cpu_over_commit_ratio = 2;
        let host = HostCapacity::empty(&t);
        assert_eq!(host.total_vcpus(), 256);
        assert_eq!(host.total_memory_mib(), 512 * 1024);
        // 16 vCPUs / 8 GiB: 8 per socket (128 vCPUs each), where 4 fit without over-commit.
        assert_eq!(host.holds(demand(16, 8)), 16);
        assert_eq!(HostCapacity::empty(&g7()).holds(demand(16, 8)), 8);
    }
}

//! Connections kept open between logins. Vault's method dials (and for
//! LDAPS, handshakes) for every login; here idle connections wait in a
//! pool, each remembering who it is bound as, so a login usually costs only
//! its search, bind and group search round trips.
//!
//! Health: a connection the server closed, or one idle for five minutes, is
//! thrown away when taken; one that fails mid-operation is dropped by the
//! caller and the operation retried once on a fresh dial (see `directory`).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::connection::{Connection, Dialer, Identity, LdapError};

/// Idle connections older than this are closed rather than reused: many
/// servers (Active Directory's MaxConnIdleTime is 15 minutes) and
/// firewalls drop idle connections, sometimes silently.
const MAX_IDLE: Duration = Duration::from_secs(300);

pub struct Pool {
    dialer: Dialer,
    idle: Mutex<Vec<Connection>>,
    capacity: usize,
}

/// A connection taken from the pool, and whether it was idle there (so a
/// transport failure may be the pool's stale connection, worth one retry).
pub struct Checkout {
    pub conn: Connection,
    pub reused: bool,
}

impl Pool {
    pub fn new(dialer: Dialer, capacity: usize) -> Self {
        Pool {
            dialer,
            idle: Mutex::new(Vec::new()),
            capacity,
        }
    }

    pub fn dialer(&self) -> &Dialer {
        &self.dialer
    }

    /// Whether connections outlive a login (`connection_pool_size` > 0).
    pub fn keeps_connections(&self) -> bool {
        self.capacity > 0
    }

    /// An open connection, preferably one already bound as `want`.
    pub async fn get(&self, want: Identity) -> Result<Checkout, LdapError> {
        loop {
            let taken = {
                let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
                let at = idle
                    .iter()
                    .rposition(|c| c.identity == want)
                    .or_else(|| idle.len().checked_sub(1));
                at.map(|i| idle.swap_remove(i))
            };
            match taken {
                Some(mut conn) => {
                    if !conn.is_closed() && conn.idle_since.elapsed() < MAX_IDLE {
                        return Ok(Checkout { conn, reused: true });
                    }
                }
                None => break,
            }
        }
        Ok(Checkout {
            conn: self.dialer.dial().await?,
            reused: false,
        })
    }

    /// Returns a healthy connection for the next login (or closes it when
    /// the pool is full).
    pub fn put(&self, mut conn: Connection) {
        if self.capacity == 0 || conn.is_closed() {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.capacity {
            idle.push(conn);
        }
    }

    /// Idle connections now.
    pub fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

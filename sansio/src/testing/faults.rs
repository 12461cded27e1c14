//! Faults: nodes that crash (cleanly, or half-open behind a lost close) and restart from
//! their disk, connections that drop, links that are cut and healed. Packet loss, duplication
//! and reordering are the network model's ([`super::SimConfig`]).

use humansync_protocol::CloseCode;

impl super::Sim {
    /// Closes every connection of node `idx` (as if its network dropped for a moment).
    pub fn disconnect(&mut self, idx: usize) {
        for conn in self.net.live_of(idx) {
            self.kill_conn(conn, CloseCode::NORMAL);
        }
    }

    /// Crashes a node: its connections drop and unfinished I/O is lost.
    pub fn crash(&mut self, idx: usize) {
        self.nodes[idx].host.crash();
        for conn in self.net.live_of(idx) {
            self.kill_conn(conn, CloseCode::INTERNAL);
        }
    }

    /// Crashes a node without its peers noticing: their ends of its connections stay open
    /// (half-open, as after a kill -9 behind a lost close packet) and what they send is lost.
    pub fn crash_half_open(&mut self, idx: usize) {
        self.nodes[idx].host.crash();
    }

    /// Restarts a crashed node from its disk.
    pub fn restart(&mut self, idx: usize) {
        if self.nodes[idx].is_up() {
            return;
        }
        let now = self.now;
        self.nodes[idx].boot(now);
        self.pump(idx);
    }

    /// Cuts (or heals) the link between two nodes; cutting closes their connections.
    pub fn set_cut(&mut self, a: usize, b: usize, cut: bool) {
        self.net.set_cut(a, b, cut);
        if cut {
            for conn in self.net.live_between(a, b) {
                self.kill_conn(conn, CloseCode::TIMEOUT);
            }
        }
    }

    /// Heals every cut.
    pub fn heal_all(&mut self) {
        self.net.heal_all();
    }
}

//! The transcript: one line per message a core sends (`t=12 d1->server Hello{..}`), recorded
//! when [`super::SimConfig::transcript`] is on, and the state dumps printed on failure. The
//! transcript snapshots (`sansio/tests/snapshots/`) are these lines: keep their format stable.

use humansync_protocol::{Message, RangeMode};

use super::Sim;
use crate::ConnId;

impl Sim {
    /// Decodes what `from` sent on stream `side` of `conn` and appends a line per message.
    pub(crate) fn record(&mut self, conn: ConnId, side: usize, from: usize, to: usize, bytes: &[u8]) {
        let Some(decoder) = self.net.decoder(conn, side) else {
            return;
        };
        decoder.push(bytes);
        while let Ok(Some(msg)) = decoder.next_message() {
            let line = format!(
                "t={} {}->{} {}",
                self.now.0,
                self.nodes[from].name(),
                self.nodes[to].name(),
                summarize(&msg)
            );
            self.transcript.push(line);
        }
    }

    /// [`Sim::describe_state`] plus the last 40 transcript lines, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = self.describe_state();
        let tail = self.transcript.len().saturating_sub(40);
        for line in &self.transcript[tail..] {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// A readable dump of every node's sessions and pending work.
    pub fn describe_state(&self) -> String {
        let mut out = format!("seed {} t={} queue={}\n", self.seed, self.now.0, self.queue.len());
        for node in &self.nodes {
            let Some(core) = &node.host.core else {
                out.push_str(&format!("  {}: down\n", node.name()));
                continue;
            };
            let st = core.status();
            out.push_str(&format!(
                "  {}: docs={} pending={} blobs_missing={} registry={} records anchor={:?}\n",
                node.name(),
                st.docs,
                st.docs_pending,
                st.blobs_missing,
                core.registry().records().count(),
                core.registry()
                    .anchor()
                    .map(|a| self.nodes.iter().position(|n| n.id() == a))
            ));
            for p in st.peers {
                let peer = self
                    .nodes
                    .iter()
                    .find(|n| n.id() == p.peer)
                    .map(|n| n.name())
                    .unwrap_or("?");
                out.push_str(&format!(
                    "    {:?} {peer}: open={} reconciled={} up_to_date={} outstanding={} {}\n",
                    p.conn,
                    p.open,
                    p.reconciled,
                    p.up_to_date,
                    p.outstanding,
                    core.describe_session(p.conn)
                ));
            }
        }
        out
    }
}

fn short_hashes(hashes: &[automerge::ChangeHash]) -> String {
    let parts: Vec<String> = hashes.iter().map(|h| h.to_string()[..6].to_owned()).collect();
    format!("[{}]", parts.join(" "))
}

/// A one-line summary of a message for transcripts.
pub fn summarize(msg: &Message) -> String {
    match msg {
        Message::Hello { versions, set, .. } => format!("Hello{{versions:{versions:?}, docs:{}}}", set.count),
        Message::Welcome { version, set, .. } => format!("Welcome{{version:{version}, docs:{}}}", set.count),
        Message::Reconcile { ranges } => {
            let parts: Vec<String> = ranges
                .iter()
                .map(|r| match &r.mode {
                    RangeMode::Skip => "skip".to_owned(),
                    RangeMode::Fingerprint { count, .. } => format!("fp({count})"),
                    RangeMode::Items(items) => format!("items({})", items.len()),
                })
                .collect();
            format!("Reconcile[{}]", parts.join(","))
        }
        Message::DocSync { doc, message } => match crate::untrusted::decode_sync_message(message) {
            Ok(m) => format!(
                "DocSync{{{doc}, {} B, heads:{}, need:{}, have:{}, changes:{}}}",
                message.len(),
                short_hashes(&m.heads),
                short_hashes(&m.need),
                m.have
                    .iter()
                    .map(|h| short_hashes(&h.last_sync))
                    .collect::<Vec<_>>()
                    .join("|"),
                m.changes.len()
            ),
            Err(_) => format!("DocSync{{{doc}, {} B, undecodable}}", message.len()),
        },
        Message::DocWhole { doc, bytes, .. } => format!("DocWhole{{{doc}, {} B}}", bytes.len()),
        Message::DocWant { docs } => format!("DocWant{{{}}}", docs.len()),
        Message::DocMissing { doc } => format!("DocMissing{{{doc}}}"),
        Message::DocDeleted { doc } => format!("DocDeleted{{{doc}}}"),
        Message::BlobWant { hashes } => format!("BlobWant{{{}}}", hashes.len()),
        Message::BlobHave { hashes } => format!("BlobHave{{{}}}", hashes.len()),
        Message::Close { code, reason } => format!("Close{{{code}, {reason:?}}}"),
        Message::Resume { cursor } => match cursor {
            Some(c) => format!("Resume{{seq:{}}}", c.seq),
            None => "Resume{none}".to_owned(),
        },
        Message::Resumed { complete } => format!("Resumed{{complete:{complete}}}"),
        Message::DocChanges { doc, bytes } => format!("DocChanges{{{doc}, {} B}}", bytes.len()),
        Message::Synced { cursor, set } => format!("Synced{{seq:{}, docs:{}}}", cursor.seq, set.count),
        Message::Held { count, refused } if refused.is_empty() => format!("Held{{{count}}}"),
        Message::Held { count, refused } => format!("Held{{{count}, refused {refused:?}}}"),
    }
}

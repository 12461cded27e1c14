//! Drives one reference [`Core`] through a recorded transcript: the setup (who
//! it is, whom it trusts, which documents it holds) and a list of steps
//! (connections, received bytes, timer ticks), observing after each step the
//! frames it sends and the close code it applies (HS-GATE-*, HS-VER-*, HS-FRAME-*).
//!
//! The core runs on the shared [`Host`] (the simulation's): its disk starts empty — the setup's
//! documents are index rows only, so loading one finds nothing — and keeps what the core saves.

use humansync_protocol::{
    ChangeHash, CloseCode, DeviceId, DocDigest, DocId, FrameDecoder, Message, SignedRecord,
};
use humansync_sansio::gate::Admission;
use humansync_sansio::testing::Host;
use humansync_sansio::{ConnId, Core, CoreConfig, DocMeta, Instant, IoResult, Output, Role, Startup};
use serde_json::{Value, json};

use crate::repr;

/// A transcript's setup as read from a vector.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) me: DeviceId,
    pub(crate) actor: Vec<u8>,
    pub(crate) anchor: Option<DeviceId>,
    pub(crate) records: Vec<SignedRecord>,
    pub(crate) docs: Vec<(DocId, Vec<ChangeHash>)>,
    /// The change-log epoch the acceptor runs with (HS-RESUME-1); a runtime draws one per start.
    pub(crate) epoch: u64,
    /// The heads digest of the acceptor's own `_devices` once `records` are in: what its
    /// Welcome announces. `None` only while a generator builds the setup; [`start`] fills it
    /// and checks it, so that a vector states the value instead of leaving it implied.
    pub(crate) devices_digest: Option<DocDigest>,
}

/// One input to the core.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A connection finished its TLS handshake with `peer`, which dialled us.
    Connect { at_ms: u64, conn: u64, peer: DeviceId },
    /// Bytes arrived on the session stream of `conn`.
    Receive { at_ms: u64, conn: u64, bytes: Vec<u8> },
    /// Timers are due.
    Timeout { at_ms: u64 },
}

/// The change-log epoch of every core the vectors drive (HS-RESUME-1).
pub(crate) const LOG_EPOCH: u64 = 0x4853_2d52_4553_554d;

/// A core built from `setup`, its start-up outputs drained. Fails when the setup states a
/// `devices_digest` other than the one the core's `_devices` has.
pub(crate) fn start(setup: &Setup) -> Result<Host, String> {
    let mut host = start_unchecked(setup)?;
    let actual = core(&mut host)?.digest(&DocId::devices()).unwrap_or_default();
    match setup.devices_digest {
        Some(stated) if stated != actual => Err(format!(
            "setup.devices_digest {stated} is not the digest of the acceptor's _devices ({actual})"
        )),
        _ => Ok(host),
    }
}

/// The host's running core.
fn core(host: &mut Host) -> Result<&mut Core, String> {
    host.core
        .as_mut()
        .ok_or_else(|| "the acceptor's core is not running".to_owned())
}

/// The `_devices` heads digest of the core `setup` builds.
pub(crate) fn devices_digest(setup: &Setup) -> Result<DocDigest, String> {
    let mut host = start_unchecked(setup)?;
    Ok(core(&mut host)?.digest(&DocId::devices()).unwrap_or_default())
}

fn start_unchecked(setup: &Setup) -> Result<Host, String> {
    let config = CoreConfig::new(setup.me, setup.actor.clone(), setup.anchor);
    let startup = Startup {
        index: setup
            .docs
            .iter()
            .map(|(doc, heads)| {
                let mut heads = heads.clone();
                heads.sort_unstable();
                (
                    doc.clone(),
                    DocMeta {
                        heads: heads.into_iter().collect(),
                        blobs: Box::default(),
                        tombstone: false,
                    },
                )
            })
            .collect(),
        devices_doc: None,
        local_blobs: Vec::new(),
        // Fixed by the vector, so that it is reproducible (a runtime draws one per start).
        log_epoch: setup.epoch,
        cursors: Vec::new(),
        pinned_blobs: Vec::new(),
        blob_ages: Vec::new(),
    };
    let now = Instant(0);
    let mut host = Host::new("acceptor", setup.me);
    let core = host.start(now, config, startup).map_err(|e| e.to_string())?;
    for record in &setup.records {
        core.add_registry_record(now, record).map_err(|e| e.to_string())?;
    }
    drain(&mut host, now)?;
    Ok(host)
}

/// Applies one step and returns what the core did, as JSON: `{"admission"?,
/// "frames": [..], "close": code|null, "disconnect"?}`.
pub(crate) fn apply(host: &mut Host, step: &Step) -> Result<Value, String> {
    let core = core(host)?;
    let (now, admission) = match step {
        Step::Connect { at_ms, conn, peer } => {
            let now = Instant(*at_ms);
            let verdict = core.handle_connection(now, ConnId(*conn), *peer, Role::Acceptor);
            (now, Some(verdict))
        }
        Step::Receive { at_ms, conn, bytes } => {
            let now = Instant(*at_ms);
            core.handle_bytes(now, ConnId(*conn), bytes);
            (now, None)
        }
        Step::Timeout { at_ms } => {
            let now = Instant(*at_ms);
            core.handle_timeout(now);
            (now, None)
        }
    };
    let observed = drain(host, now)?;
    let mut out = json!({"frames": observed.frames, "close": observed.close.map(|c| c.0)});
    if let Some(verdict) = admission {
        out["admission"] = match verdict {
            Admission::Admit => json!({"verdict": "admit"}),
            Admission::Reject(code) => json!({"verdict": "reject", "close_code": code.0}),
        };
    }
    if let Some(code) = observed.disconnect {
        out["disconnect"] = json!(code.0);
    }
    Ok(out)
}

#[derive(Default)]
struct Drained {
    frames: Vec<Value>,
    close: Option<CloseCode>,
    disconnect: Option<CloseCode>,
}

/// Drains every output, answering I/O at once from the host's disk, and
/// collects the frames sent and the close applied. A Close
/// message sent as the last frame with the close's own code is left out: it
/// MAY be sent (HS-CLOSE-2), so the vectors do not list it.
fn drain(host: &mut Host, now: Instant) -> Result<Drained, String> {
    let mut drained = Drained::default();
    let mut messages = Vec::new();
    let mut budget = 10_000;
    while let Some(output) = core(host)?.poll_output() {
        budget -= 1;
        if budget == 0 {
            return Err("the core kept producing outputs".to_owned());
        }
        match output {
            Output::Transmit { bytes, .. } => {
                let mut decoder = FrameDecoder::new();
                decoder.push(&bytes);
                while let Some(msg) = decoder
                    .next_message()
                    .map_err(|e| format!("the core sent an undecodable frame: {e}"))?
                {
                    messages.push(msg);
                }
            }
            Output::Close { code, .. } => drained.close = Some(code),
            Output::DisconnectPeer { code, .. } => drained.disconnect = Some(code),
            Output::Io(task) => {
                let result = host.disk(&task.action).unwrap_or_else(|| IoResult::Failed {
                    reason: "no blobs in transcripts".to_owned(),
                });
                core(host)?.handle_io_result(now, task.id, result);
            }
            // Transcripts make no app requests.
            Output::Event(_) | Output::AppDone { .. } => {}
            // Connection policy: nothing to dial or gate here.
            Output::Dial { .. } | Output::Gate(_) => {}
        }
    }
    drained.frames = frames_json(messages, drained.close);
    Ok(drained)
}

fn frames_json(mut frames: Vec<Message>, close: Option<CloseCode>) -> Vec<Value> {
    if let (Some(Message::Close { code, .. }), Some(close)) = (frames.last(), close)
        && *code == close
    {
        frames.pop();
    }
    frames.iter().map(repr::message).collect()
}

impl Setup {
    /// `{"me", "actor", "anchor", "records": [hex], "docs": [{"doc", "heads": [hex]}],
    /// "epoch", "devices_digest"}`.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "epoch": self.epoch,
            "devices_digest": self.devices_digest.map(|d| d.to_string()),
            "me": self.me.to_string(),
            "actor": hex::encode(&self.actor),
            "anchor": self.anchor.map(|a| a.to_string()),
            "records": self.records.iter().map(|r| hex::encode(r.encode())).collect::<Vec<_>>(),
            "docs": self.docs.iter().map(|(doc, heads)| json!({
                "doc": doc.as_str(),
                "heads": heads.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// Parses [`Setup::to_json`]'s form.
    pub(crate) fn from_json(v: &Value) -> Result<Setup, String> {
        let docs = list(&v["docs"], "docs")?
            .iter()
            .map(|d| {
                let doc = DocId::new(text(&d["doc"], "doc")?).map_err(|e| e.to_string())?;
                let heads = list(&d["heads"], "heads")?
                    .iter()
                    .map(|h| text(h, "head")?.parse::<ChangeHash>().map_err(|e| e.to_string()))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((doc, heads))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Setup {
            me: device(&v["me"], "me")?,
            actor: hex::decode(text(&v["actor"], "actor")?).map_err(|e| e.to_string())?,
            anchor: match &v["anchor"] {
                Value::Null => None,
                a => Some(device(a, "anchor")?),
            },
            records: list(&v["records"], "records")?
                .iter()
                .map(|r| {
                    let bytes = hex::decode(text(r, "record")?).map_err(|e| e.to_string())?;
                    SignedRecord::decode(&bytes).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?,
            docs,
            epoch: v["epoch"].as_u64().ok_or("setup without `epoch`")?,
            devices_digest: Some(
                text(&v["devices_digest"], "devices_digest")?
                    .parse()
                    .map_err(|e| format!("`devices_digest`: {e}"))?,
            ),
        })
    }
}

impl Step {
    /// `{"op": "connect", "at_ms", "conn", "peer"}`, `{"op": "receive", "at_ms",
    /// "conn", "bytes"}` or `{"op": "timeout", "at_ms"}`.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Step::Connect { at_ms, conn, peer } => {
                json!({"op": "connect", "at_ms": at_ms, "conn": conn, "peer": peer.to_string()})
            }
            Step::Receive { at_ms, conn, bytes } => {
                json!({"op": "receive", "at_ms": at_ms, "conn": conn, "bytes": hex::encode(bytes)})
            }
            Step::Timeout { at_ms } => json!({"op": "timeout", "at_ms": at_ms}),
        }
    }

    /// Parses [`Step::to_json`]'s form.
    pub(crate) fn from_json(v: &Value) -> Result<Step, String> {
        let at_ms = v["at_ms"].as_u64().ok_or("step without `at_ms`")?;
        let conn = || v["conn"].as_u64().ok_or("step without `conn`");
        match text(&v["op"], "op")? {
            "connect" => Ok(Step::Connect {
                at_ms,
                conn: conn()?,
                peer: device(&v["peer"], "peer")?,
            }),
            "receive" => Ok(Step::Receive {
                at_ms,
                conn: conn()?,
                bytes: hex::decode(text(&v["bytes"], "bytes")?).map_err(|e| e.to_string())?,
            }),
            "timeout" => Ok(Step::Timeout { at_ms }),
            other => Err(format!("unknown step op `{other}`")),
        }
    }
}

fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("`{what}` is not a string"))
}

fn list<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("`{what}` is not a list"))
}

fn device(v: &Value, what: &str) -> Result<DeviceId, String> {
    text(v, what)?.parse().map_err(|e| format!("`{what}`: {e}"))
}

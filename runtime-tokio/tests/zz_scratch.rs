mod node_support;
#[path = "../benches/sync/fixture.rs"]
#[allow(dead_code)]
mod fixture;
use node_support::*;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scratch() {
    let ds = tempfile::tempdir().unwrap();
    let dd = tempfile::tempdir().unwrap();
    let mut anchor = Anchor::new(9);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(ds.path().join("identity.key")).unwrap();
    f.write_all(&anchor.key.to_bytes()).unwrap();
    drop(f);
    let notes: Vec<_> = (0..200).map(fixture::note).collect();
    fixture::preload(ds.path(), &notes);
    let s = start(ds.path()).await;
    assert_eq!(s.id(), anchor.id());
    s.apply_pairing(anchor.pairing()).await.unwrap();
    s.open_doc("notes/a").await.unwrap().put("x", 1i64).await.unwrap();
    let d = start(dd.path()).await;
    anchor.register(d.id());
    s.apply_pairing(anchor.pairing()).await.unwrap();
    let mut p = anchor.pairing();
    p.server_addrs = s.addrs().iter().map(|a| a.to_string()).collect();
    eprintln!("server addrs {:?}", p.server_addrs);
    let mut ev = d.events();
    d.apply_pairing(p).await.unwrap();
    d.add_peer_addrs(s.id(), s.addrs()).await.unwrap();
    for _ in 0..20 {
        eprintln!("S {:?}\nD {:?}", s.sync_status().await, d.sync_status().await);
        while let Ok(e) = ev.try_recv() { eprintln!("EV {e:?}"); }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

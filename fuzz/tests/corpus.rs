//! Replays every committed corpus file through its target, on stable and without libFuzzer,
//! so that seeds and regressions stay green in `cargo test`.

use std::fs;
use std::path::Path;

use humansync_fuzz::targets::ALL;

#[test]
fn every_corpus_file_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for (name, run) in ALL {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("readable corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "target {name} has no corpus");
        for file in files {
            let data = fs::read(&file).expect("readable corpus file");
            eprintln!("{name}: {}", file.display());
            run(&data);
            replayed += 1;
        }
    }
    assert!(replayed >= ALL.len());
}

#[test]
fn every_target_has_a_fuzz_target_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz_targets");
    for (name, _) in ALL {
        assert!(
            root.join(format!("{name}.rs")).is_file(),
            "fuzz_targets/{name}.rs missing"
        );
    }
}

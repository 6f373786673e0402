//! `cargo run --release --example decode_floor -- DIR`: decodes every input
//! in DIR and nothing more, as the baseline of scripts/bench-ingest.sh.

#[path = "../benches/floor/mod.rs"]
mod floor;

fn main() {
    let mut touched = 0usize;
    let mut files = 0usize;
    for dir in std::env::args().skip(1) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("decode_floor: cannot read {dir}");
            std::process::exit(1);
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            match std::fs::read(path) {
                Ok(bytes) => {
                    touched += floor::decode_floor(&bytes);
                    files += 1;
                }
                Err(e) => {
                    eprintln!("decode_floor: {}: {e}", path.display());
                    std::process::exit(1);
                }
            }
        }
    }
    println!("decoded {files} inputs, {touched} bytes touched");
}

//! Embeds the shipped `kb/` folder so that `exhunt` works with no files beside it.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let kb = manifest.join("../../kb");
    println!("cargo:rerun-if-changed={}", kb.display());
    let mut files = Vec::new();
    walk(&kb, &mut files);
    let mut src = String::from(
        "/// Files of the shipped `kb/` folder: (path relative to `kb/`, contents).\npub static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&kb).expect("walked under kb").to_string_lossy().replace('\\', "/");
        let abs = f.canonicalize().expect("file exists");
        writeln!(src, "    ({rel:?}, include_str!({:?})),", abs.to_string_lossy()).expect("write to string");
    }
    src.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    std::fs::write(out, src).expect("write embedded.rs");
}

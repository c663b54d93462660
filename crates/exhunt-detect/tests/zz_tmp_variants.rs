#[test]
fn variants() {
    let (kb, _) = exhunt_kb::Kb::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kb"));
    let (rules, d) = exhunt_detect::FileRules::new(&kb);
    assert!(d.iter().all(|d| !d.is_error()), "{d:?}");
    let dir = std::env::var("VARIANTS").unwrap_or("/tmp/variants".into());
    let mut v: Vec<_> = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()).map(|e| e.path()).collect();
    v.sort();
    for p in v {
        let data = std::fs::read(&p).unwrap();
        let hits = rules.scan(Some(&p.to_string_lossy()), &data).unwrap();
        let ids: Vec<String> = hits.iter().map(|h| { let r = kb.rules.get(h.rule).unwrap(); format!("{}({},{})", h.rule, r.severity.as_str(), r.family.clone().unwrap_or_default()) }).collect();
        println!("{:<20} {}", p.file_name().unwrap().to_string_lossy(), ids.join(" "));
    }
}

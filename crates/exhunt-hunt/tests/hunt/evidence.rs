//! Evidence sources: triage folders (plain, KAPE, Velociraptor), drive roots, zips read in place.

use exhunt_hunt::evidence::{self, EvidenceSource, LayoutKind, OpenOptions, ZipLimits, ZipSource};
use std::io::{Read, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;

pub fn write(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

fn names(src: &dyn EvidenceSource, prefix: &str) -> Vec<(String, String)> {
    src.walk(prefix).map(|f| f.expect("readable")).map(|f| (f.windows_path, f.display)).collect()
}

fn read(src: &dyn EvidenceSource, windows_path: &str) -> Vec<u8> {
    let f = src.find(windows_path).expect("file present");
    let mut v = Vec::new();
    src.open(&f).expect("opens").read_to_end(&mut v).expect("reads");
    v
}

#[test]
fn kape_layout_with_two_drives() {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("kape");
    write(&base, "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", b"#Fields: date time\n");
    write(&base, "C/inetpub/wwwroot/aspnet_client/system_web/x.aspx", b"<%@ Page %>");
    write(&base, "D/Exchange/V15/Logging/HttpProxy/Ecp/HttpProxy_2021030301-1.LOG", b"DateTime\n");
    write(&base, "Console/log.txt", b"kape console");
    let src = evidence::open(&base, &OpenOptions::default()).expect("opens");
    let drives: Vec<(char, &str, LayoutKind)> =
        src.drives().iter().map(|d| (d.letter, d.display.as_str(), d.kind)).collect();
    assert_eq!(drives, [('C', "C", LayoutKind::DriveFolder), ('D', "D", LayoutKind::DriveFolder)]);
    assert_eq!(
        names(&*src, "c:/INETPUB"),
        [
            (
                "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log".into(),
                "C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log".into()
            ),
            (
                "C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\x.aspx".into(),
                "C/inetpub/wwwroot/aspnet_client/system_web/x.aspx".into()
            ),
        ]
    );
    assert_eq!(src.files().count(), 3, "the console log is not on a drive");
    let f = src.find("C:\\INETPUB\\WWWROOT\\ASPNET_CLIENT\\SYSTEM_WEB\\X.ASPX").expect("case-insensitive");
    assert_eq!((f.windows_path.as_str(), f.size), ("C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\x.aspx", 11));
    assert!(f.mtime.is_some());
    assert!(src.is_dir("d:\\exchange\\v15\\logging"));
    assert!(!src.is_dir("D:\\Exchange\\V15\\Logging\\HttpProxy\\Ecp\\HttpProxy_2021030301-1.LOG"));
    assert!(src.find("C:\\nope").is_none());
    assert_eq!(read(&*src, "C:\\inetpub\\wwwroot\\aspnet_client\\system_web\\x.aspx"), b"<%@ Page %>");
    // KAPE's target folder under a host folder.
    let src = evidence::open(t.path(), &OpenOptions::default()).expect("opens");
    assert_eq!(src.drives()[0].display, "kape/C");
    assert_eq!(names(&*src, "C:\\inetpub\\wwwroot")[0].1, "kape/C/inetpub/wwwroot/aspnet_client/system_web/x.aspx");
}

/// A Velociraptor collection: `auto` and `ntfs` accessors, percent-encoded names.
pub fn velociraptor(base: &Path) {
    write(base, "uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", b"auto copy");
    write(base, "uploads/auto/C%3A/inetpub/wwwroot/%2Ehidden.aspx", b"dot");
    write(base, "uploads/ntfs/%5C%5C.%5CC%3A/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", b"ntfs copy");
    write(base, "uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/config/SOFTWARE", b"hive");
    write(base, "uploads/ntfs/%5C%5C%3F%5CGLOBALROOT%5CDevice%5CHarddiskVolumeShadowCopy1/inetpub/x.log", b"vss");
    write(base, "results/Windows.KapeFiles.Targets%2FAll File Metadata.json", b"{}");
    write(base, "uploads.json", b"[]");
}

#[test]
fn velociraptor_layout() {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("Collection-EX01-2021-03-05");
    velociraptor(&base);
    let src = evidence::open(&base, &OpenOptions::default()).expect("opens");
    assert_eq!(src.drives().len(), 2);
    assert!(src.drives().iter().all(|d| d.kind == LayoutKind::Velociraptor && d.letter == 'C'));
    let all = names(&*src, "C:\\");
    assert_eq!(
        all,
        [
            (
                "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log".into(),
                "uploads/auto/C%3A/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log".into()
            ),
            ("C:\\inetpub\\wwwroot\\.hidden.aspx".into(), "uploads/auto/C%3A/inetpub/wwwroot/%2Ehidden.aspx".into()),
            (
                "C:\\Windows\\System32\\config\\SOFTWARE".into(),
                "uploads/ntfs/%5C%5C.%5CC%3A/Windows/System32/config/SOFTWARE".into()
            ),
        ],
        "one copy per Windows path (auto first), names decoded, no shadow copy"
    );
    assert_eq!(read(&*src, "C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log"), b"auto copy");
    assert_eq!(read(&*src, "c:\\inetpub\\wwwroot\\.HIDDEN.aspx"), b"dot");
}

#[test]
fn drive_roots_live_or_mounted() {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("mnt");
    write(&base, "Windows/System32/inetsrv/config/applicationHost.config", b"<configuration/>");
    write(&base, "inetpub/wwwroot/iisstart.htm", b"hi");
    write(&base, "Program Files/Microsoft/Exchange Server/V15/bin/x.dll", b"MZ");
    let src = evidence::open(&base, &OpenOptions::default()).expect("opens");
    assert_eq!(
        (src.drives()[0].letter, src.drives()[0].kind, src.drives()[0].display.as_str()),
        ('C', LayoutKind::DriveRoot, "")
    );
    assert_eq!(
        names(&*src, "C:\\inetpub"),
        [("C:\\inetpub\\wwwroot\\iisstart.htm".into(), "inetpub/wwwroot/iisstart.htm".into())]
    );
    let src = evidence::open(&base, &OpenOptions { drive: Some('e'), ..OpenOptions::default() }).expect("opens");
    assert!(src.find("E:\\inetpub\\wwwroot\\iisstart.htm").is_some());
    assert!(src.find("C:\\inetpub\\wwwroot\\iisstart.htm").is_none());
}

#[test]
fn a_folder_without_drives_is_refused_with_advice() {
    let t = tempfile::tempdir().expect("tempdir");
    write(t.path(), "logs/u_ex210303.log", b"x");
    let err = evidence::open(t.path(), &OpenOptions::default()).err().expect("refused");
    assert_eq!(err.code(), "H002");
    assert!(err.to_string().contains("--drive C"), "{err}");
    let err = evidence::open(&t.path().join("logs/u_ex210303.log"), &OpenOptions::default()).err().expect("refused");
    assert_eq!(err.code(), "H002");
    let err = evidence::open(&t.path().join("missing"), &OpenOptions::default()).err().expect("refused");
    assert_eq!(err.code(), "H001");
}

/// Zips the files of a folder (sorted names), deflated or stored alternately.
pub fn zip_folder(dir: &Path) -> Vec<u8> {
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (i, rel) in files.iter().enumerate() {
        let method = if i % 2 == 0 { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        w.start_file(rel.as_str(), SimpleFileOptions::default().compression_method(method)).expect("entry");
        w.write_all(&std::fs::read(dir.join(rel)).expect("read")).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            out.push(p.strip_prefix(root).expect("below").to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn zip_read_in_place_matches_the_folder() {
    let t = tempfile::tempdir().expect("tempdir");
    let base = t.path().join("Collection-EX01");
    velociraptor(&base);
    let zip_path = t.path().join("Collection-EX01.zip");
    std::fs::write(&zip_path, zip_folder(&base)).expect("write zip");
    let folder = evidence::open(&base, &OpenOptions::default()).expect("folder");
    let zipped = evidence::open(&zip_path, &OpenOptions::default()).expect("zip");
    assert_eq!(zipped.name(), zip_path.display().to_string());
    assert_eq!(names(&*folder, "C:\\"), names(&*zipped, "C:\\"), "same files, same order, same display paths");
    assert_eq!(zipped.drives(), folder.drives());
    for (w, _) in names(&*folder, "C:\\") {
        assert_eq!(read(&*folder, &w), read(&*zipped, &w));
    }
    assert!(zipped.is_dir("C:\\inetpub\\logs"));
    assert!(!zipped.is_dir("C:\\inetpub\\logs\\LogFiles\\W3SVC1\\u_ex210303.log"));
    assert!(zipped.errors().is_empty());
    let f = zipped.find("C:\\Windows\\System32\\config\\SOFTWARE").expect("present");
    assert_eq!((f.size, f.mtime), (4, None));
}

#[test]
fn zip_slip_names_are_refused_the_rest_is_read() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = SimpleFileOptions::default();
    for (name, body) in [
        ("C/inetpub/wwwroot/ok.aspx", "fine"),
        ("../evil.aspx", "up"),
        ("C/../../evil2.aspx", "up2"),
        ("/etc/cron.d/x", "abs"),
        ("C:/Windows/x.dll", "drive"),
    ] {
        w.start_file(name, o).expect("entry");
        w.write_all(body.as_bytes()).expect("write");
    }
    let bytes = w.finish().expect("finish").into_inner();
    let src = ZipSource::from_bytes("slip.zip", bytes, &OpenOptions::default()).expect("opens");
    let refused: Vec<(&str, &str)> =
        src.errors().iter().map(|e| (e.code.as_deref().unwrap_or(""), e.message.as_str())).collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused.iter().all(|(c, _)| *c == "H005"));
    assert!(refused[0].1.contains("`../evil.aspx`") && refused[0].1.contains("refused"), "{}", refused[0].1);
    assert_eq!(names(&src, "C:\\"), [("C:\\inetpub\\wwwroot\\ok.aspx".into(), "C/inetpub/wwwroot/ok.aspx".into())]);
}

fn zeros_zip(n: usize) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("C/inetpub/logs/LogFiles/W3SVC1/zeros.log", o).expect("entry");
    w.write_all(&vec![0u8; n]).expect("write");
    w.start_file("C/inetpub/logs/LogFiles/W3SVC1/u_ex210303.log", o).expect("entry");
    w.write_all(b"#Fields: date time\n").expect("write");
    w.finish().expect("finish").into_inner()
}

#[test]
fn zip_bombs_are_refused() {
    // An entry of 8 MiB of zeros compresses about 1000:1.
    let bytes = zeros_zip(8 << 20);
    let src = ZipSource::from_bytes("ratio.zip", bytes.clone(), &OpenOptions::default()).expect("the archive opens");
    assert_eq!(src.errors().len(), 1);
    assert_eq!(src.errors()[0].code.as_deref(), Some("H004"));
    assert!(src.errors()[0].message.contains("zeros.log"), "{}", src.errors()[0].message);
    assert_eq!(src.walk("C:\\").count(), 1, "the other entry is still read");

    let tight = |zip: ZipLimits| OpenOptions { zip, ..OpenOptions::default() };
    let err =
        ZipSource::from_bytes("count.zip", bytes.clone(), &tight(ZipLimits { max_entries: 1, ..ZipLimits::default() }))
            .expect_err("refused");
    assert_eq!(err.code(), "H004");
    assert!(err.to_string().contains("2 entries"), "{err}");
    let err = ZipSource::from_bytes(
        "total.zip",
        bytes,
        &tight(ZipLimits { max_total_uncompressed: 1 << 20, ..ZipLimits::default() }),
    )
    .expect_err("refused");
    assert_eq!(err.code(), "H004");

    // Many entries sharing one compressed block (the "better zip bomb").
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("C/a.log", SimpleFileOptions::default()).expect("entry");
    w.write_all(b"shared data").expect("write");
    w.shallow_copy_file("C/a.log", "C/b.log").expect("copy");
    let bytes = w.finish().expect("finish").into_inner();
    let err = ZipSource::from_bytes("overlap.zip", bytes, &OpenOptions::default()).expect_err("refused");
    assert_eq!(err.code(), "H004");
    assert!(err.to_string().contains("overlapping"), "{err}");
}

#[test]
fn damaged_zip_data_is_an_error_at_read_time() {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("C/x.log", SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored))
        .expect("entry");
    w.write_all(b"0123456789abcdef").expect("write");
    let mut bytes = w.finish().expect("finish").into_inner();
    let at = bytes.windows(4).position(|x| x == b"0123").expect("stored data");
    bytes[at] = b'X';
    let src = ZipSource::from_bytes("crc.zip", bytes, &OpenOptions::default()).expect("opens");
    let f = src.find("C:\\x.log").expect("present");
    let mut out = Vec::new();
    let err = src.open(&f).expect("opens").read_to_end(&mut out).expect_err("CRC mismatch");
    assert!(err.to_string().contains("CRC-32"), "{err}");
    assert!(ZipSource::from_bytes("junk.zip", b"PK\x03\x04junk".to_vec(), &OpenOptions::default()).is_err());
}

#[test]
fn a_zip_of_exports_without_a_drive_is_loose_evidence() {
    let zip_of = |entries: &[(&str, &str)]| {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in entries {
            w.start_file(*name, SimpleFileOptions::default()).expect("entry");
            w.write_all(body.as_bytes()).expect("write");
        }
        w.finish().expect("finish").into_inner()
    };
    let bytes = zip_of(&[
        ("export/security.ndjson", "{\"winlog\":{\"channel\":\"Security\",\"event_id\":4720}}\n"),
        ("export/iis/u_ex210303.log", "#Software: Microsoft Internet Information Services 10.0\n#Fields: date time\n"),
        ("README.txt", "sent by the admin"),
    ]);
    let src = ZipSource::from_bytes("export.zip", bytes, &OpenOptions::default()).expect("loose evidence opens");
    assert_eq!(src.drives()[0].kind, LayoutKind::Loose);
    assert_eq!(src.drives()[0].letter, 'C');
    assert!(src.find("C:\\export\\security.ndjson").is_some());
    assert!(src.find("C:\\export\\iis\\u_ex210303.log").is_some());
    // Nothing recognised by content: still refused.
    let bytes = zip_of(&[("notes.txt", "hello"), ("data.json", "[1,2]"), ("x.log", "no header")]);
    let err = ZipSource::from_bytes("other.zip", bytes, &OpenOptions::default()).expect_err("refused");
    assert_eq!(err.code(), "H002");
}

//! A minimal writer of registry hive files (regf), for tests: keys with ASCII names, `REG_SZ` and `REG_DWORD`
//! values. Layout after the "Windows NT Registry File (REGF) format" notes of libregf and of msuhanov/regf: a
//! 4096-byte base block, then hive bins of cells (`nk` keys, `li` subkey lists, value lists, `vk` values, data).

pub enum Value {
    Sz(&'static str),
    Dword(u32),
}

pub struct Key {
    pub name: &'static str,
    pub values: Vec<(&'static str, Value)>,
    pub subkeys: Vec<Key>,
}

impl Key {
    pub fn new(name: &'static str) -> Key {
        Key { name, values: Vec::new(), subkeys: Vec::new() }
    }

    pub fn sub(mut self, k: Key) -> Key {
        self.subkeys.push(k);
        self
    }

    pub fn value(mut self, name: &'static str, v: Value) -> Key {
        self.values.push((name, v));
        self
    }
}

/// Hive bin data; offsets are relative to the start of the first hive bin.
struct Bins {
    data: Vec<u8>,
}

impl Bins {
    /// Appends an allocated cell holding `body`; returns its offset.
    fn cell(&mut self, body: &[u8]) -> u32 {
        let off = self.data.len() as u32;
        let size = (4 + body.len()).div_ceil(8) * 8;
        self.data.extend_from_slice(&(-(size as i32)).to_le_bytes());
        self.data.extend_from_slice(body);
        self.data.resize(off as usize + size, 0);
        off
    }

    fn patch_u32(&mut self, at: usize, v: u32) {
        self.data[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Writes a key and everything below it; returns the key's offset.
    fn key(&mut self, k: &Key, parent: u32, root: bool) -> u32 {
        let mut nk = vec![0u8; 0x4c];
        nk[..2].copy_from_slice(b"nk");
        let flags: u16 = if root { 0x2c } else { 0x20 };
        nk[2..4].copy_from_slice(&flags.to_le_bytes());
        nk[0x10..0x14].copy_from_slice(&parent.to_le_bytes());
        nk[0x14..0x18].copy_from_slice(&(k.subkeys.len() as u32).to_le_bytes());
        for at in [0x1c, 0x20, 0x28, 0x2c, 0x30] {
            nk[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        nk[0x24..0x28].copy_from_slice(&(k.values.len() as u32).to_le_bytes());
        nk[0x48..0x4a].copy_from_slice(&(k.name.len() as u16).to_le_bytes());
        nk.extend_from_slice(k.name.as_bytes());
        let me = self.cell(&nk);
        let body = me as usize + 4;

        if !k.values.is_empty() {
            let mut offsets = Vec::new();
            for (name, v) in &k.values {
                let mut vk = vec![0u8; 0x14];
                vk[..2].copy_from_slice(b"vk");
                vk[2..4].copy_from_slice(&(name.len() as u16).to_le_bytes());
                let (size, data_off, ty) = match v {
                    Value::Dword(d) => (4u32 | 0x8000_0000, *d, 4u32),
                    Value::Sz(s) => {
                        let mut utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                        utf16.extend_from_slice(&[0, 0]);
                        let off = self.cell(&utf16);
                        (utf16.len() as u32, off, 1u32)
                    }
                };
                vk[4..8].copy_from_slice(&size.to_le_bytes());
                vk[8..12].copy_from_slice(&data_off.to_le_bytes());
                vk[12..16].copy_from_slice(&ty.to_le_bytes());
                vk[16..18].copy_from_slice(&1u16.to_le_bytes());
                vk.extend_from_slice(name.as_bytes());
                offsets.push(self.cell(&vk));
            }
            let list: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
            let l = self.cell(&list);
            self.patch_u32(body + 0x28, l);
        }
        if !k.subkeys.is_empty() {
            let children: Vec<u32> = k.subkeys.iter().map(|s| self.key(s, me, false)).collect();
            let mut li = b"li".to_vec();
            li.extend_from_slice(&(children.len() as u16).to_le_bytes());
            for c in children {
                li.extend_from_slice(&c.to_le_bytes());
            }
            let l = self.cell(&li);
            self.patch_u32(body + 0x1c, l);
        }
        me
    }
}

/// The bytes of a primary hive file holding `root`.
pub fn hive(root: &Key) -> Vec<u8> {
    let mut bins = Bins { data: vec![0u8; 32] };
    let root_off = bins.key(root, 0, true);
    let size = bins.data.len().div_ceil(4096) * 4096;
    // The rest of the bin is one free cell.
    let used = bins.data.len();
    bins.data.resize(size, 0);
    if size > used {
        bins.patch_u32(used, (size - used) as u32);
    }
    bins.data[..4].copy_from_slice(b"hbin");
    bins.patch_u32(8, size as u32);

    let mut base = vec![0u8; 4096];
    base[..4].copy_from_slice(b"regf");
    let put = |b: &mut Vec<u8>, at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put(&mut base, 0x04, 1);
    put(&mut base, 0x08, 1);
    put(&mut base, 0x14, 1);
    put(&mut base, 0x18, 5);
    put(&mut base, 0x1c, 0);
    put(&mut base, 0x20, 1);
    put(&mut base, 0x24, root_off);
    put(&mut base, 0x28, size as u32);
    put(&mut base, 0x2c, 1);
    let mut sum = 0u32;
    for i in 0..127 {
        sum ^= u32::from_le_bytes([base[i * 4], base[i * 4 + 1], base[i * 4 + 2], base[i * 4 + 3]]);
    }
    let sum = match sum {
        0xffff_ffff => 0xffff_fffe,
        0 => 1,
        s => s,
    };
    put(&mut base, 0x1fc, sum);
    base.extend_from_slice(&bins.data);
    base
}

/// A SOFTWARE hive with Exchange's setup key.
pub fn software_hive(install: &'static str, build: [u32; 4]) -> Vec<u8> {
    let setup = Key::new("Setup")
        .value("MsiInstallPath", Value::Sz(install))
        .value("MsiProductMajor", Value::Dword(build[0]))
        .value("MsiProductMinor", Value::Dword(build[1]))
        .value("MsiBuildMajor", Value::Dword(build[2]))
        .value("MsiBuildMinor", Value::Dword(build[3]));
    let root = Key::new("ROOT").sub(
        Key::new("Microsoft")
            .sub(Key::new("ExchangeServer").sub(Key::new("v15").sub(setup)))
            .sub(Key::new("Windows NT")),
    );
    hive(&root)
}

#[test]
fn notatin_reads_the_written_hive() {
    let bytes = software_hive("E:\\Exchange\\V15\\", [15, 1, 2176, 2]);
    let v = exhunt_hunt::discover::hive::read_setup(bytes, Vec::new()).expect("parses").expect("has the key");
    assert_eq!(v.install_path.as_deref(), Some("E:\\Exchange\\V15\\"));
    assert_eq!(v.build, Some(exhunt_model::Build::new(15, 1, 2176, 2)));
    assert_eq!(v.key, "Microsoft\\ExchangeServer\\v15\\Setup");
    let none = exhunt_hunt::discover::hive::read_setup(hive(&Key::new("ROOT").sub(Key::new("Microsoft"))), Vec::new());
    assert_eq!(none, Ok(None));
    let garbage = exhunt_hunt::discover::hive::read_setup(b"regf but not a hive".to_vec(), Vec::new());
    assert!(garbage.is_err());
}

//! IIS `applicationHost.config`: any bytes, then every path expanded.
#![no_main]

use exhunt_hunt::discover::apphost::{self, Env};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cfg) = apphost::parse("applicationHost.config", data) else { return };
    let env =
        Env { system_drive: 'C', exchange_install: Some("C:\\Program Files\\Microsoft\\Exchange Server\\V15".into()) };
    for site in &cfg.sites {
        let _ = env.expand(&site.log_folder(&cfg));
        for app in &site.applications {
            for vd in &app.virtual_directories {
                let _ = env.expand(&vd.physical_path);
            }
        }
    }
});

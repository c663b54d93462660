//! Shards × workers cover every non-blocked target exactly once and never a blocked one.

use exhunt_model::net::IpNet;
use exhunt_scan::target::{Item, ShardIter};
use exhunt_scan::{Blocklist, TargetSet};
use proptest::prelude::*;
use std::collections::BTreeMap;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn shards_and_workers_partition_the_unblocked_targets(
        seed in any::<u64>(),
        shards in 1u64..6,
        workers in 1u64..5,
        base in 0u32..250,
        prefix in 22u32..=30,
        extra in proptest::collection::vec(0u32..256, 0..6),
        nports in 1usize..3,
        block_at in 0u32..1024,
        block_len in 24u32..=32,
    ) {
        // Documentation ranges only; nothing is sent, this walks indices.
        let mut set = TargetSet::new((0..nports).map(|i| 443 + i as u16).collect());
        let net = format!("198.18.{}.0/{prefix}", base % 250);
        set.add(&net).expect("net");
        for e in &extra {
            set.add(&format!("203.0.113.{e}")).expect("one");
        }
        let mut block = Blocklist::new(true);
        let b = format!("198.18.{}.{}/{block_len}", (base + block_at / 256) % 256, block_at % 256);
        block.add(IpNet::parse_truncating(&b).expect("b"), &b);
        block.add(IpNet::parse_truncating("203.0.113.7").expect("b"), "203.0.113.7");
        let mut want: BTreeMap<(String, u16), u32> = BTreeMap::new();
        for i in 0..set.len() {
            let (t, _) = set.get(i);
            if !block.contains(t.ip) {
                *want.entry((t.ip.to_string(), t.port)).or_default() += 1;
            }
        }
        let mut got: BTreeMap<(String, u16), u32> = BTreeMap::new();
        for s in 0..shards {
            for w in 0..workers {
                for item in ShardIter::worker(&set, &block, seed, s, shards, w, workers).expect("iter") {
                    match item {
                        Item::Scan { target, .. } => {
                            prop_assert!(!block.contains(target.ip));
                            *got.entry((target.ip.to_string(), target.port)).or_default() += 1;
                        }
                        Item::Blocked(t) => prop_assert!(block.contains(t.ip)),
                    }
                }
            }
        }
        prop_assert_eq!(got, want);
    }
}

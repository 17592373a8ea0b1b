//! Finds DPDK with pkg-config, compiles the C shim in `dpdk/` and generates
//! bindings with an allow-list. Does nothing when the `dpdk` feature is off.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=dpdk/shim.h");
    println!("cargo:rerun-if-changed=dpdk/shim.c");
    if std::env::var_os("CARGO_FEATURE_DPDK").is_none() {
        return;
    }
    let lib = match pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
    {
        Ok(lib) => lib,
        Err(e) => panic!(
            "DPDK not found by pkg-config ({e}). Install it: apt-get install -y dpdk libdpdk-dev \
             libclang-dev pkg-config, or build without DPDK: --no-default-features"
        ),
    };
    // pkg-config gives `-Wl,--as-needed -lrte_...`; DPDK's drivers are loaded
    // as plugins at run time from the EAL's driver directory, so linking the
    // libraries is enough here.
    // The shim and bindgen build for the CPU baseline DPDK itself was
    // built for (its pkg-config flags say `-march=corei7` on Debian), so a
    // binary built here runs on any CPU DPDK runs on. LAS_MARCH overrides
    // it (`LAS_MARCH=native` for this host's CPU only).
    println!("cargo:rerun-if-env-changed=LAS_MARCH");
    let march = std::env::var("LAS_MARCH")
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(dpdk_march);
    let march = format!("-march={march}");
    let mut cc = cc::Build::new();
    cc.file("dpdk/shim.c").flag(&march).warnings(false);
    for p in &lib.include_paths {
        cc.include(p);
    }
    for (k, v) in &lib.defines {
        cc.define(k, v.as_deref());
    }
    cc.compile("las_shim");

    let mut builder = bindgen::Builder::default()
        .header("dpdk/shim.h")
        .clang_arg(&march)
        .allowlist_function("las_.*")
        .allowlist_function("rte_eal_init|rte_eal_cleanup|rte_eal_remote_launch|rte_eal_wait_lcore|rte_eal_mp_wait_lcore")
        .allowlist_function("rte_lcore_count|rte_get_main_lcore|rte_get_tsc_hz|rte_socket_id|rte_lcore_to_socket_id|rte_strerror|rte_version")
        .allowlist_function("rte_pktmbuf_pool_create|rte_mempool_free|rte_mempool_avail_count|rte_mempool_in_use_count")
        .allowlist_function("rte_pktmbuf_copy|rte_pktmbuf_clone|rte_pktmbuf_free_bulk")
        .allowlist_function("rte_eth_dev_count_avail|rte_eth_dev_get_port_by_name|rte_eth_dev_info_get|rte_eth_dev_configure|rte_eth_rx_queue_setup|rte_eth_tx_queue_setup|rte_eth_dev_start|rte_eth_dev_stop|rte_eth_dev_close|rte_eth_macaddr_get|rte_eth_promiscuous_enable|rte_eth_allmulticast_enable|rte_eth_stats_get|rte_eth_dev_set_mtu|rte_eth_dev_adjust_nb_rx_tx_desc|rte_eth_dev_socket_id|rte_eth_link_get_nowait|rte_eth_dev_default_mac_addr_set")
        .allowlist_function("rte_ring_create|rte_ring_free")
        .allowlist_function("rte_telemetry_register_cmd|rte_tel_data_.*|rte_eal_get_runtime_dir")
        .allowlist_function("rte_ip_frag_table_create|rte_ip_frag_table_destroy|rte_ipv4_frag_reassemble_packet|rte_ipv6_frag_reassemble_packet|rte_ipv4_fragment_packet|rte_ip_frag_free_death_row|rte_ip_frag_table_del_expired_entries")
        .allowlist_type("rte_mbuf|rte_ip_frag_death_row|rte_ip_frag_tbl|rte_ipv4_hdr|rte_ipv6_hdr|rte_ipv6_fragment_ext|rte_eth_conf|rte_eth_dev_info|rte_eth_stats|rte_ether_addr|rte_eth_link|rte_eth_rxconf|rte_eth_txconf")
        .allowlist_type("rte_tel_value_type")
        .allowlist_var("RTE_ETH_.*|RTE_MBUF_DEFAULT_.*|RTE_PKTMBUF_HEADROOM|RTE_MAX_LCORE|RING_F_.*|RTE_MBUF_F_.*|SOCKET_ID_ANY|LCORE_ID_ANY|RTE_TEL_MAX_.*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for p in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", p.display()));
    }
    let bindings = builder.generate().expect("bindgen failed on dpdk/shim.h");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    bindings
        .write_to_file(out.join("dpdk_sys.rs"))
        .expect("cannot write bindings");
}

/// The `-march` of DPDK's own pkg-config CFLAGS (its build baseline),
/// else x86-64-v2 (SSE4.2, what DPDK 22.11 needs at least on x86).
fn dpdk_march() -> String {
    let out = std::process::Command::new("pkg-config")
        .args(["--cflags-only-other", "libdpdk"])
        .output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .find_map(|f| f.strip_prefix("-march=").map(str::to_owned))
        })
        .unwrap_or_else(|| "x86-64-v2".to_string())
}

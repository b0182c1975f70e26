# evloop: every command lives here. `just` lists them.

# List the recipes.
default:
    @just --list

# What CI runs (.ci/run calls the same steps).
ci: lint docs test demo

# All tests: unit, integration, proptest models, doctests (the README's test command).
test:
    cargo test --workspace

# Formatting and clippy, warnings are errors.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Rustdoc with warnings as errors.
docs:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# The README's demo.
demo:
    cargo run -p evloop --example demo

# Run every example in tour order.
examples:
    for e in 01_call_soon 02_call_later 03_tasks 04_threadsafe_s3 05_gather_s1 06_thread_pool_s7 07_shared_pool_s8 08_blocking_http_s9 09_process_pool_s10 10_process_timeout 11_pool_lifecycle_s14 12_context_s11 13_semaphore 14_wait_s2 15_task_group 16_semaphore_limit_s6 17_echo_server 18_echo_client 19_chat_server 20_ctrl_c_s5 21_hyper_server 22_slow_log_sink_s12 demo; do cargo run -q --release -p evloop --features hyper --example $e || exit 1; done

# Side-by-side benchmarks against tokio and smol (writes nothing; copy the table to docs/benchmarks.md).
bench *ARGS:
    cargo bench -p evloop-benches -- {{ARGS}}

# The network benchmarks alone (servers on evloop, tokio and smol; the `netload` client), e.g. `just bench-net echo`.
bench-net *ARGS:
    cargo bench -p evloop-benches --bench net -- {{ARGS}}

# Longer proptest runs of every model (CI runs a small number of cases).
soak cases="5000":
    PROPTEST_CASES={{cases}} cargo test --release -p evloop --lib timer_queue
    PROPTEST_CASES={{cases}} cargo test --release -p evloop --lib wait_list
    PROPTEST_CASES={{cases}} cargo test --release -p evloop-tests --test integration props_

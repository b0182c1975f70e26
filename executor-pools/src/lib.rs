//! # evloop-pools: thread and process pools in the manner of `concurrent.futures`
//!
//! This crate will hold `ThreadPool` (ThreadPoolExecutor) and `ProcessPool`
//! (ProcessPoolExecutor), usable on their own and behind `run_in_executor` / `to_thread` in
//! `evloop`. It deliberately does not depend on `evloop`.
//!
//! Status: skeleton. The pools arrive with their own issue; until then this crate only fixes
//! its place in the workspace (see `docs/architecture.md`).

#![forbid(unsafe_code)]

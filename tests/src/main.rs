//! The evloop integration suite: one binary, one module per behaviour.
//!
//! Every test that runs a loop goes through `util::deadline` (or `util::exclusive` when it
//! counts threads and file descriptors), so a hang fails in seconds. Time-based assertions
//! use the virtual clock where time is the subject, and generous margins otherwise.

#[allow(dead_code)] // TEMP until the debug tests land
mod log_capture;
mod util;

mod call_soon;
mod cancel;
mod context;
mod docs_sync;
mod errors;
mod executor;
mod gather;
mod hyper_rt;
mod hyper_server;
mod io_budget;
mod lifecycle;
mod loop_thread;
mod metrics;
mod metrics_threads;
mod net_edges;
mod net_emfile;
mod net_flood;
mod net_futures_io;
mod net_readiness;
mod net_tcp;
mod net_udp_unix;
mod net_util;
mod panics;
mod pool_functions;
mod process_faults;
mod process_leaks;
mod process_pool;
mod props_combinators;
mod props_combinators_model;
mod props_metrics;
mod props_net;
mod props_process_pool;
mod props_queue;
mod props_queue_model;
mod props_scheduler;
mod props_scheduler_model;
mod props_signals;
mod props_sync;
mod props_sync_condition_model;
mod props_sync_model;
mod props_task_group;
mod props_task_group_model;
mod props_tasks;
mod props_tasks_model;
mod props_thread_pool;
mod props_thread_pool_model;
mod props_threadsafe;
mod reactor;
mod run;
mod scenarios;
mod scenarios_net;
mod scenarios_pools;
mod scenarios_toolkit;
mod signals;
mod signals_ctrl_c;
mod sync_condition;
mod sync_event;
mod sync_lock;
mod sync_queue;
mod sync_queue_waiters;
mod sync_semaphore;
mod task_group;
mod task_group_scoped;
mod task_group_spawn;
mod tasks;
mod thread_pool;
mod thread_pool_handles;
mod thread_pool_queue;
mod thread_pool_shutdown;
mod threads;
mod threadsafe;
mod threadsafe_task;
mod timeout;
mod timers;
mod timers_cancel;
mod trace;
mod trace_recorder;
mod wait;

#!/usr/bin/env python3
"""Write a hand-made evloop trace in Chrome's trace-event JSON, to develop the screenshot tool with.

What it owns: a deterministic sample of what evloop's trace recorder is meant to write (one
process, a "loop" thread and three default-executor threads "evloop-default-0/1/2"), using
every event kind the recorder writes: `M` metadata (process_name, thread_name, thread_sort_index),
`X` complete slices (ts and dur in microseconds), `i` instants, and flow events `s` -> `t` -> `f`
(`bp: "e"` on `f`) that follow a `run_in_executor` job from the loop slice that submitted it to
the worker slice that ran it and back to the loop slice that delivered its result.

What it does not do: it is not evloop's recorder and proves nothing about it; it only gives the
viewer something realistic to draw.

Invariants: the output is the same on every run (fixed seed); every flow step lies strictly
inside the slice it must bind to (flows bind to the enclosing slice on their thread); slices on
one thread never overlap.

Usage: python3 docs/tools/sample_trace.py [OUT.json]   (default: sample_trace.json here)
"""

import json
import random
import sys

PID = 1
LOOP_TID = 1
WORKER_TIDS = [2, 3, 4]


def meta(name, tid, args):
    """One `ph: "M"` metadata event."""
    return {"ph": "M", "pid": PID, "tid": tid, "name": name, "args": args}


def make_trace(seed=7):
    """Build the trace object: the loop's iterations, the worker jobs and the flows between them."""
    rng = random.Random(seed)
    events = [
        meta("process_name", LOOP_TID, {"name": "evloop demo (pid 4242)"}),
        meta("thread_name", LOOP_TID, {"name": "loop"}),
        meta("thread_sort_index", LOOP_TID, {"sort_index": 0}),
    ]
    for i, tid in enumerate(WORKER_TIDS):
        events.append(meta("thread_name", tid, {"name": f"evloop-default-{i}"}))
        events.append(meta("thread_sort_index", tid, {"sort_index": i + 1}))

    def slice_(tid, name, ts, dur, cat="loop", args=None):
        ev = {"ph": "X", "pid": PID, "tid": tid, "cat": cat, "name": name, "ts": ts, "dur": dur}
        if args:
            ev["args"] = args
        events.append(ev)

    def flow(ph, tid, ts, job_id):
        ev = {"ph": ph, "pid": PID, "tid": tid, "cat": "executor", "name": "run_in_executor",
              "id": job_id, "ts": ts}
        if ph == "f":
            ev["bp"] = "e"
        events.append(ev)

    # Plan the jobs: (submitted at about, duration) in microseconds; each goes to the first free worker.
    job_plan = [(3_000, 32_000), (9_000, 18_000), (14_000, 45_000), (30_000, 12_000),
                (52_000, 26_000), (60_000, 40_000), (71_000, 15_000), (95_000, 22_000)]
    worker_free = {tid: 0 for tid in WORKER_TIDS}
    pending = []  # (done_at, job_id), results waiting for the loop to deliver them
    next_job = 0
    t = 500
    end = 130_000
    task_lines = {1: 12, 2: 27, 3: 12, 4: 41, 5: 58}
    iteration = 0

    while t < end:
        iteration += 1
        # Phase: poll. Wait until the next timer or a worker's wakeup, at most 5 ms.
        wait = rng.choice([300, 800, 1_500, 2_000, 3_000, 5_000])
        if pending:
            wait = max(100, min(wait, min(d for d, _ in pending) - t))
        slice_(LOOP_TID, f"poll (wait {wait / 1000:g} ms)", t, wait, cat="reactor",
               args={"timeout_ms": wait / 1000, "events": 1 if pending else 0})
        t += wait + 40

        # Phase: deliver results of finished jobs (flow step `f`, bound to this enclosing slice).
        for done_at, job_id in sorted(pending):
            if done_at <= t:
                dur = rng.randint(60, 180)
                slice_(LOOP_TID, f"callback (job {job_id} result)", t, dur,
                       args={"source": "runtime/src/executor.rs:88"})
                flow("f", LOOP_TID, t + dur // 2, job_id)
                pending.remove((done_at, job_id))
                t += dur + 20

        # Phase: run the ready queue: a few tasks and callbacks.
        for _ in range(rng.randint(2, 4)):
            if next_job < len(job_plan) and job_plan[next_job][0] <= t:
                # A task that submits a job: flow step `s` inside it.
                job_id = next_job + 1
                dur = rng.randint(200, 450)
                slice_(LOOP_TID, f"task 3 (src/main.rs:12)", t, dur,
                       args={"task": 3, "submits_job": job_id})
                flow("s", LOOP_TID, t + dur // 2, job_id)
                tid = min(WORKER_TIDS, key=lambda w: worker_free[w])
                start = max(worker_free[tid], t + dur) + rng.randint(30, 120)
                jdur = job_plan[next_job][1]
                slice_(tid, f"job {job_id} (src/main.rs:20)", start, jdur, cat="executor",
                       args={"job": job_id, "queued_us": start - t})
                flow("t", tid, start + 50, job_id)
                worker_free[tid] = start + jdur + 200
                pending.append((start + jdur + rng.randint(40, 150), job_id))
                next_job += 1
                t += dur + 25
            elif rng.random() < 0.5:
                task = rng.choice(list(task_lines))
                dur = rng.randint(40, 400)
                slice_(LOOP_TID, f"task {task} (src/main.rs:{task_lines[task]})", t, dur,
                       args={"task": task})
                t += dur + 25
            else:
                dur = rng.randint(20, 150)
                slice_(LOOP_TID, "callback", t, dur, args={"source": "src/main.rs:33"})
                t += dur + 25

        # Now and then one slow callback, with the debug-mode warning as an instant.
        if iteration in (9, 23):
            dur = 2_600
            slice_(LOOP_TID, "callback (slow)", t, dur, args={"source": "src/main.rs:47"})
            events.append({"ph": "i", "pid": PID, "tid": LOOP_TID, "cat": "debug", "s": "t",
                           "name": "slow callback (2.6 ms > 100 us)", "ts": t + dur})
            t += dur + 25

    return {"traceEvents": events, "displayTimeUnit": "ms"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "sample_trace.json"
    with open(out, "w") as f:
        json.dump(make_trace(), f, indent=0)
        f.write("\n")
    print(out)


if __name__ == "__main__":
    main()

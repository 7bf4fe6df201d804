// engine/core/ordered_jobs.h: run independent jobs a few at a time and take
// their results in order.
//
// An image's layers are independent: each is read, encrypted or decrypted
// through its own pipeline (pipeline.h) and written to its own blob. While
// one layer's pipeline waits (a small layer's inline run, the fsync that
// commits a blob), another can use the cores. run_ordered runs the jobs on
// up to `jobs` threads and hands each result to the caller in index order,
// on the calling thread, so whatever the caller builds from them (a
// manifest, a report, progress lines) is the same as in a sequential run.
//
// Memory stays bounded: at most `jobs` jobs run at once, and each layer
// pipeline bounds its own buffers.
//
// Why plain threads and not oneTBB tasks: a job blocks (reading a file,
// fsync when it commits a blob) and runs a oneTBB pipeline of its own. A
// blocked task holds one of oneTBB's few workers (two on a 2-core node),
// and a worker waiting inside a job's pipeline may pick up another job's
// outer task, nesting a whole layer under a wait and so delaying the
// pipeline that was waiting. Threads of their own (at most `jobs`, default
// 2) block without taking anything from the pipelines, which keep every
// oneTBB worker for the data path.
//
// Errors: after any job or `done` fails, no further job is started; the jobs
// already running finish, and run_ordered returns the failure of the
// lowest index (what a sequential run would have returned first).
#ifndef LAYERCRYPT_ENGINE_CORE_ORDERED_JOBS_H_
#define LAYERCRYPT_ENGINE_CORE_ORDERED_JOBS_H_

#include <cstddef>
#include <functional>

#include "engine/core/status.h"

namespace layercrypt {

// run_ordered calls work(k) for k in [0, n), up to `jobs` at a time (1 or 0:
// one after another on the calling thread), and done(k) on the calling
// thread, in order of k, once work(k) has returned OK. Returns OK if every
// call did, else the first failure in index order (see the file comment).
// `work` must be safe to call concurrently for different k.
Status run_ordered(size_t n, size_t jobs, const std::function<Status(size_t)>& work,
                   const std::function<Status(size_t)>& done);

}  // namespace layercrypt

#endif  // LAYERCRYPT_ENGINE_CORE_ORDERED_JOBS_H_

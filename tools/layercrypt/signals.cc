// tools/layercrypt/signals.cc: the signal thread (cli.h).
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "engine/core/io.h"
#include "tools/layercrypt/cli.h"

namespace layercrypt::cli {

// Signals. SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken
// by one thread of their own, which removes the temporary files and
// directories the engine registered (engine/core/io.h) and then dies of the
// same signal, so the shell sees the usual status and nothing half-written
// stays behind. SIGKILL leaves temporaries; the next writer collects them.
void start_signal_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread made later
  std::thread([set] {
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    layercrypt::remove_temporaries();
    signal(sig, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    raise(sig);
    _exit(128 + sig);
  }).detach();
}

}  // namespace layercrypt::cli

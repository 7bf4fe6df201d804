// engine/keywrap/provider/keyprovider_call.cc: see keyprovider_call.h. The
// cmd transport; the gRPC one is in grpc_loader.cc.
#include "engine/keywrap/provider/keyprovider_call.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace layercrypt {
namespace {

using Clock = std::chrono::steady_clock;

// kMaxStderr is how much of a provider's stderr is kept (its first line
// goes into the error).
constexpr size_t kMaxStderr = 4096;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Status make_pipe(Fd* read_end, Fd* write_end) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return IoError(std::string("pipe: ") + std::strerror(errno));
  read_end->reset(p[0]);
  write_end->reset(p[1]);
  return Status::Ok();
}

std::string seconds(std::chrono::milliseconds t) {
  if (t.count() % 1000 == 0) return std::to_string(t.count() / 1000) + " s";
  return std::to_string(t.count()) + " ms";
}

// first_line returns the first non-empty line of a provider's stderr, as a
// message may show it.
std::string first_line(const std::string& err) {
  size_t start = 0;
  while (start < err.size()) {
    size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    std::string line = err.substr(start, end - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) return quoted_for_message(line);
    start = end + 1;
  }
  return "";
}

// Child is a running provider program: killed (its whole process group)
// and reaped unless it exited by itself.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      int st;
      while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  // try_wait returns true and the wait status once it exited.
  bool try_wait(int* status) {
    const pid_t r = ::waitpid(pid_, status, WNOHANG);
    if (r == pid_) {
      ::kill(-pid_, SIGKILL);  // anything it left behind in its group
      pid_ = -1;
      return true;
    }
    return false;
  }

 private:
  pid_t pid_;
};

// SigpipeBlock keeps a write to a provider that exited from killing us:
// SIGPIPE is blocked in this thread for the call, and one it raised is
// consumed before the mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  }
  ~SigpipeBlock() {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    const timespec zero{0, 0};
    if (!sigismember(&old_, SIGPIPE)) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE)) sigtimedwait(&pipe, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
};

}  // namespace

StatusOr<kernels::SecretBytes> call_cmd_key_provider(const KeyProviderEntry& entry,
                                                     std::span<const uint8_t> request,
                                                     std::chrono::milliseconds timeout) {
  const std::string who = "key provider " + entry.name + " (" + entry.describe() + ")";
  const KeyProviderCommand& cmd = *entry.cmd;
  const auto deadline = Clock::now() + timeout;

  Fd in_r, in_w, out_r, out_w, err_r, err_w;
  LC_RETURN_IF_ERROR(make_pipe(&in_r, &in_w));
  LC_RETURN_IF_ERROR(make_pipe(&out_r, &out_w));
  LC_RETURN_IF_ERROR(make_pipe(&err_r, &err_w));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so a timeout kills whatever it started too; the
  // default signal dispositions and mask, whatever ours are.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(cmd.path.c_str()));
  for (const auto& a : cmd.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, cmd.path.c_str(), &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return IoError(who + ": cannot run " + cmd.path + ": " + std::strerror(rc));
  Child child(pid);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  for (int fd : {in_w.get(), out_r.get(), err_r.get()})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  SigpipeBlock no_sigpipe;
  kernels::SecretBytes out;
  std::string err;
  size_t written = 0;
  if (request.empty()) in_w.reset();
  uint8_t buf[16384];
  kernels::ScopedWipe wipe(buf, sizeof(buf));
  bool too_large = false;
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return IoError(who + ": timed out after " + seconds(timeout));
    pollfd p[3];
    int n = 0;
    if (in_w.get() >= 0) p[n++] = {in_w.get(), POLLOUT, 0};
    if (out_r.get() >= 0) p[n++] = {out_r.get(), POLLIN, 0};
    if (err_r.get() >= 0) p[n++] = {err_r.get(), POLLIN, 0};
    const int r =
        ::poll(p, static_cast<nfds_t>(n), static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno != EINTR) return IoError(who + ": poll: " + std::strerror(errno));
    for (int i = 0; i < n && r > 0; ++i) {
      if (p[i].revents == 0) continue;
      if (p[i].fd == in_w.get()) {
        const ssize_t w = ::write(in_w.get(), request.data() + written, request.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        // A provider may answer without reading all of it (EPIPE): fine.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == request.size()) in_w.reset();
      } else {
        const bool is_out = p[i].fd == out_r.get();
        const ssize_t got = ::read(p[i].fd, buf, sizeof(buf));
        if (got > 0) {
          if (is_out) {
            if (out.size() + static_cast<size_t>(got) > kMaxKeyProviderMessage) too_large = true;
            if (!too_large) out.insert(out.end(), buf, buf + got);
          } else if (err.size() < kMaxStderr) {
            err.append(reinterpret_cast<const char*>(buf),
                       std::min(static_cast<size_t>(got), kMaxStderr - err.size()));
          }
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          (is_out ? out_r : err_r).reset();
        }
      }
    }
  }
  in_w.reset();
  int status = 0;
  while (!child.try_wait(&status)) {
    if (Clock::now() >= deadline) return IoError(who + ": timed out after " + seconds(timeout));
    ::usleep(1000);
  }
  if (WIFSIGNALED(status))
    return KeyError(who + ": killed by signal " + std::to_string(WTERMSIG(status)));
  if (WEXITSTATUS(status) != 0) {
    const std::string line = first_line(err);
    return KeyError(who + ": exit status " + std::to_string(WEXITSTATUS(status)) +
                    (line.empty() ? "" : ": " + line));
  }
  if (too_large)
    return DataError(who + ": reply larger than " + std::to_string(kMaxKeyProviderMessage) +
                     " bytes");
  return out;
}

StatusOr<kernels::SecretBytes> call_key_provider(const KeyProviderEntry& entry, KeyProviderOp op,
                                                 std::span<const uint8_t> request,
                                                 std::chrono::milliseconds timeout) {
  if (entry.cmd) return call_cmd_key_provider(entry, request, timeout);
  return call_grpc_key_provider(entry, op, request, timeout);
}

}  // namespace layercrypt

#include "worker/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

namespace lumen::worker {
namespace {

int g_pipe[2] = {-1, -1};
std::mutex g_mu;
std::function<void()>* g_cleanup = nullptr;  // Guarded by g_mu; never freed.
std::atomic<bool> g_interrupted{false};
struct sigaction g_sigterm_before {};
bool g_remembered = false;

bool IsDefault(const struct sigaction& action) {
  return !(action.sa_flags & SA_SIGINFO) && action.sa_handler == SIG_DFL;
}

void OnSignal(int signo) {
  int saved = errno;
  unsigned char byte = static_cast<unsigned char>(signo);
  (void)!::write(g_pipe[1], &byte, 1);
  errno = saved;
}

[[noreturn]] void Watch() {
  unsigned char byte = 0;
  while (::read(g_pipe[0], &byte, 1) != 1) {
  }
  int signo = byte;
  g_interrupted = true;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (g_cleanup && *g_cleanup) (*g_cleanup)();
  }
  ::signal(signo, SIG_DFL);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, signo);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);
  ::kill(::getpid(), signo);
  // The default action ends the process; should it be held up, do not
  // return into a program that was told to stop.
  ::pause();
  ::_exit(128 + signo);
}

// Takes `signo` over unless the program had installed its own handler.
void TakeOver(int signo) {
  struct sigaction old {};
  ::sigaction(signo, nullptr, &old);
  if (signo == SIGTERM && g_remembered) {
    if (!IsDefault(g_sigterm_before)) {
      ::sigaction(SIGTERM, &g_sigterm_before, nullptr);  // Theirs, not glog's.
      return;
    }
  } else if (!IsDefault(old)) {
    return;
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(signo, &action, nullptr);
}

}  // namespace

bool InterruptInProgress() { return g_interrupted.load(); }

void WaitForInterruptToEnd() {
  while (true) ::pause();
}

void RememberSignalActions() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_remembered) return;
  ::sigaction(SIGTERM, nullptr, &g_sigterm_before);
  g_remembered = true;
}

void InstallInterruptHandlers(std::function<void()> cleanup) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_cleanup) {
    g_cleanup = new std::function<void()>();
    if (::pipe2(g_pipe, O_CLOEXEC) != 0) return;
    ::fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);
    std::thread(Watch).detach();  // Lives as long as the process.
    TakeOver(SIGINT);
    TakeOver(SIGTERM);
  }
  *g_cleanup = std::move(cleanup);
}

}  // namespace lumen::worker

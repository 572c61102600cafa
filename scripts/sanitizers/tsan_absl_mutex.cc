// scripts/sanitizers/tsan_absl_mutex.cc
//
// Makes absl::Mutex and absl::CondVar visible to ThreadSanitizer in TSan
// builds (LUMEN_SANITIZER=thread links this library into every target).
//
// Debian's libabsl_synchronization.so is not built with TSan, so its lock
// and unlock calls carry no annotations: TSan sees no happens-before edge
// through an absl::Mutex and reports every access it guards as a race (ours
// in plasma/ and gcs/, and data handed over through gRPC, whose gpr_mu is an
// absl::Mutex). This library defines the public locking entry points of
// absl::Mutex and absl::CondVar itself; being loaded before libabsl it
// interposes them for every caller in the process (our code, gRPC, abseil),
// tells TSan about the lock operation with the same annotations abseil uses
// when it is built with TSan (sanitizer/tsan_interface.h), and calls the
// real function, found with dlsym(RTLD_NEXT).
//
// Conditions (Await, LockWhen) run inside the real calls, between a pre and
// a post annotation, where TSan ignores memory accesses (abseil built with
// TSan does the same for its internals). So does a condition that another
// thread's Unlock evaluates.
//
// ~Mutex is left alone: announcing the destruction to TSan counts as a write
// to the mutex, which races (for TSan) with its last use on the thread that
// handed the owner over through gRPC's uninstrumented reference counts. TSan
// forgets a mutex anyway when the memory holding it is freed.
#include <absl/base/options.h>
#include <absl/synchronization/mutex.h>
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

#define LUMEN_STR2(x) #x
#define LUMEN_STR(x) LUMEN_STR2(x)

// The mangled name of absl::<inline namespace>::<rest>, e.g.
// Real("5Mutex4LockEv") for absl::Mutex::Lock().
void* Real(const char* rest, bool is_const = false) {
  const char* ns = LUMEN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  std::string name = is_const ? "_ZNK4absl" : "_ZN4absl";
  name += std::to_string(std::strlen(ns)) + ns + rest;
  void* fn = ::dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", name.c_str());
    std::abort();
  }
  return fn;
}

template <typename Fn>
Fn Lookup(const char* rest) {
  return reinterpret_cast<Fn>(Real(rest));
}

using MutexFn = void (*)(absl::Mutex*);
using MutexBoolFn = bool (*)(absl::Mutex*);
using WhenFn = void (*)(absl::Mutex*, const absl::Condition&);
using WhenDeadlineFn = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);
using WaitFn = void (*)(absl::CondVar*, absl::Mutex*);
using WaitDeadlineFn = bool (*)(absl::CondVar*, absl::Mutex*, absl::Time);

// Brackets a call that takes `mu` (flags: __tsan_mutex_read_lock, ...).
template <typename Call>
auto Locking(void* mu, unsigned flags, Call call) {
  __tsan_mutex_pre_lock(mu, flags);
  auto result = call();
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

template <typename Call>
bool TryLocking(void* mu, unsigned flags, Call call) {
  flags |= __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(mu, flags);
  const bool locked = call();
  __tsan_mutex_post_lock(mu, locked ? flags : flags | __tsan_mutex_try_lock_failed, 0);
  return locked;
}

// Await and CondVar waits release the held mutex while they block and hold
// it again when they return. The release is annotated before the call; the
// condition it may evaluate first, with the mutex still held, then runs in
// the ignored region that pre_unlock opens and post_unlock closes.
template <typename Call>
auto Waiting(void* mu, unsigned flags, Call call) {
  __tsan_mutex_pre_unlock(mu, flags);
  auto result = call();
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

constexpr unsigned kRead = __tsan_mutex_read_lock;

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Lookup<MutexFn>("5Mutex4LockEv");
  Locking(this, 0, [&] { real(this); return 0; });
}

void Mutex::ReaderLock() {
  static auto real = Lookup<MutexFn>("5Mutex10ReaderLockEv");
  Locking(this, kRead, [&] { real(this); return 0; });
}

bool Mutex::TryLock() {
  static auto real = Lookup<MutexBoolFn>("5Mutex7TryLockEv");
  return TryLocking(this, 0, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static auto real = Lookup<MutexBoolFn>("5Mutex13ReaderTryLockEv");
  return TryLocking(this, kRead, [&] { return real(this); });
}

void Mutex::Unlock() {
  static auto real = Lookup<MutexFn>("5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

void Mutex::ReaderUnlock() {
  static auto real = Lookup<MutexFn>("5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, kRead);
  real(this);
  __tsan_mutex_post_unlock(this, kRead);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Lookup<WhenFn>("5Mutex8LockWhenERKNS0_9ConditionE");
  Locking(this, 0, [&] { real(this, cond); return 0; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Lookup<WhenFn>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Locking(this, kRead, [&] { real(this, cond); return 0; });
}

// The WithTimeout variants call the WithDeadline ones, as abseil's own do
// (which would otherwise annotate twice). The timed LockWhen variants hold the
// mutex on return whatever they return.
bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  return LockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  return ReaderLockWhenWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real =
      Lookup<WhenDeadlineFn>("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locking(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real =
      Lookup<WhenDeadlineFn>("5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Locking(this, kRead, [&] { return real(this, cond, deadline); });
}

// Await is called with the mutex held (for writing; abseil has no reader
// variant to tell apart, and a reader Await is rare).
void Mutex::Await(const Condition& cond) {
  static auto real = Lookup<WhenFn>("5Mutex5AwaitERKNS0_9ConditionE");
  Waiting(this, 0, [&] { real(this, cond); return 0; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  return AwaitWithDeadline(cond, absl::Now() + timeout);
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static auto real =
      Lookup<WhenDeadlineFn>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Waiting(this, 0, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Lookup<WaitFn>("7CondVar4WaitEPNS0_5MutexE");
  Waiting(mu, 0, [&] { real(this, mu); return 0; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  return WaitWithDeadline(mu, absl::Now() + timeout);
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static auto real =
      Lookup<WaitDeadlineFn>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Waiting(mu, 0, [&] { return real(this, mu, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl

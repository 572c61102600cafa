// common/event_loop.h
//
// EventLoop is a daemon's single Boost.Asio io_context and the one thread
// that runs it. State owned by the loop needs no lock; every other thread
// (gRPC callbacks, blocking pools) hands work over with Post().
// Failure: exceptions escaping a posted function are a bug and abort.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace lumen {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();  // Stops and joins the loop thread if started.
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs the loop on a new thread (daemons) ...
  void StartThread();
  // ... or on the calling thread until Stop() (tests, main threads).
  void Run();
  void Stop();
  // Stops the loop and waits for its thread (not from the loop thread).
  void StopAndJoin();

  // Queues `fn` to run on the loop thread. Safe from any thread.
  void Post(std::function<void()> fn);
  // Runs `fn` once after `delay` on the loop thread.
  void RunAfter(std::chrono::milliseconds delay, std::function<void()> fn);
  // Runs `fn` every `period` on the loop thread until the loop stops or
  // `fn` returns false.
  void RunEvery(std::chrono::milliseconds period, std::function<bool()> fn);

  bool IsLoopThread() const { return std::this_thread::get_id() == loop_thread_id_; }
  boost::asio::io_context& io_context() { return io_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::thread::id loop_thread_id_;
};

}  // namespace lumen

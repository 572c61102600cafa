#include "common/event_loop.h"

#include <boost/asio/post.hpp>

namespace lumen {

EventLoop::EventLoop()
    : work_(std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io_.get_executor())) {}

EventLoop::~EventLoop() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void EventLoop::StartThread() {
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Run() {
  loop_thread_id_ = std::this_thread::get_id();
  io_.run();
}

void EventLoop::Stop() {
  work_.reset();
  io_.stop();
}

void EventLoop::StopAndJoin() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void EventLoop::Post(std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }

void EventLoop::RunAfter(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, delay);
  timer->async_wait([timer, fn = std::move(fn)](const boost::system::error_code& ec) {
    if (!ec) fn();
  });
}

void EventLoop::RunEvery(std::chrono::milliseconds period, std::function<bool()> fn) {
  RunAfter(period, [this, period, fn = std::move(fn)]() mutable {
    if (fn()) RunEvery(period, std::move(fn));
  });
}

}  // namespace lumen

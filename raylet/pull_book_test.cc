// Table-free tests of the pull bookkeeping: dedup and admission.

#include "raylet/pull_book.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace lumen::raylet {
namespace {

PullBook::Waiter Record(std::vector<std::string>* log, std::string name) {
  return [log, name](const absl::Status& st) { log->push_back(name + (st.ok() ? ":ok" : ":fail")); };
}

TEST_CASE("PullBook: concurrent requests for one object share one pull") {
  PullBook book(100);
  ObjectId id = ObjectId::FromRandom();
  std::vector<std::string> log;
  int started = 0;
  for (int i = 0; i < 5; ++i) started += book.AddWaiter(id, Record(&log, "w" + std::to_string(i)));
  CHECK(started == 1);
  CHECK(book.Pulling(id));
  REQUIRE(book.RequestAdmission(id, 10));
  PullBook::Finished done = book.Finish(id);
  REQUIRE(done.waiters.size() == 5);
  for (auto& w : done.waiters) w(absl::OkStatus());
  CHECK(log == std::vector<std::string>{"w0:ok", "w1:ok", "w2:ok", "w3:ok", "w4:ok"});
  CHECK_FALSE(book.Pulling(id));
  CHECK(book.bytes_copying() == 0);
  // A request after the pull ended starts a new one.
  CHECK(book.AddWaiter(id, Record(&log, "again")));
}

TEST_CASE("PullBook: pulls beyond the budget queue and are admitted in order") {
  PullBook book(100);
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom(), c = ObjectId::FromRandom(),
           d = ObjectId::FromRandom();
  std::vector<std::string> log;
  for (const ObjectId& id : {a, b, c, d}) REQUIRE(book.AddWaiter(id, Record(&log, id.Hex())));
  CHECK(book.RequestAdmission(a, 60));
  CHECK_FALSE(book.RequestAdmission(b, 60));  // 120 > 100.
  CHECK_FALSE(book.RequestAdmission(c, 10));  // Would fit, but does not overtake b.
  CHECK(book.num_queued() == 2);
  CHECK(book.bytes_copying() == 60);

  PullBook::Finished done = book.Finish(a);
  CHECK(done.waiters.size() == 1);
  CHECK(done.admitted == std::vector<ObjectId>{b, c});
  CHECK(book.bytes_copying() == 70);
  CHECK(book.num_queued() == 0);

  CHECK(book.RequestAdmission(d, 30));  // 100: fits exactly.
  CHECK(book.bytes_copying() == 100);
}

TEST_CASE("PullBook: an object larger than the budget is admitted alone") {
  PullBook book(100);
  ObjectId small = ObjectId::FromRandom(), big = ObjectId::FromRandom();
  std::vector<std::string> log;
  book.AddWaiter(small, Record(&log, "small"));
  book.AddWaiter(big, Record(&log, "big"));
  CHECK(book.RequestAdmission(small, 1));
  CHECK_FALSE(book.RequestAdmission(big, 1000));
  PullBook::Finished done = book.Finish(small);
  CHECK(done.admitted == std::vector<ObjectId>{big});
  CHECK(book.bytes_copying() == 1000);
  CHECK(book.Finish(big).admitted.empty());
  CHECK(book.bytes_copying() == 0);
}

TEST_CASE("PullBook: a pull that fails while queued leaves the queue") {
  PullBook book(100);
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom();
  std::vector<std::string> log;
  book.AddWaiter(a, Record(&log, "a"));
  book.AddWaiter(b, Record(&log, "b"));
  CHECK(book.RequestAdmission(a, 90));
  CHECK_FALSE(book.RequestAdmission(b, 90));
  PullBook::Finished failed = book.Finish(b);  // E.g. its source died.
  CHECK(failed.waiters.size() == 1);
  CHECK(failed.admitted.empty());
  CHECK(book.num_queued() == 0);
  CHECK(book.Finish(a).admitted.empty());
  CHECK(book.bytes_copying() == 0);
}

}  // namespace
}  // namespace lumen::raylet

// PollNodeChanges semantics at unit level: the test passes the times.
#include "gcs/node_change_publisher.h"

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::MakeNode;

namespace {

struct Poller {
  std::optional<rpc::PollNodeChangesReply> reply;
  NodeChangePublisher::ReplyCallback callback() {
    return [this](rpc::PollNodeChangesReply r) { reply = std::move(r); };
  }
};

}  // namespace

TEST_CASE("a poll with changes after its seq is answered at once") {
  InMemoryStoreClient store;
  NodeChangePublisher publisher(store);
  auto a = MakeNode(), b = MakeNode();
  publisher.Publish(a);
  publisher.Publish(b);
  Poller all, after_first;
  CHECK_FALSE(publisher.Poll(0, 1000, 0, all.callback()));
  REQUIRE(all.reply.has_value());
  REQUIRE(all.reply->changes_size() == 2);
  CHECK(all.reply->changes(0).seq() == 1);
  CHECK(all.reply->changes(0).node().node_id() == a.node_id());
  CHECK(all.reply->last_seq() == 2);
  publisher.Poll(1, 1000, 0, after_first.callback());
  REQUIRE(after_first.reply->changes_size() == 1);
  CHECK(after_first.reply->changes(0).node().node_id() == b.node_id());
}

TEST_CASE("a poll with nothing new waits for the next change") {
  InMemoryStoreClient store;
  NodeChangePublisher publisher(store);
  publisher.Publish(MakeNode());
  Poller p1, p2;
  CHECK(publisher.Poll(1, 5000, 0, p1.callback()));
  CHECK(publisher.Poll(1, 5000, 0, p2.callback()));
  CHECK_FALSE(p1.reply.has_value());
  auto node = MakeNode();
  publisher.Publish(node);
  for (Poller* p : {&p1, &p2}) {
    REQUIRE(p->reply.has_value());
    REQUIRE(p->reply->changes_size() == 1);
    CHECK(p->reply->changes(0).node().node_id() == node.node_id());
    CHECK(p->reply->last_seq() == 2);
  }
  CHECK(publisher.num_waiters() == 0);
}

TEST_CASE("a waiting poll is answered empty at its deadline, not before") {
  InMemoryStoreClient store;
  NodeChangePublisher publisher(store);
  Poller early, late;
  publisher.Poll(0, 100, 0, early.callback());
  publisher.Poll(0, 300, 0, late.callback());
  publisher.ExpireWaiters(99);
  CHECK_FALSE(early.reply.has_value());
  publisher.ExpireWaiters(100);
  REQUIRE(early.reply.has_value());
  CHECK(early.reply->changes_size() == 0);
  CHECK_FALSE(late.reply.has_value());
  CHECK(publisher.num_waiters() == 1);
  Poller now;
  CHECK_FALSE(publisher.Poll(0, 0, 0, now.callback()));  // Zero timeout.
  CHECK(now.reply.has_value());
}

TEST_CASE("only the latest state of each node is kept") {
  InMemoryStoreClient store;
  NodeChangePublisher publisher(store);
  auto node = MakeNode();
  publisher.Publish(node);
  node.set_state(rpc::NodeInfo::DEAD);
  publisher.Publish(node);
  Poller p;
  publisher.Poll(0, 0, 0, p.callback());
  REQUIRE(p.reply->changes_size() == 1);
  CHECK(p.reply->changes(0).seq() == 2);
  CHECK(p.reply->changes(0).node().state() == rpc::NodeInfo::DEAD);
}

TEST_CASE("after a restart, old subscribers see every node again") {
  InMemoryStoreClient store;
  auto node = MakeNode();
  {
    NodeChangePublisher before(store);
    before.Publish(MakeNode());
    before.Publish(node);
  }
  NodeChangePublisher after(store);
  REQUIRE(after.Load({node}).ok());
  CHECK(after.last_seq() == 3);  // Continues the saved sequence.
  Poller p;
  after.Poll(2, 1000, 0, p.callback());
  REQUIRE(p.reply.has_value());
  CHECK(p.reply->changes_size() == 1);

  InMemoryStoreClient fresh_store;  // A restart without persistence.
  NodeChangePublisher fresh(fresh_store);
  REQUIRE(fresh.Load({}).ok());
  fresh.Publish(node);
  Poller ahead;
  fresh.Poll(40, 1000, 0, ahead.callback());  // Subscriber ahead of us.
  REQUIRE(ahead.reply.has_value());
  CHECK(ahead.reply->changes_size() == 1);
}

TEST_CASE("closing answers waiters and every later poll at once") {
  InMemoryStoreClient store;
  NodeChangePublisher publisher(store);
  Poller waiting, later;
  publisher.Poll(0, 1000, 0, waiting.callback());
  publisher.Close();
  CHECK(waiting.reply.has_value());
  CHECK_FALSE(publisher.Poll(0, 1000, 0, later.callback()));
  CHECK(later.reply.has_value());
}

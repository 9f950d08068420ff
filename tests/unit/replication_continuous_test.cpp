// ContinuousReplicate (the `replicate` loop) driven by FakeClock: a change is captured only once
// the tree has been quiet for debounceMilliseconds of the injected clock, with a real inotify
// watcher, a real Replicator and a file:// remote. No real waiting decides anything: the test
// advances fake time and waits until the loop sleeps again (FakeClock::WaitForSleepers).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/clock.h"
#include "common/fs.h"
#include "common/stopper.h"
#include "objectstore/open.h"
#include "replication/continuous.h"
#include "replication/local_state.h"
#include "replication/replicator.h"
#include "replication/snapshot.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class ReplicateLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = dir_.path() + "/src";
    stage_ = dir_.path() + "/stage";
    fs::create_directories(src_);
    fs::create_directories(stage_);
    fs::create_directories(dir_.path() + "/remote");
    cfg_.source = src_;
    cfg_.region = "r";
    cfg_.state_dir = src_ + "/.agency-ha";
    cfg_.remotes = {config::RemoteConfig{"file://" + dir_.path() + "/remote", "", "", {}}};
    cfg_.debounce_milliseconds = 1000;
    cfg_.sync_interval_seconds = 3600;
    cfg_.parallelism = 1;
    cfg_.listen = "";
    ASSERT_TRUE(EnsureWritableDir(cfg_.state_dir));
    auto state = LoadLocalState(cfg_.state_dir);
    ASSERT_TRUE(state.ok()) << state.message();
    std::vector<Remote> remotes;
    auto store = objectstore::OpenRemote(cfg_.remotes[0], 1);
    ASSERT_TRUE(store.ok()) << store.message();
    remotes.push_back({cfg_.remotes[0], std::move(*store)});
    rep_ = std::make_unique<Replicator>(cfg_, std::move(remotes), std::move(*state));
    auto reader = objectstore::OpenRemote(cfg_.remotes[0], 1);
    ASSERT_TRUE(reader.ok());
    reader_ = std::move(*reader);
  }

  // Snapshots published on the remote so far.
  size_t Snapshots() {
    auto list = reader_->List(SnapshotsPrefix("r"));
    EXPECT_TRUE(list.ok()) << list.message();
    size_t n = 0;
    if (!list) return n;
    for (const auto& o : *list)
      n += o.key.ends_with(".json");
    return n;
  }

  // A new file appears in the source with one inotify event (IN_MOVED_TO: written outside the
  // watched tree, then renamed in), so the batch's event times are exactly when it was noted.
  void MoveIn(const std::string& name) {
    std::ofstream(stage_ + "/" + name) << name;
    fs::rename(stage_ + "/" + name, src_ + "/" + name);
  }

  // Until the loop's watcher has noted `events` events (the inotify reader runs in real time).
  static bool Noted(const ContinuousReplicate& loop, uint64_t events) {
    for (int i = 0; i < 6000; ++i) {  // a cap against a hang, not a threshold
      if (loop.Pending().events >= events) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  testing::TempDir dir_;
  std::string src_, stage_;
  config::ReplicationConfig cfg_;
  std::unique_ptr<Replicator> rep_;
  std::unique_ptr<objectstore::ObjectStore> reader_;
};

TEST_F(ReplicateLoop, ACaptureFiresOnlyOnceTheTreeWasQuietForTheDebounceInFakeTime) {
  FakeClock clock;
  Stopper stop(clock);
  ContinuousReplicate loop(cfg_, *rep_, stop, clock);
  ASSERT_TRUE(loop.Pending().events == 0);
  std::atomic<bool> done{false};
  std::thread t([&] {
    loop.Run();
    done = true;
  });
  ASSERT_TRUE(clock.WaitForSleepers(1));  // the first capture ran at once, the loop waits
  const size_t first = Snapshots();
  EXPECT_EQ(first, 1u) << "the start-up capture publishes the (empty) source";

  MoveIn("a");
  ASSERT_TRUE(Noted(loop, 1));
  clock.advance(milliseconds(999));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(Snapshots(), first) << "quiet for 999 ms of a 1000 ms debounce: no capture yet";
  clock.advance(milliseconds(1));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(Snapshots(), first + 1) << "quiet for the debounce: captured";
  EXPECT_EQ(loop.Pending().events, 0u) << "the capture took the batch";

  // A second change halfway through the debounce restarts it: quiet is counted from the last one.
  MoveIn("b");
  ASSERT_TRUE(Noted(loop, 1));
  clock.advance(milliseconds(500));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  MoveIn("c");
  ASSERT_TRUE(Noted(loop, 2));
  clock.advance(milliseconds(999));  // 1499 ms after b, 999 ms after c
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(Snapshots(), first + 1) << "c changed 999 ms ago: still settling";
  clock.advance(milliseconds(1));
  ASSERT_TRUE(clock.WaitForSleepers(1));
  EXPECT_EQ(Snapshots(), first + 2) << "b and c in one snapshot";

  stop.Stop();
  while (!done) {  // a loop asleep on the watcher notices the stop at its next (fake) tick
    clock.advance(milliseconds(250));
    std::this_thread::sleep_for(milliseconds(1));
  }
  t.join();
}

}  // namespace
}  // namespace aha::replication

#include "state_store_conformance.h"

#include <atomic>
#include <set>
#include <thread>

namespace aha::state::testing {
namespace {

KeyValues MustRead(StateStore& s) {
  auto kv = s.Read();
  EXPECT_TRUE(kv.ok()) << (kv.ok() ? "" : kv.message());
  return kv.ok() ? *kv : KeyValues{};
}

TEST_P(StateStoreConformance, EmptyStoreReadsNothing) {
  EXPECT_TRUE(MustRead(*store_).empty());
}

TEST_P(StateStoreConformance, WriteThenReadRoundTrips) {
  KeyValues kv = {{"failedRegions", "eu-west-1\nus-east-1\n"},
                  {"servingRegions", ""},
                  {"state.json", "{\"a\": \"\xc3\xa9\"}\n"},
                  {"big", std::string(256 * 1024, 'x')}};
  auto n = store_->Write(kv);
  ASSERT_TRUE(n.ok()) << n.message();
  EXPECT_EQ(*n, 4);
  EXPECT_EQ(MustRead(*store_), kv);
  EXPECT_EQ(MustRead(*env_->Client()), kv) << "another client sees the same data";
}

TEST_P(StateStoreConformance, WritesOnlyWhatChanged) {
  ASSERT_TRUE(store_->Write({{"a", "1"}, {"b", "2"}}).ok());
  auto same = store_->Write({{"a", "1"}, {"b", "2"}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0) << "an identical write must not write";
  auto one = store_->Write({{"a", "1"}, {"b", "3"}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
  EXPECT_EQ(MustRead(*store_), (KeyValues{{"a", "1"}, {"b", "3"}}));
}

TEST_P(StateStoreConformance, OtherKeysArePreserved) {
  auto other = env_->Client();
  ASSERT_TRUE(other->Write({{"simulatedOutages", "us-east-1 until X\n"}}).ok());
  ASSERT_TRUE(store_->Write({{"failedRegions", "us-east-1\n"}}).ok());
  ASSERT_TRUE(store_->Write({{"failedRegions", ""}}).ok());
  EXPECT_EQ(MustRead(*store_),
            (KeyValues{{"failedRegions", ""}, {"simulatedOutages", "us-east-1 until X\n"}}));
}

TEST_P(StateStoreConformance, InvalidKeyIsRejectedAndNothingIsWritten) {
  for (const char* bad : {"bad/key", "", ".hidden", "..data", "spa ce", "semi;colon"}) {
    auto r = store_->Write({{"good", "x"}, {bad, "y"}});
    EXPECT_FALSE(r.ok()) << "key \"" << bad << "\" accepted";
    if (!r.ok()) {
      EXPECT_NE(r.message().find("invalid state key"), std::string::npos);
    }
  }
  EXPECT_TRUE(MustRead(*store_).empty());
  EXPECT_FALSE(store_->Write({{std::string(254, 'k'), "v"}}).ok());
  EXPECT_TRUE(store_->Write({{std::string(253, 'k'), "v"}}).ok());
}

TEST_P(StateStoreConformance, MultiKeyWritesAreAtomicForReaders) {
  // A reader must never see failedRegions and servingRegions from different writes.
  constexpr int kWrites = 300;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0}, errors{0};
  ASSERT_TRUE(store_->Write({{"k1", "0"}, {"k2", "0"}}).ok());
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      auto client = env_->Client();
      while (!done.load()) {
        auto kv = client->Read();
        if (!kv.ok()) {
          ++errors;
          continue;
        }
        ++reads;
        if ((*kv)["k1"] != (*kv)["k2"]) ++torn;
      }
    });
  }
  for (int i = 1; i <= kWrites; ++i) {
    auto w = store_->Write({{"k1", std::to_string(i)}, {"k2", std::to_string(i)}});
    ASSERT_TRUE(w.ok()) << w.message();
  }
  done = true;
  for (auto& t : readers)
    t.join();
  EXPECT_EQ(torn.load(), 0) << "torn reads out of " << reads.load();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_P(StateStoreConformance, ConcurrentWritersDoNotLoseEachOthersKeys) {
  constexpr int kWrites = 100;
  auto a = env_->Client();
  auto b = env_->Client();
  std::thread ta([&] {
    for (int i = 0; i < kWrites; ++i)
      ASSERT_TRUE(a->Write({{"ka", std::to_string(i)}}).ok());
  });
  std::thread tb([&] {
    for (int i = 0; i < kWrites; ++i)
      ASSERT_TRUE(b->Write({{"kb", std::to_string(i)}}).ok());
  });
  ta.join();
  tb.join();
  EXPECT_EQ(MustRead(*store_), (KeyValues{{"ka", "99"}, {"kb", "99"}}));
}

TEST_P(StateStoreConformance, UpdateSeesCurrentKeysAndMergesItsResult) {
  ASSERT_TRUE(store_->Write({{"a", "1"}, {"b", "2"}}).ok());
  KeyValues seen;
  auto n = store_->Update([&](const KeyValues& cur) -> Result<KeyValues> {
    seen = cur;
    return KeyValues{{"b", cur.at("b") + "+"}, {"c", "3"}};
  });
  ASSERT_TRUE(n.ok()) << n.message();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(seen, (KeyValues{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(MustRead(*store_), (KeyValues{{"a", "1"}, {"b", "2+"}, {"c", "3"}}));
  auto same = store_->Update([](const KeyValues&) -> Result<KeyValues> {
    return KeyValues{{"c", "3"}};
  });
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0) << "an identical update must not write";
}

TEST_P(StateStoreConformance, UpdateRefusalOrInvalidKeyWritesNothing) {
  ASSERT_TRUE(store_->Write({{"a", "1"}}).ok());
  auto r = store_->Update([](const KeyValues&) -> Result<KeyValues> {
    return Err("a drill is already active", Code::kConflict);
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.message(), "a drill is already active");
  EXPECT_EQ(r.code(), Code::kConflict);
  auto bad = store_->Update([](const KeyValues&) -> Result<KeyValues> {
    return KeyValues{{"a", "2"}, {"bad/key", "x"}};
  });
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("invalid state key \"bad/key\""), std::string::npos);
  EXPECT_EQ(MustRead(*store_), (KeyValues{{"a", "1"}}));
}

// Read-modify-write from several clients: no update is lost (each appends to one shared key),
// and of several claims on one slot exactly one wins.
TEST_P(StateStoreConformance, ConcurrentUpdatesAreConditional) {
  constexpr int kClients = 4, kEach = 10;
  std::vector<std::thread> threads;
  std::atomic<int> claims_won{0}, claims_refused{0}, errors{0};
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = env_->Client();
      for (int i = 0; i < kEach; ++i) {
        auto r = client->Update([&](const KeyValues& cur) -> Result<KeyValues> {
          auto it = cur.find("log");
          return KeyValues{{"log", (it == cur.end() ? "" : it->second) + std::to_string(c) + "." +
                                       std::to_string(i) + "\n"}};
        });
        if (!r.ok()) ++errors;
      }
      auto claim = client->Update([&](const KeyValues& cur) -> Result<KeyValues> {
        if (cur.count("owner")) return Err("taken by " + cur.at("owner"), Code::kConflict);
        return KeyValues{{"owner", std::to_string(c)}};
      });
      if (claim.ok()) {
        ++claims_won;
      } else if (claim.message().rfind("taken by ", 0) == 0) {
        ++claims_refused;
      } else {
        ++errors;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claims_won.load(), 1);
  EXPECT_EQ(claims_refused.load(), kClients - 1);
  const KeyValues kv = MustRead(*store_);
  std::set<std::string> lines;
  std::string log = kv.count("log") ? kv.at("log") : "";
  for (size_t p = 0, q; (q = log.find('\n', p)) != std::string::npos; p = q + 1)
    lines.insert(log.substr(p, q - p));
  EXPECT_EQ(lines.size(), static_cast<size_t>(kClients * kEach)) << log;
}

}  // namespace
}  // namespace aha::state::testing

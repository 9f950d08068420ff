// The writer protocol (docs/WRITER.md): latest format 2 (hostile input included), reader order
// by (epoch, id), the fencing decision, the claim plan, and two writers racing on one lineage
// over real file:// remotes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>

#include "common/clock.h"
#include "objectstore/file_store.h"
#include "replication/publish.h"
#include "replication/restore.h"
#include "replication/scanner.h"
#include "replication/snapshot.h"
#include "replication/writer.h"
#include "support/temp_dir.h"

namespace aha::replication {
namespace {

namespace fs = std::filesystem;

const std::string kId1 = "20261203T221500.123Z-000001";
const std::string kId2 = "20261203T221600.000Z-000002";
const std::string kId3 = "20261203T221700.000Z-000003";

LatestPointer Ptr(const std::string& id, int64_t epoch, const std::string& writer,
                  bool released = false) {
  LatestPointer p;
  p.id = id;
  p.generation = "g";
  p.epoch = epoch;
  p.writer = writer;
  p.released = released;
  return p;
}

// --- latest format 2 ---

TEST(WriterLatest, Format2RoundTripsAndFormat1ReadsAsEpochZero) {
  auto back = LatestFromJson(LatestToJson(Ptr(kId1, 3, "eu-west-1/9f2c", true)));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->format, 2);
  EXPECT_EQ(back->id, kId1);
  EXPECT_EQ(back->generation, "g");
  EXPECT_EQ(back->epoch, 3);
  EXPECT_EQ(back->writer, "eu-west-1/9f2c");
  EXPECT_TRUE(back->released);

  auto old = LatestFromJson("{\"id\":\"" + kId1 + "\",\"generation\":\"g1\"}");
  ASSERT_TRUE(old) << old.message();
  EXPECT_EQ(old->format, 1);
  EXPECT_EQ(old->epoch, 0);
  EXPECT_EQ(old->writer, "");
  EXPECT_FALSE(old->released);
  // Format 1 has no epoch: one that is there is not read (and not checked).
  auto old_epoch = LatestFromJson("{\"id\":\"" + kId1 + "\",\"epoch\":\"x\"}");
  ASSERT_TRUE(old_epoch) << old_epoch.message();
  EXPECT_EQ(old_epoch->epoch, 0);
}

TEST(WriterLatest, HostileInputIsAClearErrorNamingTheField) {
  const std::string id = "\"id\":\"" + kId1 + "\"";
  struct Case {
    std::string text, want;
  } cases[] = {
      {"not json", "latest pointer"},
      {"[]", "latest"},
      {"\"x\"", "latest"},
      {"{\"format\":2,\"epoch\":1}", "latest.id"},
      {"{\"format\":2,\"id\":5,\"epoch\":1}", "latest.id"},
      {"{\"format\":\"2\"," + id + ",\"epoch\":1}", "latest.format"},
      {"{\"format\":3," + id + ",\"epoch\":1}", "latest.format"},
      {"{\"format\":2.5," + id + ",\"epoch\":1}", "latest.format"},
      {"{\"format\":2," + id + "}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":\"3\"}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":1.5}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":1e300}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":-1}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":9223372036854775808}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":[1]}", "latest.epoch"},
      {"{\"format\":2," + id + ",\"epoch\":1,\"writer\":5}", "latest.writer"},
      {"{\"format\":2," + id + ",\"epoch\":1,\"writer\":{}}", "latest.writer"},
      {"{\"format\":2," + id + ",\"epoch\":1,\"released\":\"yes\"}", "latest.released"},
      {"{\"format\":2," + id + ",\"epoch\":1,\"released\":1}", "latest.released"},
      {"{\"format\":2," + id + ",\"epoch\":1,\"generation\":7}", "latest.generation"},
      {"{\"format\":2,\"id\":\"../../etc\",\"epoch\":1}", "invalid id"},
      {std::string(200, '[') + std::string(200, ']'), "latest pointer"},
  };
  for (const auto& c : cases) {
    auto r = LatestFromJson(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.message().find(c.want), std::string::npos)
        << c.text << " -> " << r.message() << " (want " << c.want << ")";
  }
}

TEST(WriterLatest, RecordsCarryEpochAndWriter) {
  Record r;
  r.id = kId2;
  r.region = "us-east-1";
  r.generation = "g";
  r.epoch = 4;
  r.writer = "eu-west-1/abc";
  auto back = RecordFromJson(RecordToJson(r));
  ASSERT_TRUE(back) << back.message();
  EXPECT_EQ(back->epoch, 4);
  EXPECT_EQ(back->writer, "eu-west-1/abc");
  std::string bad = RecordToJson(r);
  bad.replace(bad.find("\"epoch\": 4"), 10, "\"epoch\": \"4\"");
  auto e = RecordFromJson(bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.message().find("epoch"), std::string::npos) << e.message();
  // Records from before epochs read as epoch 0, writer "".
  std::string old = RecordToJson(r);
  old.replace(old.find("\"epoch\": 4,"), 11, "");
  auto o = RecordFromJson(old);
  ASSERT_TRUE(o) << o.message();
  EXPECT_EQ(o->epoch, 0);
}

// --- order ---

TEST(WriterOrder, EpochFirstThenId) {
  struct Case {
    int64_t ea;
    std::string ia;
    int64_t eb;
    std::string ib;
    bool older;
  } cases[] = {
      {1, kId3, 2, kId1, true},   // a higher id at a lower epoch is older
      {2, kId1, 1, kId3, false},  //
      {1, kId1, 1, kId2, true},   // same epoch: by id
      {1, kId2, 1, kId1, false},  //
      {1, kId1, 1, kId1, false},  // equal
      {0, kId3, 1, kId1, true},   // format 1 (epoch 0) loses to any claim
  };
  for (const auto& c : cases) {
    EXPECT_EQ(HeadOlder(c.ea, c.ia, c.eb, c.ib), c.older)
        << c.ea << " " << c.ia << " vs " << c.eb << " " << c.ib;
  }
}

TEST(WriterOrder, PickHeadTakesTheHighestEpochThenId) {
  std::vector<RemoteHead> heads(5);
  heads[0].latest = Ptr(kId3, 1, "old");  // fenced writer's late snapshot: higher id
  heads[1].missing = true;
  heads[2].error = "r2: unparsable";
  heads[3].latest = Ptr(kId1, 2, "new");
  heads[4].latest = Ptr(kId1, 2, "new");  // tie: the first wins
  EXPECT_EQ(PickHead(heads), std::optional<size_t>(3));
  std::vector<RemoteHead> none(2);
  none[0].missing = true;
  none[1].error = "x";
  EXPECT_EQ(PickHead(none), std::nullopt);
  EXPECT_NE(DescribeHeadErrors(none, "r").find("no snapshots for region r"), std::string::npos);
}

// --- fencing decision ---

TEST(WriterFencing, DecisionTable) {
  const RemoteLineage mine{kId1, "", ""};
  const RemoteLineage foreign{kId2, "", ""};
  struct Case {
    const char* what;
    std::optional<LatestPointer> remote;
    int64_t epoch;
    std::string writer;
    RemoteLineage local;
    PublishVerdict want;
  } cases[] = {
      {"empty remote", std::nullopt, 3, "me", {}, PublishVerdict::kPublish},
      {"higher epoch", Ptr(kId1, 4, "other"), 3, "me", mine, PublishVerdict::kFenced},
      {"higher epoch, even by our name", Ptr(kId1, 4, "me"), 3, "me", mine,
       PublishVerdict::kFenced},
      {"lower epoch: claim not seen here", Ptr(kId3, 2, "other"), 3, "me", foreign,
       PublishVerdict::kPublish},
      {"format 1 under a claim", Ptr(kId3, 0, ""), 3, "me", foreign, PublishVerdict::kPublish},
      {"ours", Ptr(kId1, 3, "me"), 3, "me", mine, PublishVerdict::kPublish},
      {"our epoch, another writer", Ptr(kId1, 3, "other"), 3, "me", mine, PublishVerdict::kFenced},
      {"unclaimed, our lineage", Ptr(kId1, 0, ""), 0, "", mine, PublishVerdict::kPublish},
      {"unclaimed, foreign lineage", Ptr(kId1, 0, ""), 0, "", foreign, PublishVerdict::kRefused},
      {"legacy replicate after a claim", Ptr(kId1, 1, "eu/x"), 0, "", mine,
       PublishVerdict::kFenced},
  };
  for (const auto& c : cases) {
    auto d = DecidePublish(c.remote, c.epoch, c.writer, c.local, "us-east-1");
    EXPECT_EQ(static_cast<int>(d.verdict), static_cast<int>(c.want)) << c.what << ": " << d.why;
    if (c.want == PublishVerdict::kFenced) {
      EXPECT_NE(d.why.find("fenced"), std::string::npos) << c.what << ": " << d.why;
      EXPECT_NE(d.why.find("us-east-1"), std::string::npos) << c.what << ": " << d.why;
    }
  }
}

// --- claim plan ---

TEST(WriterClaim, PlanRaisesTheEpochOnEveryReadableRemote) {
  std::vector<RemoteHead> heads(4);
  heads[0].latest = Ptr(kId2, 1, "us-east-1/a");
  heads[0].version = "v0";
  heads[1].latest = Ptr(kId1, 0, "");  // lags, format 1
  heads[1].version = "v1";
  heads[2].missing = true;
  heads[3].error = "r3: unparsable";
  auto plan = PlanClaim(heads, "eu-west-1/b");
  EXPECT_EQ(plan.head, std::optional<size_t>(0));
  EXPECT_EQ(plan.epoch, 2);
  ASSERT_EQ(plan.writes.size(), 2u);
  EXPECT_EQ(plan.writes[0].remote, 0u);
  EXPECT_EQ(plan.writes[0].pointer.id, kId2);
  EXPECT_EQ(plan.writes[0].if_match, "v0");
  EXPECT_EQ(plan.writes[1].remote, 1u);
  EXPECT_EQ(plan.writes[1].pointer.id, kId1) << "a remote's own id: never a record it lacks";
  EXPECT_EQ(plan.writes[1].if_match, "v1");
  for (const auto& w : plan.writes) {
    EXPECT_EQ(w.pointer.epoch, 2);
    EXPECT_EQ(w.pointer.writer, "eu-west-1/b");
    EXPECT_FALSE(w.pointer.released);
  }

  // A retry after a partial claim keeps our epoch where it holds and writes only the rest.
  std::vector<RemoteHead> again(2);
  again[0].latest = Ptr(kId2, 2, "eu-west-1/b");
  again[1].latest = Ptr(kId1, 1, "us-east-1/a");
  auto p2 = PlanClaim(again, "eu-west-1/b");
  EXPECT_EQ(p2.epoch, 2);
  EXPECT_EQ(p2.already, std::vector<size_t>{0});
  ASSERT_EQ(p2.writes.size(), 1u);
  EXPECT_EQ(p2.writes[0].remote, 1u);
  // Someone claimed above us meanwhile: we go above them.
  again[1].latest = Ptr(kId1, 5, "x/y");
  auto p3 = PlanClaim(again, "eu-west-1/b");
  EXPECT_EQ(p3.epoch, 6);
  EXPECT_EQ(p3.writes.size(), 2u);

  std::vector<RemoteHead> empty(2);
  empty[0].missing = empty[1].missing = true;
  auto pe = PlanClaim(empty, "w");
  EXPECT_EQ(pe.head, std::nullopt);
  EXPECT_EQ(pe.epoch, 1);
  EXPECT_TRUE(pe.writes.empty());
}

// --- I/O: real file:// remotes ---

void Write(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

// A file store whose PutIf on `latest` runs a hook first (once): a competing writer, or a lost
// reply (the write lands, the caller sees 412).
class HookedStore : public objectstore::FileObjectStore {
 public:
  using FileObjectStore::FileObjectStore;
  std::function<void(FileObjectStore&)> before_latest;
  bool lose_reply = false;
  Result<std::string> PutIf(const std::string& key, const std::string& data,
                            const std::string& if_match) override {
    if (key.ends_with("/latest") && before_latest) {
      auto hook = std::move(before_latest);
      before_latest = nullptr;
      hook(*this);
    }
    auto r = FileObjectStore::PutIf(key, data, if_match);
    if (r && key.ends_with("/latest") && lose_reply) {
      lose_reply = false;
      return Err("reply lost (test)", Code::kPreconditionFailed);
    }
    return r;
  }
};

class WriterRace : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() + "/src";
    Write(src_ + "/notes.txt", "v1");
    a_ = std::make_unique<HookedStore>(tmp_.path() + "/remote-a");
    b_ = std::make_unique<HookedStore>(tmp_.path() + "/remote-b");
  }

  // A snapshot of src_ now, as writer `who` at `epoch`.
  Record Capture(uint64_t seq, int64_t epoch, const std::string& who) {
    HashCache cache;
    auto c = CaptureTree(src_, &cache, ScanOptions{});
    EXPECT_TRUE(c) << c.message();
    Record r;
    r.id = MakeSnapshotId(SystemClock::instance().wall(), seq);
    r.region = "us-east-1";
    r.generation = "g-" + who;
    r.created_at = FormatTime(SystemClock::instance().wall());
    r.epoch = epoch;
    r.writer = who;
    r.files = c->files;
    return r;
  }

  PublishReport Publish1(objectstore::ObjectStore& store, const Record& r, RemoteState* rs,
                         int64_t epoch, const std::string& who) {
    PublishOptions po;
    po.source_root = src_;
    po.tmp_dir = tmp_.path();
    po.epoch = epoch;
    po.writer = who;
    return Publish(
        store, r, rs, &mu_, [] { return Status::Ok(); }, po);
  }

  LatestPointer LatestOf(objectstore::ObjectStore& s) {
    auto t = s.Get(LatestKey("us-east-1"));
    EXPECT_TRUE(t) << t.message();
    auto p = t ? LatestFromJson(*t) : Result<LatestPointer>(t.error());
    EXPECT_TRUE(p) << p.message();
    return p ? *p : LatestPointer{};
  }

  aha::testing::TempDir tmp_;
  std::string src_;
  std::unique_ptr<HookedStore> a_, b_;
  std::mutex mu_;
};

TEST_F(WriterRace, AFencedWritersSnapshotNeverBecomesLatestForReaders) {
  const std::string w1 = "us-east-1/one", w2 = "eu-west-1/two";
  // W1 owns the lineage on both remotes (an empty lineage: nothing to write at claim).
  auto c1 = ClaimLineage({a_.get(), b_.get()}, "us-east-1", w1);
  ASSERT_TRUE(c1) << c1.message();
  EXPECT_EQ(c1->epoch, 1);
  EXPECT_FALSE(c1->head);
  RemoteState w1a, w1b, w2a, w2b;
  const Record s1 = Capture(1, c1->epoch, w1);
  ASSERT_TRUE(Publish1(*a_, s1, &w1a, 1, w1).ok);
  ASSERT_TRUE(Publish1(*b_, s1, &w1b, 1, w1).ok);

  // Partition: W2 reaches only A and takes over there.
  auto c2 = ClaimLineage({a_.get()}, "us-east-1", w2);
  ASSERT_TRUE(c2) << c2.message();
  EXPECT_EQ(c2->epoch, 2);
  ASSERT_TRUE(c2->head);
  EXPECT_EQ(c2->head->id, s1.id);
  EXPECT_EQ(LatestOf(*a_).epoch, 2);
  EXPECT_EQ(LatestOf(*a_).writer, w2);

  // W1 keeps writing: fenced on A (nothing becomes latest there)...
  Write(src_ + "/notes.txt", "v2 written by the old writer");
  const Record late = Capture(2, 1, w1);
  auto fa = Publish1(*a_, late, &w1a, 1, w1);
  EXPECT_FALSE(fa.ok);
  EXPECT_TRUE(fa.fenced) << fa.error;
  EXPECT_NE(fa.error.find(w2), std::string::npos) << "names who holds it: " << fa.error;
  EXPECT_EQ(LatestOf(*a_).id, s1.id);
  EXPECT_FALSE(a_->Exists(RecordKey("us-east-1", late.id)).value()) << "fenced before any upload";
  // ...but B is only reachable by W1: its late snapshot lands there, at the old epoch.
  auto fb = Publish1(*b_, late, &w1b, 1, w1);
  ASSERT_TRUE(fb.ok) << fb.error;
  EXPECT_EQ(LatestOf(*b_).id, late.id);
  EXPECT_GT(late.id, s1.id) << "the late snapshot has the higher id";

  // Readers that see both remotes follow the higher epoch, not the higher id.
  std::vector<objectstore::ObjectStore*> both{b_.get(), a_.get()};
  auto heads = ReadHeads(both, "us-east-1", false);
  auto head = PickHead(heads);
  ASSERT_TRUE(head);
  EXPECT_EQ(heads[*head].latest->id, s1.id);
  EXPECT_EQ(heads[*head].latest->epoch, 2);
  auto rec = FetchRecordFromAny(both, "us-east-1", "latest", nullptr, nullptr);
  ASSERT_TRUE(rec) << rec.message();
  EXPECT_EQ(rec->id, s1.id) << "restore picks the claimed head, not the fenced late snapshot";

  // The new writer reaches B again: a lower epoch is overwritten (conditionally)...
  Write(src_ + "/notes.txt", "v3 by the new writer");
  const Record s3 = Capture(3, 2, w2);
  ASSERT_TRUE(Publish1(*a_, s3, &w2a, 2, w2).ok);
  auto nb = Publish1(*b_, s3, &w2b, 2, w2);
  ASSERT_TRUE(nb.ok) << nb.error;
  EXPECT_EQ(LatestOf(*b_).epoch, 2);
  EXPECT_EQ(LatestOf(*b_).id, s3.id);
  // ...and from then on the old writer is fenced there too.
  const Record later = Capture(4, 1, w1);
  auto fb2 = Publish1(*b_, later, &w1b, 1, w1);
  EXPECT_TRUE(fb2.fenced) << fb2.error;
  EXPECT_EQ(LatestOf(*b_).id, s3.id);

  // Release: the new writer hands the lineage back; the old one cannot release it.
  auto rel_old = Release({a_.get(), b_.get()}, "us-east-1", w1, 1);
  ASSERT_FALSE(rel_old);
  EXPECT_EQ(rel_old.code(), Code::kConflict) << rel_old.message();
  auto rel = Release({a_.get(), b_.get()}, "us-east-1", w2, 2);
  ASSERT_TRUE(rel) << rel.message();
  EXPECT_TRUE(LatestOf(*a_).released);
  EXPECT_TRUE(LatestOf(*b_).released);
  EXPECT_EQ(LatestOf(*b_).id, s3.id);
}

TEST_F(WriterRace, ATakeoverBetweenReadAndWriteFencesThePublish) {
  const std::string w1 = "us-east-1/one", w2 = "eu-west-1/two";
  RemoteState rs;
  const Record s1 = Capture(1, 1, w1);
  ASSERT_TRUE(Publish1(*a_, s1, &rs, 1, w1).ok);
  // W2 claims after W1 read latest and before W1 writes it: the PutIf gets 412, the re-read
  // sees epoch 2, W1 is fenced and latest stays W2's.
  a_->before_latest = [&](objectstore::FileObjectStore& s) {
    auto c = ClaimLineage({&s}, "us-east-1", w2);
    ASSERT_TRUE(c) << c.message();
  };
  Write(src_ + "/notes.txt", "v2");
  const Record s2 = Capture(2, 1, w1);
  auto rep = Publish1(*a_, s2, &rs, 1, w1);
  EXPECT_FALSE(rep.ok);
  EXPECT_TRUE(rep.fenced) << rep.error;
  EXPECT_EQ(LatestOf(*a_).id, s1.id);
  EXPECT_EQ(LatestOf(*a_).epoch, 2);
}

TEST_F(WriterRace, ALostReplyIsRecognisedAsOurOwnWrite) {
  const std::string w1 = "us-east-1/one";
  RemoteState rs;
  a_->lose_reply = true;
  const Record s1 = Capture(1, 1, w1);
  auto rep = Publish1(*a_, s1, &rs, 1, w1);
  EXPECT_TRUE(rep.ok) << rep.error;
  EXPECT_FALSE(rep.fenced);
  EXPECT_EQ(LatestOf(*a_).id, s1.id);
}

TEST_F(WriterRace, ClaimRetriesWhenTheHeadMovesAndHonoursExpectHead) {
  const std::string w1 = "us-east-1/one", w2 = "eu-west-1/two", w3 = "ap-south-1/three";
  RemoteState rs;
  const Record s1 = Capture(1, 1, w1);
  ASSERT_TRUE(Publish1(*a_, s1, &rs, 1, w1).ok);
  ASSERT_TRUE(Publish1(*b_, s1, &rs, 1, w1).ok);
  // W3 claims A between W2's read and W2's write: W2 re-reads and goes above W3.
  a_->before_latest = [&](objectstore::FileObjectStore& s) {
    auto c = ClaimLineage({&s}, "us-east-1", w3);
    ASSERT_TRUE(c) << c.message();
    EXPECT_EQ(c->epoch, 2);
  };
  auto c = ClaimLineage({a_.get(), b_.get()}, "us-east-1", w2);
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(c->epoch, 3);
  EXPECT_EQ(LatestOf(*a_).writer, w2);
  EXPECT_EQ(LatestOf(*b_).writer, w2);
  EXPECT_EQ(LatestOf(*a_).epoch, 3);
  for (const auto& r : c->remotes)
    EXPECT_TRUE(r.claimed) << r.remote << ": " << r.error;

  // The caller applied an older head: refused, nothing written.
  auto stale = ClaimLineage({a_.get(), b_.get()}, "us-east-1", w1, {3, kId1});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.message();
  EXPECT_EQ(LatestOf(*a_).writer, w2);
}

TEST_F(WriterRace, AFinalPublishWithReleaseMarksTheLineageReleased) {
  const std::string w1 = "us-east-1/one";
  RemoteState rs;
  ASSERT_TRUE(Publish1(*a_, Capture(1, 1, w1), &rs, 1, w1).ok);
  EXPECT_FALSE(LatestOf(*a_).released);
  PublishOptions po;
  po.source_root = src_;
  po.tmp_dir = tmp_.path();
  po.epoch = 1;
  po.writer = w1;
  po.release = true;
  Write(src_ + "/notes.txt", "final");
  const Record last = Capture(2, 1, w1);
  auto rep = Publish(
      *a_, last, &rs, &mu_, [] { return Status::Ok(); }, po);
  ASSERT_TRUE(rep.ok) << rep.error;
  EXPECT_TRUE(LatestOf(*a_).released);
  EXPECT_EQ(LatestOf(*a_).id, last.id);
  // The next writer claims it: a new epoch, no longer released.
  auto c = ClaimLineage({a_.get()}, "us-east-1", "eu-west-1/two", {3, last.id});
  ASSERT_TRUE(c) << c.message();
  ASSERT_TRUE(c->head);
  EXPECT_TRUE(c->head->released) << "the claim reports the head as read";
  EXPECT_FALSE(LatestOf(*a_).released);
  EXPECT_EQ(LatestOf(*a_).epoch, 2);
}

// A stand-in's takeover applied the owner's released head; before it claims, the state handed the
// lineage back and the owner re-claimed it at the same snapshot id. Expecting only the id would
// let the stale stand-in take the lineage over from its legitimate writer (and fence it); the
// exact pointer it applied refuses that claim.
TEST_F(WriterRace, ATakeoverExpectingTheAppliedPointerIsRefusedWhenTheOwnerReclaimedTheSameId) {
  const std::string owner = "us-east-1/one", standin = "ap-southeast-1/two";
  RemoteState rs;
  const Record s1 = Capture(1, 1, owner);
  ASSERT_TRUE(Publish1(*a_, s1, &rs, 1, owner).ok);
  ASSERT_TRUE(Release({a_.get()}, "us-east-1", owner, 1));
  const LatestPointer applied = LatestOf(*a_);  // what the stand-in read and applied
  ASSERT_TRUE(applied.released);
  // The owner takes its lineage back (a planned takeover of its own released head).
  auto back = ClaimLineage({a_.get()}, "us-east-1", owner, {3, s1.id});
  ASSERT_TRUE(back) << back.message();
  EXPECT_FALSE(LatestOf(*a_).released);
  EXPECT_EQ(LatestOf(*a_).id, s1.id);
  ClaimOptions exact{3, "", applied};
  auto stale = ClaimLineage({a_.get()}, "us-east-1", standin, exact);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.code(), Code::kConflict) << stale.message();
  EXPECT_NE(stale.message().find(owner), std::string::npos) << stale.message();
  EXPECT_EQ(LatestOf(*a_).writer, owner) << "nothing written";
  EXPECT_EQ(LatestOf(*a_).epoch, 1);
  // Whereas the pointer that is there now is accepted, at the next epoch.
  exact.expect = LatestOf(*a_);
  auto ok = ClaimLineage({a_.get()}, "us-east-1", standin, exact);
  ASSERT_TRUE(ok) << ok.message();
  EXPECT_EQ(ok->epoch, 2);
}

TEST_F(WriterRace, UnparsableLatestIsNamedAndNotOverwritten) {
  const std::string w1 = "us-east-1/one";
  RemoteState rs;
  const Record s1 = Capture(1, 1, w1);
  ASSERT_TRUE(Publish1(*a_, s1, &rs, 1, w1).ok);
  ASSERT_TRUE(
      b_->Put(LatestKey("us-east-1"), "{\"format\":2,\"id\":\"" + s1.id + "\",\"epoch\":\"7\"}")
          .ok());
  auto c = ClaimLineage({a_.get(), b_.get()}, "us-east-1", "eu-west-1/two");
  ASSERT_TRUE(c) << c.message();
  ASSERT_EQ(c->remotes.size(), 2u);
  EXPECT_TRUE(c->remotes[0].claimed);
  EXPECT_FALSE(c->remotes[1].claimed);
  EXPECT_NE(c->remotes[1].error.find(b_->Describe()), std::string::npos) << c->remotes[1].error;
  EXPECT_NE(c->remotes[1].error.find("latest.epoch"), std::string::npos) << c->remotes[1].error;
  EXPECT_EQ(*b_->Get(LatestKey("us-east-1")),
            "{\"format\":2,\"id\":\"" + s1.id + "\",\"epoch\":\"7\"}");
  // A publisher refuses to write over it too.
  auto rep = Publish1(*b_, s1, &rs, 2, "eu-west-1/two");
  EXPECT_FALSE(rep.ok);
  EXPECT_NE(rep.error.find("latest.epoch"), std::string::npos) << rep.error;
}

}  // namespace
}  // namespace aha::replication

#include "replication/writer.h"

#include <algorithm>
#include <limits>

namespace aha::replication {

std::vector<RemoteHead> ReadHeads(const std::vector<objectstore::ObjectStore*>& remotes,
                                  const std::string& lineage, bool versioned) {
  std::vector<RemoteHead> out;
  out.reserve(remotes.size());
  for (auto* store : remotes) {
    RemoteHead h;
    h.store = store;
    h.remote = store->Describe();
    std::string text;
    Error err;
    bool ok = false;
    if (versioned) {
      auto v = store->GetVersioned(LatestKey(lineage));
      if (v) {
        text = std::move(v->data);
        h.version = std::move(v->version);
        ok = true;
      } else {
        err = v.error();
      }
    } else {
      auto t = store->Get(LatestKey(lineage));
      if (t) {
        text = std::move(*t);
        ok = true;
      } else {
        err = t.error();
      }
    }
    if (!ok) {
      if (err.code == Code::kNotFound) {
        h.missing = true;
      } else {
        h.error = h.remote + ": reading " + LatestKey(lineage) + ": " + err.message;
      }
    } else if (auto p = LatestFromJson(text); !p) {
      h.error = h.remote + ": " + LatestKey(lineage) + ": " + p.message();
    } else {
      h.latest = std::move(*p);
    }
    out.push_back(std::move(h));
  }
  return out;
}

std::optional<size_t> PickHead(const std::vector<RemoteHead>& heads) {
  std::optional<size_t> best;
  for (size_t i = 0; i < heads.size(); ++i) {
    if (!heads[i].latest) continue;
    if (!best || HeadOlder(*heads[*best].latest, *heads[i].latest)) best = i;
  }
  return best;
}

std::string DescribeHeadErrors(const std::vector<RemoteHead>& heads, const std::string& lineage) {
  std::string all;
  for (const auto& h : heads) {
    std::string w;
    if (!h.error.empty()) {
      w = h.error;
    } else if (h.missing) {
      w = h.remote + ": no snapshots for region " + lineage;
    } else {
      continue;
    }
    all += (all.empty() ? "" : "; ") + w;
  }
  return all;
}

PublishDecision DecidePublish(const std::optional<LatestPointer>& remote, int64_t epoch,
                              const std::string& writer, const RemoteLineage& local,
                              const std::string& lineage) {
  if (!remote) return {};
  auto who = [&] {
    return "snapshot " + remote->id + " at epoch " + std::to_string(remote->epoch) + " by " +
           (remote->writer.empty() ? std::string("an unnamed writer") : remote->writer);
  };
  if (remote->epoch > epoch) {
    return {PublishVerdict::kFenced, "fenced: lineage " + lineage + " moved to a higher epoch (" +
                                         who() + ") than ours (" + std::to_string(epoch) +
                                         "): another writer took over; not publishing"};
  }
  if (remote->epoch < epoch) return {};
  if (epoch == 0) {
    if (Status s = CheckLineage(remote, local, lineage); !s) {
      return {PublishVerdict::kRefused, s.message()};
    }
    return {};
  }
  if (remote->writer == writer) return {};
  return {PublishVerdict::kFenced, "fenced: lineage " + lineage + " is held at our epoch " +
                                       std::to_string(epoch) + " by another writer (" + who() +
                                       "); not publishing"};
}

ClaimPlan PlanClaim(const std::vector<RemoteHead>& heads, const std::string& writer) {
  ClaimPlan plan;
  plan.head = PickHead(heads);
  int64_t max_other = 0, max_mine = 0;
  for (const auto& h : heads) {
    if (!h.latest) continue;
    if (h.latest->writer == writer) {
      max_mine = std::max(max_mine, h.latest->epoch);
    } else {
      max_other = std::max(max_other, h.latest->epoch);
    }
  }
  plan.epoch = std::max<int64_t>({max_other + 1, max_mine, 1});
  for (size_t i = 0; i < heads.size(); ++i) {
    const auto& h = heads[i];
    if (!h.latest) continue;  // missing (first publish creates it) or unreadable (left alone)
    // (A lineage this writer released is taken back by rewriting it unreleased: the version
    // changes, so a stand-in that applied the released head cannot claim it afterwards.)
    if (h.latest->writer == writer && h.latest->epoch == plan.epoch && !h.latest->released) {
      plan.already.push_back(i);
      continue;
    }
    ClaimWrite w;
    w.remote = i;
    w.pointer.id = h.latest->id;
    w.pointer.generation = h.latest->generation;
    w.pointer.epoch = plan.epoch;
    w.pointer.writer = writer;
    w.pointer.released = false;
    w.if_match = h.version;
    plan.writes.push_back(std::move(w));
  }
  return plan;
}

namespace {

std::string ShowPointer(const LatestPointer& p) {
  return p.id + " (epoch " + std::to_string(p.epoch) + ", " +
         (p.writer.empty() ? std::string("no writer") : p.writer) +
         (p.released ? ", released)" : ")");
}

// ClaimOptions::expect and expect_head: kConflict when the head read is not the one expected.
Status CheckExpectedHead(const Claim& c, const std::string& lineage, const ClaimOptions& opts) {
  if (opts.expect) {
    const auto& e = *opts.expect;
    if (!c.head || c.head->id != e.id || c.head->epoch != e.epoch || c.head->writer != e.writer ||
        c.head->released != e.released) {
      return Err(
          "claim " + lineage + ": the head is " +
              (c.head ? ShowPointer(*c.head) + " on " + c.head_remote : std::string("gone")) +
              ", not " + ShowPointer(e) + " (apply it, then claim again)",
          Code::kConflict);
    }
  }
  if (!opts.expect_head.empty() && (!c.head || c.head->id != opts.expect_head)) {
    return Err("claim " + lineage + ": the head is " +
                   (c.head ? c.head->id + " on " + c.head_remote : std::string("gone")) + ", not " +
                   opts.expect_head + " (apply it, then claim again)",
               Code::kConflict);
  }
  return Status::Ok();
}

// Each remote's claim status before the writes: read errors, and the remotes already claimed.
std::vector<ClaimRemote> ClaimStatus(const std::vector<RemoteHead>& heads, const ClaimPlan& plan) {
  std::vector<ClaimRemote> status(heads.size());
  for (size_t i = 0; i < heads.size(); ++i) {
    status[i].remote = heads[i].remote;
    if (!heads[i].error.empty()) status[i].error = heads[i].error;
    if (heads[i].missing) status[i].error = "no latest there yet (gets the epoch at publish)";
  }
  for (size_t i : plan.already)
    status[i].claimed = true;
  return status;
}

// The plan's conditional writes; true when one lost a race (412), its message in *last_race.
bool WriteClaims(const std::vector<RemoteHead>& heads, const ClaimPlan& plan,
                 const std::string& lineage, std::vector<ClaimRemote>* status,
                 std::string* last_race) {
  bool raced = false;
  for (const auto& w : plan.writes) {
    auto r = heads[w.remote].store->PutIf(LatestKey(lineage), LatestToJson(w.pointer), w.if_match);
    if (r) {
      (*status)[w.remote].claimed = true;
    } else {
      (*status)[w.remote].error = r.message();
      if (r.code() == Code::kPreconditionFailed) {
        raced = true;
        *last_race = r.message();
      }
    }
  }
  return raced;
}

// A claim whose writes are done (c.remotes filled): held when some remote took it, or when the
// lineage is empty on every remote.
Result<Claim> ClaimOutcome(Claim c, const ClaimPlan& plan, const std::vector<RemoteHead>& heads,
                           const std::string& lineage) {
  const bool any = std::any_of(c.remotes.begin(), c.remotes.end(),
                               [](const ClaimRemote& r) { return r.claimed; });
  if (!plan.head) {
    // An empty lineage: nothing to claim; unreadable remotes make it unsafe to call it empty.
    if (std::all_of(heads.begin(), heads.end(), [](const RemoteHead& h) { return h.missing; })) {
      return c;
    }
    return Err(
        "claim " + lineage + ": no remote could be read: " + DescribeHeadErrors(heads, lineage),
        Code::kUnavailable);
  }
  if (!any) {
    std::string why;
    for (const auto& r : c.remotes)
      if (!r.error.empty()) why += (why.empty() ? "" : "; ") + r.remote + ": " + r.error;
    return Err("claim " + lineage + " at epoch " + std::to_string(c.epoch) +
                   ": no remote accepted it: " + why,
               Code::kUnavailable);
  }
  return c;
}

}  // namespace

Result<Claim> ClaimLineage(const std::vector<objectstore::ObjectStore*>& remotes,
                           const std::string& lineage, const std::string& writer,
                           const ClaimOptions& opts) {
  if (remotes.empty()) return Err("claim " + lineage + ": no remotes", Code::kUnavailable);
  if (writer.empty()) return Err("claim " + lineage + ": empty writer id");
  std::string last_race;
  for (int attempt = 1; attempt <= std::max(1, opts.max_attempts); ++attempt) {
    auto heads = ReadHeads(remotes, lineage, /*versioned=*/true);
    ClaimPlan plan = PlanClaim(heads, writer);
    Claim c;
    c.lineage = lineage;
    c.writer = writer;
    c.epoch = plan.epoch;
    if (plan.head) {
      c.head = heads[*plan.head].latest;
      c.head_remote = heads[*plan.head].remote;
    }
    if (Status s = CheckExpectedHead(c, lineage, opts); !s) return s.error();
    std::vector<ClaimRemote> status = ClaimStatus(heads, plan);
    // The head moved (or our reply was lost): read again, plan again.
    if (WriteClaims(heads, plan, lineage, &status, &last_race)) continue;
    c.remotes = std::move(status);
    return ClaimOutcome(std::move(c), plan, heads, lineage);
  }
  return Err("claim " + lineage + ": the head kept moving (" + std::to_string(opts.max_attempts) +
                 " attempts): " + last_race,
             Code::kPreconditionFailed);
}

Result<std::vector<ClaimRemote>> Release(const std::vector<objectstore::ObjectStore*>& remotes,
                                         const std::string& lineage, const std::string& writer,
                                         int64_t epoch) {
  std::vector<ClaimRemote> out;
  bool any = false, fenced_all = true;
  for (const auto& h : ReadHeads(remotes, lineage, /*versioned=*/true)) {
    ClaimRemote r;
    r.remote = h.remote;
    if (!h.latest) {
      r.error = h.missing ? "no latest" : h.error;
      fenced_all = false;
    } else if (h.latest->epoch != epoch || h.latest->writer != writer) {
      r.error = "not ours: snapshot " + h.latest->id + " at epoch " +
                std::to_string(h.latest->epoch) + " by " + h.latest->writer + " (we are " + writer +
                " at epoch " + std::to_string(epoch) + ")";
      if (h.latest->epoch < epoch) fenced_all = false;
    } else if (h.latest->released) {
      r.claimed = any = true;
      fenced_all = false;
    } else {
      fenced_all = false;
      LatestPointer p = *h.latest;
      p.released = true;
      auto put = h.store->PutIf(LatestKey(lineage), LatestToJson(p), h.version);
      if (put) {
        r.claimed = any = true;
      } else {
        r.error = put.message();
      }
    }
    out.push_back(std::move(r));
  }
  if (any) return out;
  std::string why;
  for (const auto& r : out)
    why += (why.empty() ? "" : "; ") + r.remote + ": " + r.error;
  return Err("release " + lineage + ": no remote released: " + why,
             fenced_all ? Code::kConflict : Code::kUnavailable);
}

}  // namespace aha::replication

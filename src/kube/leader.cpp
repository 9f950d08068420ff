#include "kube/leader.h"

#include "common/json_get.h"
#include "common/log.h"
#include "kube/events.h"

namespace aha::kube {

using nlohmann::json;

namespace {

// The fields of a Lease the elector reads (coordination.k8s.io/v1 LeaseSpec), type-checked: the
// API server's answer is outside input. Absent fields keep their defaults.
struct LeaseView {
  std::string holder, renew_time, resource_version;
  int duration_seconds = 0;
  int transitions = 0;
};

Result<LeaseView> ReadLease(const json& lease, int default_duration) {
  namespace jg = jsonget;
  LeaseView v;
  v.duration_seconds = default_duration;
  const json* spec = nullptr;
  if (Status s = jg::OptObject(lease, "spec", &spec, "lease"); !s) return s.error();
  static const json kEmpty = json::object();
  if (!spec) spec = &kEmpty;
  for (Status s : {jg::OptString(*spec, "holderIdentity", &v.holder, "lease.spec"),
                   jg::OptString(*spec, "renewTime", &v.renew_time, "lease.spec"),
                   jg::OptInt(*spec, "leaseDurationSeconds", &v.duration_seconds, "lease.spec"),
                   jg::OptInt(*spec, "leaseTransitions", &v.transitions, "lease.spec")}) {
    if (!s) return s.error();
  }
  auto rv = ResourceVersionOf(lease);
  if (!rv) return Err("lease." + rv.message());
  v.resource_version = *rv;
  return v;
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<Client> client, LeaderConfig cfg, const Clock& clock)
    : client_(std::move(client)), cfg_(std::move(cfg)), clock_(clock) {}

bool LeaderElector::IsLeader() const {
  std::lock_guard l(mu_);
  return leading_ && clock_.mono() - last_renew_ < cfg_.renew_deadline;
}

std::string LeaderElector::Holder() const {
  std::lock_guard l(mu_);
  return holder_;
}

namespace {

std::string RecordOf(const LeaseView& v) {
  return v.holder + "|" + v.renew_time + "|" + v.resource_version;
}

json NewLease(const LeaderConfig& cfg, int lease_seconds, WallTime now) {
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", {{"name", cfg.name}, {"namespace", cfg.ns}}},
          {"spec",
           {{"holderIdentity", cfg.identity},
            {"leaseDurationSeconds", lease_seconds},
            {"acquireTime", FormatMicroTime(now)},
            {"renewTime", FormatMicroTime(now)},
            {"leaseTransitions", 0}}}};
}

// `lease` renewed by `identity`, or taken over when `holder` is someone else (or nobody).
json RenewedLease(json lease, const std::string& identity, const LeaseView& view, int lease_seconds,
                  WallTime now) {
  const bool ours = view.holder == identity;
  lease["spec"]["holderIdentity"] = identity;
  lease["spec"]["leaseDurationSeconds"] = lease_seconds;
  lease["spec"]["renewTime"] = FormatMicroTime(now);
  if (!ours) {
    lease["spec"]["acquireTime"] = FormatMicroTime(now);
    // client-go (tools/leaderelection, tryAcquireOrRenew) counts every acquisition by a replica
    // that was not the holder as a transition, a lease released with an empty holder included.
    lease["spec"]["leaseTransitions"] = static_cast<int64_t>(view.transitions) + 1;
  }
  return lease;
}

}  // namespace

void LeaderElector::Lead(MonoTime now) {
  if (!leading_) ++terms_;
  leading_ = true;
  holder_ = cfg_.identity;
  last_renew_ = now;
}

bool LeaderElector::CreateLease(int lease_seconds, WallTime now_wall, MonoTime now) {
  auto created = client_->Create(kLeases, cfg_.ns, NewLease(cfg_, lease_seconds, now_wall));
  std::lock_guard l(mu_);
  if (!created) {
    log::Warn("lease create failed",
              {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", created.message()}});
    return false;
  }
  Lead(now);
  return true;
}

bool LeaderElector::HeldByAnother(const std::string& holder, const std::string& record,
                                  int their_seconds, MonoTime now) {
  std::lock_guard l(mu_);
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = now;
  }
  holder_ = holder;
  if (!holder.empty() && holder != cfg_.identity &&
      now - observed_at_ < std::chrono::seconds(their_seconds)) {
    leading_ = false;  // someone else holds a live lease
    return true;
  }
  return false;
}

bool LeaderElector::UpdateLease(const json& lease, int lease_seconds, MonoTime now) {
  auto updated = client_->Update(kLeases, cfg_.ns, cfg_.name, lease);
  std::lock_guard l(mu_);
  if (!updated) {
    if (updated.code() != Code::kConflict) {
      log::Warn("lease update failed",
                {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", updated.message()}});
    }
    return false;
  }
  Lead(now);
  auto us = ReadLease(*updated, lease_seconds);
  observed_record_ = us ? RecordOf(*us) : std::string();
  observed_at_ = now;
  return true;
}

bool LeaderElector::TryAcquireOrRenew() {
  const WallTime now_wall = clock_.wall();
  const MonoTime now = clock_.mono();
  // Lease durations are whole seconds in the API; round up so a lease is never shorter than
  // configured (client-go judges expiry by the record's leaseDurationSeconds).
  const int lease_seconds = static_cast<int>((cfg_.lease_duration.count() + 999) / 1000);
  auto lease = client_->Get(kLeases, cfg_.ns, cfg_.name);
  if (!lease && lease.code() == Code::kNotFound) return CreateLease(lease_seconds, now_wall, now);
  if (!lease) {
    log::Warn("lease read failed",
              {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", lease.message()}});
    return false;
  }
  auto view = ReadLease(*lease, lease_seconds);
  if (!view) {
    log::Warn("lease read failed",
              {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", view.message()}});
    return false;
  }
  if (HeldByAnother(view->holder, RecordOf(*view), view->duration_seconds, now)) return false;
  return UpdateLease(RenewedLease(*lease, cfg_.identity, *view, lease_seconds, now_wall),
                     lease_seconds, now);
}

void LeaderElector::Run(Stopper& stop) {
  bool was = false;
  while (!stop.stopped()) {
    TryAcquireOrRenew();
    bool is = IsLeader();
    if (is != was) {
      log::Info(is ? "started leading" : "stopped leading",
                {{"identity", cfg_.identity}, {"lease", cfg_.ns + "/" + cfg_.name}});
      if (!is) {
        std::lock_guard l(mu_);
        leading_ = false;
      }
      was = is;
    }
    if (stop.WaitFor(cfg_.retry_period)) break;
  }
}

Status LeaderElector::Release() {
  {
    std::lock_guard l(mu_);
    if (!leading_) return Status::Ok();
    leading_ = false;
  }
  auto lease = client_->Get(kLeases, cfg_.ns, cfg_.name);
  if (!lease) return lease.error();
  auto view = ReadLease(*lease, 0);
  if (!view) return view.error();
  if (view->holder != cfg_.identity) return Status::Ok();
  json obj = *lease;
  const std::string now = FormatMicroTime(clock_.wall());
  obj["spec"]["holderIdentity"] = "";
  obj["spec"]["leaseDurationSeconds"] = 1;
  obj["spec"]["renewTime"] = now;
  obj["spec"]["acquireTime"] = now;
  auto updated = client_->Update(kLeases, cfg_.ns, cfg_.name, obj);
  if (!updated) return updated.error();
  log::Info("released leadership",
            {{"identity", cfg_.identity}, {"lease", cfg_.ns + "/" + cfg_.name}});
  return Status::Ok();
}

}  // namespace aha::kube

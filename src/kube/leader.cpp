#include "kube/leader.h"

#include "common/log.h"
#include "kube/events.h"

namespace aha::kube {

using nlohmann::json;

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

bool LeaderElector::TryAcquireOrRenew() {
  const WallTime now_wall = clock_.wall();
  const MonoTime now = clock_.mono();
  // Lease durations are whole seconds in the API; round up so a lease is never shorter than
  // configured (client-go judges expiry by the record's leaseDurationSeconds).
  const int lease_seconds = static_cast<int>((cfg_.lease_duration.count() + 999) / 1000);
  auto lease = client_->Get(kLeases, cfg_.ns, cfg_.name);
  if (!lease && lease.code() == 404) {
    json obj = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", cfg_.name}, {"namespace", cfg_.ns}}},
                {"spec",
                 {{"holderIdentity", cfg_.identity},
                  {"leaseDurationSeconds", lease_seconds},
                  {"acquireTime", FormatMicroTime(now_wall)},
                  {"renewTime", FormatMicroTime(now_wall)},
                  {"leaseTransitions", 0}}}};
    auto created = client_->Create(kLeases, cfg_.ns, obj);
    std::lock_guard l(mu_);
    if (!created) {
      log::Warn("lease create failed",
                {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", created.message()}});
      return false;
    }
    if (!leading_) ++terms_;
    leading_ = true;
    holder_ = cfg_.identity;
    last_renew_ = now;
    return true;
  }
  if (!lease) {
    log::Warn("lease read failed",
              {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", lease.message()}});
    return false;
  }
  json spec = lease->value("spec", json::object());
  const std::string holder = spec.value("holderIdentity", "");
  const std::string record = holder + "|" + spec.value("renewTime", "") + "|" +
                             (*lease)["metadata"].value("resourceVersion", "");
  int their_seconds = spec.value("leaseDurationSeconds", lease_seconds);
  {
    std::lock_guard l(mu_);
    if (record != observed_record_) {
      observed_record_ = record;
      observed_at_ = now;
    }
    holder_ = holder;
    if (!holder.empty() && holder != cfg_.identity &&
        now - observed_at_ < std::chrono::seconds(their_seconds)) {
      leading_ = false;  // someone else holds a live lease
      return false;
    }
  }
  json obj = *lease;
  const bool ours = holder == cfg_.identity;
  obj["spec"]["holderIdentity"] = cfg_.identity;
  obj["spec"]["leaseDurationSeconds"] = lease_seconds;
  obj["spec"]["renewTime"] = FormatMicroTime(now_wall);
  if (!ours) {
    obj["spec"]["acquireTime"] = FormatMicroTime(now_wall);
    // client-go (tools/leaderelection, tryAcquireOrRenew) counts every acquisition by a replica
    // that was not the holder as a transition, a lease released with an empty holder included.
    obj["spec"]["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  auto updated = client_->Update(kLeases, cfg_.ns, cfg_.name, obj);
  std::lock_guard l(mu_);
  if (!updated) {
    if (updated.code() != 409) {
      log::Warn("lease update failed",
                {{"lease", cfg_.ns + "/" + cfg_.name}, {"error", updated.message()}});
    }
    return false;
  }
  if (!leading_) ++terms_;
  leading_ = true;
  holder_ = cfg_.identity;
  last_renew_ = now;
  json us = (*updated).value("spec", json::object());
  observed_record_ = us.value("holderIdentity", "") + "|" + us.value("renewTime", "") + "|" +
                     (*updated)["metadata"].value("resourceVersion", "");
  observed_at_ = now;
  return true;
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
  json obj = *lease;
  if (obj["spec"].value("holderIdentity", "") != cfg_.identity) return Status::Ok();
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

// Leadership: what a loop needs to know about leader election, without depending on how it is
// done (kube::LeaderElector implements it with a Lease; no election means always leading).
#pragma once

#include <cstdint>
#include <string>

namespace aha {

class Leadership {
 public:
  virtual ~Leadership() = default;
  // True only while this replica may act (write state). Must be cheap: called every round.
  virtual bool IsLeader() const = 0;
  virtual std::string Holder() const = 0;  // current holder as last observed
  virtual std::string Identity() const = 0;
  // Counts the terms this replica has led: it grows each time leadership is gained. A loop that
  // was leader at the start and at the end of a step acted in one term only if Term() is the same
  // at both ends (leadership lost and regained in between means another leader may have acted).
  // Without election there is one endless term.
  virtual uint64_t Term() const { return 0; }
};

}  // namespace aha

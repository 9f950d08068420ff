// Leadership: what a loop needs to know about leader election, without depending on how it is
// done (kube::LeaderElector implements it with a Lease; no election means always leading).
#pragma once

#include <string>

namespace aha {

class Leadership {
 public:
  virtual ~Leadership() = default;
  // True only while this replica may act (write state). Must be cheap: called every round.
  virtual bool IsLeader() const = 0;
  virtual std::string Holder() const = 0;  // current holder as last observed
  virtual std::string Identity() const = 0;
};

}  // namespace aha

// StateStore: where the failover state keys live (their format: failover/failover_state.h).
//
// Two implementations share this contract and one conformance suite
// (tests/unit/state_store_conformance.h): the file store (a directory with one file per key, the
// same layout as a mounted ConfigMap; the embedded default) and the ConfigMap store (Kubernetes
// API, later). The contract:
// - Keys are ConfigMap data keys: [-._a-zA-Z0-9]+, at most 253 characters, not starting with '.'
//   (a leading dot is reserved for the file store's temp files and kubelet's ..data links).
// - Read() returns every key currently stored. Keys written by other writers (e.g. the MCP
//   server's `simulatedOutages`) are returned too.
// - Write(kv) sets the given keys and leaves every other key untouched. It writes nothing for a key
//   whose stored value already equals the new one and reports how many keys it changed, so a
//   controller that calls it every round causes no writes while nothing changes.
// - Readers never observe a partially written value.
// - Errors are returned, never thrown; nothing is written when the input is invalid.
// - Update(fn) is a conditional read-modify-write: fn sees the current keys and returns the keys
//   to write (merged like Write), and they land only if nobody wrote in between; otherwise fn is
//   called again on the fresh keys (file store: under the directory lock, so never; ConfigMap
//   store: resourceVersion precondition, retried on 409). An error from fn aborts with nothing
//   written and is returned unchanged (its message and code), e.g. "a drill is already active".
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/result.h"

namespace aha::state {

using KeyValues = std::map<std::string, std::string>;
using UpdateFn = std::function<Result<KeyValues>(const KeyValues& current)>;

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual Result<KeyValues> Read() = 0;
  virtual Result<int> Write(const KeyValues& kv) = 0;
  virtual Result<int> Update(const UpdateFn& fn) = 0;
  // Human-readable location for logs ("dir /var/run/agency-ha/state").
  virtual std::string Describe() const = 0;
};

// Empty string when `key` is a valid key; otherwise why not.
std::string ValidateKey(const std::string& key);

// Directory store. The directory is created when missing. Version directories are named after
// `clock`'s wall time (for people reading the directory; uniqueness comes from mkdtemp).
class FileStateStore final : public StateStore {
 public:
  explicit FileStateStore(std::string dir, const Clock& clock = SystemClock::instance());
  Result<KeyValues> Read() override;
  Result<int> Write(const KeyValues& kv) override;
  Result<int> Update(const UpdateFn& fn) override;
  std::string Describe() const override { return "dir " + dir_; }

 private:
  std::string dir_;
  const Clock& clock_;
};

}  // namespace aha::state

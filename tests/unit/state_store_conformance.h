// The StateStore conformance suite: one set of behaviours every state store must show
// (src/state/store.h states the contract). A store implementation instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(File, StateStoreConformance,
//                            ::testing::Values(StoreFactory{"file", MakeFileStore}));
//
// The factory returns a fresh, empty store each call; calling `second()` on the returned fixture
// gives another client of the same underlying storage (a second process, a second replica).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "state/store.h"

namespace aha::state::testing {

struct StoreEnv {
  virtual ~StoreEnv() = default;
  virtual std::unique_ptr<StateStore> Client() = 0;  // a new client of the same storage
};

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<StoreEnv>()> make;
};

inline std::ostream& operator<<(std::ostream& os, const StoreFactory& f) {
  return os << f.name;
}

class StateStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    env_ = GetParam().make();
    store_ = env_->Client();
  }
  std::unique_ptr<StoreEnv> env_;
  std::unique_ptr<StateStore> store_;
};

}  // namespace aha::state::testing

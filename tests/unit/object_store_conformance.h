// The ObjectStore conformance suite: the behaviours every replication backend must show
// (src/objectstore/store.h states the contract). A backend instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(File, ObjectStoreConformance,
//                            ::testing::Values(ObjectStoreFactory{"file", MakeFileStore}));
//
// `make` returns a fresh, empty store each call. Backends that split large files (S3 multipart)
// must be configured so that `large_file_bytes` crosses their threshold.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "objectstore/store.h"

namespace aha::objectstore::testing {

struct ObjectStoreFactory {
  std::string name;
  std::function<std::unique_ptr<ObjectStore>()> make;
  size_t large_file_bytes = 12 * 1024 * 1024;
};

inline std::ostream& operator<<(std::ostream& os, const ObjectStoreFactory& f) {
  return os << f.name;
}

class ObjectStoreConformance : public ::testing::TestWithParam<ObjectStoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
  }
  std::unique_ptr<ObjectStore> store_;
};

// Deterministic pseudo-random bytes (all 256 values occur).
std::string PatternBytes(size_t n, uint32_t seed);

}  // namespace aha::objectstore::testing

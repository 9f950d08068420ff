// libFuzzer target for what the replication roles read from outside: snapshot records (from any
// remote: restore, follow, replicate's adoption and GC, `snapshots`, MCP get_replication_status)
// and the local state file (replication-state.json).
// Invariants checked: no throw; error messages carry no raw control bytes; a record that parses
// has only safe relative paths and survives RecordToJson -> RecordFromJson unchanged; a local
// state that parses survives SaveLocalState's serialization (through LocalStateFromJson).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "replication/snapshot.h"
#include "replication/state.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

template <class R>
void CheckError(const R& r) {
  if (r.ok()) return;
  for (unsigned char c : r.message())
    Check(c >= 0x20 && c != 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  using namespace aha::replication;

  auto r = RecordFromJson(text);
  CheckError(r);
  if (r.ok()) {
    for (const auto& f : r->files)
      Check(SafeRelativePath(f.path) && f.mode <= 07777u);
    auto again = RecordFromJson(RecordToJson(*r));
    Check(again.ok() && again->id == r->id && again->files.size() == r->files.size() &&
          again->total_bytes() == r->total_bytes() && again->datasets.size() == r->datasets.size());
  }

  auto s = LocalStateFromJson(text, "replication-state.json");
  CheckError(s);
  if (s.ok()) Check(!s->generation.empty());
  return 0;
}

// libFuzzer target for what the replication roles read from outside: snapshot records (from any
// remote: restore, follow, replicate's adoption and GC, `snapshots`, MCP get_replication_status),
// the local state file (replication-state.json) and the sidecar's position file (read by the
// gate). The bytes are also used as a file path in a record: RecordToJson never throws.
// Invariants checked: no throw; error messages carry no raw control bytes; a record that parses
// has only safe relative paths and survives RecordToJson -> RecordFromJson unchanged; a local
// state that parses survives SaveLocalState's serialization (through LocalStateFromJson).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "replication/local_state.h"
#include "replication/position.h"
#include "replication/snapshot.h"

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

  auto p = PositionFromJson(text);
  CheckError(p);
  if (p.ok()) {
    auto again = PositionFromJson(PositionToJson(*p));
    Check(again.ok() && again->lineage == p->lineage && again->epoch == p->epoch);
  }

  // Arbitrary bytes (invalid UTF-8 too) as a file name: serializing never throws.
  Record rec;
  rec.id = "20261127T181500.123Z-000042";
  rec.files.push_back(FileEntry{text, std::string(64, 'a'), 1, 0644, 0});
  (void)RecordToJson(rec);
  return 0;
}

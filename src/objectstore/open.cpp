#include "objectstore/open.h"

#include "objectstore/file_store.h"
#include "objectstore/s3_store.h"

namespace aha::objectstore {

Result<std::unique_ptr<ObjectStore>> OpenRemote(const config::RemoteConfig& rc, int parallelism) {
  if (auto why = config::ValidateRemoteUrl(rc.url); !why.empty()) return Err(rc.url + ": " + why);
  if (rc.url.rfind("file://", 0) == 0) {
    return std::unique_ptr<ObjectStore>(std::make_unique<FileObjectStore>(rc.url.substr(7)));
  }
  S3Overrides ov;
  ov.region = rc.region;
  ov.endpoint = rc.endpoint;
  ov.path_style = rc.path_style;
  ov.parallelism = parallelism;
  auto cfg = S3ConfigFromUrlAndEnv(rc.url, ov);
  if (!cfg) return cfg.error();
  auto s = S3ObjectStore::Create(std::move(*cfg));
  if (!s) return s.error();
  return std::unique_ptr<ObjectStore>(std::move(*s));
}

}  // namespace aha::objectstore

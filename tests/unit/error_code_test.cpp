// Error codes: the raw HTTP statuses and errno values map to the closed set of Codes in
// common/result.h, the details are kept beside the code, and converted paths report by code.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>

#include "common/fs.h"
#include "common/result.h"
#include "objectstore/file_store.h"
#include "support/temp_dir.h"

namespace aha {
namespace {

using aha::testing::TempDir;

TEST(ErrorCode, FromHttp) {
  EXPECT_EQ(CodeFromHttp(0), Code::kUnavailable) << "no response: a transport error";
  EXPECT_EQ(CodeFromHttp(400), Code::kInvalid);
  EXPECT_EQ(CodeFromHttp(422), Code::kInvalid);
  EXPECT_EQ(CodeFromHttp(401), Code::kPermissionDenied);
  EXPECT_EQ(CodeFromHttp(403), Code::kPermissionDenied);
  EXPECT_EQ(CodeFromHttp(404), Code::kNotFound);
  EXPECT_EQ(CodeFromHttp(409), Code::kConflict);
  EXPECT_EQ(CodeFromHttp(410), Code::kGone);
  EXPECT_EQ(CodeFromHttp(412), Code::kPreconditionFailed);
  EXPECT_EQ(CodeFromHttp(413), Code::kTooLarge);
  EXPECT_EQ(CodeFromHttp(429), Code::kUnavailable);
  EXPECT_EQ(CodeFromHttp(500), Code::kUnavailable);
  EXPECT_EQ(CodeFromHttp(501), Code::kUnsupported);
  EXPECT_EQ(CodeFromHttp(502), Code::kUnavailable);
  EXPECT_EQ(CodeFromHttp(503), Code::kUnavailable);
  EXPECT_EQ(CodeFromHttp(507), Code::kNoSpace);
  EXPECT_EQ(CodeFromHttp(418), Code::kInvalid) << "another 4xx: the request was refused";
  EXPECT_EQ(CodeFromHttp(200), Code::kUnknown) << "not an error by itself";
}

TEST(ErrorCode, FromErrno) {
  EXPECT_EQ(CodeFromErrno(0), Code::kUnknown);
  EXPECT_EQ(CodeFromErrno(ENOENT), Code::kNotFound);
  EXPECT_EQ(CodeFromErrno(EACCES), Code::kPermissionDenied);
  EXPECT_EQ(CodeFromErrno(EPERM), Code::kPermissionDenied);
  EXPECT_EQ(CodeFromErrno(EEXIST), Code::kConflict);
  EXPECT_EQ(CodeFromErrno(EINVAL), Code::kInvalid);
  EXPECT_EQ(CodeFromErrno(ENOSPC), Code::kNoSpace);
  EXPECT_EQ(CodeFromErrno(EDQUOT), Code::kNoSpace);
  EXPECT_EQ(CodeFromErrno(EFBIG), Code::kTooLarge);
  EXPECT_EQ(CodeFromErrno(ENOTSUP), Code::kUnsupported);
  EXPECT_EQ(CodeFromErrno(ETIMEDOUT), Code::kUnavailable);
  EXPECT_EQ(CodeFromErrno(EIO), Code::kUnknown);
}

TEST(ErrorCode, NamesAreDistinct) {
  std::set<std::string> names;
  const Code all[] = {Code::kUnknown,
                      Code::kInvalid,
                      Code::kNotFound,
                      Code::kConflict,
                      Code::kPreconditionFailed,
                      Code::kGone,
                      Code::kPermissionDenied,
                      Code::kNotConfigured,
                      Code::kUnavailable,
                      Code::kBadResponse,
                      Code::kNoSpace,
                      Code::kUnsupported,
                      Code::kTooLarge,
                      Code::kCancelled};
  for (Code c : all)
    names.insert(CodeName(c));
  EXPECT_EQ(names.size(), std::size(all));
  EXPECT_STREQ(CodeName(Code::kNotFound), "not-found");
  EXPECT_STREQ(CodeName(Code::kNoSpace), "no-space");
}

TEST(ErrorCode, ConstructorsKeepTheRawValueAsADetail) {
  Error h = HttpErr("get: 403: forbidden", 403);
  EXPECT_EQ(h.code, Code::kPermissionDenied);
  EXPECT_EQ(h.http_status, 403);
  EXPECT_EQ(h.sys_errno, 0);

  Error s = SysErr("write failed", ENOSPC);
  EXPECT_EQ(s.code, Code::kNoSpace);
  EXPECT_EQ(s.sys_errno, ENOSPC);
  EXPECT_EQ(s.http_status, 0);

  Error w = Wrap("file store /x: ", s);
  EXPECT_EQ(w.message, "file store /x: write failed");
  EXPECT_EQ(w.code, Code::kNoSpace);
  EXPECT_EQ(w.sys_errno, ENOSPC);

  Status st = Err("a drill is already active", Code::kConflict);
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(st.error().http_status, 0);
  EXPECT_EQ(Status(Err("plain")).code(), Code::kUnknown);
}

// The file store maps ENOENT where it enters: a missing key, a missing directory of keys and a
// missing root are all kNotFound, whatever the message says.
TEST(ErrorCode, FileStoreNotFoundIsACode) {
  TempDir dir;
  objectstore::FileObjectStore store(dir.path() + "/root");
  auto missing_root = store.Get("a/b");
  ASSERT_FALSE(missing_root.ok());
  EXPECT_EQ(missing_root.code(), Code::kNotFound) << missing_root.message();
  EXPECT_EQ(missing_root.error().sys_errno, ENOENT) << missing_root.message();

  ASSERT_TRUE(store.Put("a/present", "x").ok());
  auto missing_key = store.Get("a/absent");
  ASSERT_FALSE(missing_key.ok());
  EXPECT_EQ(missing_key.code(), Code::kNotFound) << missing_key.message();
  auto missing_dir = store.Get("b/absent");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.code(), Code::kNotFound) << missing_dir.message();

  // Not every failure is "not found": a bad key is kInvalid.
  auto bad = store.Get("../escape");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.code(), Code::kInvalid) << bad.message();
}

// The filesystem helpers keep errno, so callers tell causes apart by code, not by strerror text.
TEST(ErrorCode, FsHelpersKeepErrno) {
  TempDir dir;
  auto r = ReadFile(dir.path() + "/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.code(), Code::kNotFound);
  EXPECT_EQ(r.error().sys_errno, ENOENT);

  Status w = WriteFileAtomic(dir.path() + "/no-such-dir/file", "x");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.code(), Code::kNotFound) << w.message();
  EXPECT_EQ(w.error().sys_errno, ENOENT);
}

}  // namespace
}  // namespace aha

// Evidence sealing (evidence/seal.h): the canonical form is RFC 8785's bytes on the integer
// subset, any edit of a sealed record is detected, the HMAC binds it to a key, and values outside
// the subset are refused with their path.
#include "evidence/seal.h"

#include <gtest/gtest.h>

#include "net/digest.h"

namespace aha::evidence {
namespace {

using nlohmann::json;

json Record() {
  return json::parse(R"({
    "kind": "DrillEvidence", "drillId": "d-1", "region": "us-east-1",
    "timeline": {"injectedAt": "2026-12-06T04:00:00.000Z", "regionFailedAt": null},
    "rtoMilliseconds": 1432, "rpoMilliseconds": 0,
    "notes": ["quote \" backslash \\ tab \t newline \n bell \u0007 é 日本"]
  })");
}

TEST(EvidenceCanonical, SortsMembersDropsWhitespaceAndEscapesAsRfc8785) {
  const auto c =
      Canonical(json::parse(R"({"b": [1, {"z": true, "a": null}], "a": "x\u001fy\u00e9"})"));
  ASSERT_TRUE(c) << c.message();
  EXPECT_EQ(*c, "{\"a\":\"x\\u001fy\xc3\xa9\",\"b\":[1,{\"a\":null,\"z\":true}]}");
}

TEST(EvidenceCanonical, RefusesValuesOutsideTheSubsetNamingTheirPath) {
  auto c = Canonical(json::parse(R"({"t": {"rto": 1.5}})"));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.code(), Code::kInvalid);
  EXPECT_NE(c.message().find("$.t.rto: a non-integer number"), std::string::npos) << c.message();
  c = Canonical(json::parse(R"({"a": [0, 9007199254740992]})"));
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("$.a[1]: an integer over 2^53 - 1"), std::string::npos);
  EXPECT_TRUE(Canonical(json::parse(R"({"a": [-9007199254740991, 9007199254740991]})")));
  c = Canonical(json{{"caf\xc3\xa9", 1}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("not printable ASCII"), std::string::npos);
  c = Canonical(json{{"s", std::string("\xff\xfe")}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("not valid UTF-8"), std::string::npos);
  c = Canonical(json{{"notes", {"ok", "a\x7f"}}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.message().find("$.notes[1]: a string with the DEL"), std::string::npos);
}

TEST(EvidenceSeal, TheSealIsTheSha256OfTheCanonicalRecordAndVerifies) {
  auto sealed = Seal(Record());
  ASSERT_TRUE(sealed) << sealed.message();
  const auto& integrity = (*sealed)["integrity"];
  EXPECT_EQ(integrity["canonicalization"], kCanonicalization);
  EXPECT_EQ(integrity["sha256"], net::Sha256Hex(*Canonical(Record())));
  EXPECT_FALSE(integrity.contains("hmacSha256"));
  auto v = Verify(*sealed);
  ASSERT_TRUE(v) << v.message();
  EXPECT_TRUE(v->intact) << v->problem;
  EXPECT_FALSE(v->hmac_present);
  // Member order and whitespace in the file do not matter; the values do.
  auto reparsed = Verify(json::parse(sealed->dump(2)));
  ASSERT_TRUE(reparsed);
  EXPECT_TRUE(reparsed->intact);
}

TEST(EvidenceSeal, AnyEditIsDetected) {
  const json sealed = *Seal(Record());
  const std::vector<std::function<void(json&)>> edits = {
      [](json& r) { r["rtoMilliseconds"] = 1431; },
      [](json& r) { r["timeline"]["regionFailedAt"] = "2026-12-06T04:00:01.000Z"; },
      [](json& r) { r["notes"][0] = "other"; },
      [](json& r) { r["extra"] = 1; },
      [](json& r) { r.erase("rpoMilliseconds"); },
      [](json& r) { r["region"] = "us-east-2"; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    json r = sealed;
    edits[i](r);
    auto v = Verify(r);
    ASSERT_TRUE(v) << i << ": " << v.message();
    EXPECT_FALSE(v->intact) << "edit " << i << " went unnoticed";
    EXPECT_NE(v->problem.find("the record was changed"), std::string::npos) << v->problem;
  }
}

TEST(EvidenceSeal, TheHmacBindsTheRecordToTheKey) {
  const json sealed = *Seal(Record(), {"k3y", "drill-key-2026"});
  EXPECT_EQ(sealed["integrity"]["hmacKeyId"], "drill-key-2026");
  auto v = Verify(sealed, std::string("k3y"));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->intact) << v->problem;
  EXPECT_TRUE(v->hmac_checked);
  v = Verify(sealed, std::string("other"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->intact);
  EXPECT_NE(v->problem.find("HMAC does not match"), std::string::npos);
  // Edited and resealed without the key: the sha256 matches again, the HMAC cannot.
  json forged = sealed;
  forged.erase("integrity");
  forged["rtoMilliseconds"] = 10;
  json resealed = *Seal(forged);
  resealed["integrity"]["hmacSha256"] = sealed["integrity"]["hmacSha256"];
  resealed["integrity"]["hmacKeyId"] = "drill-key-2026";
  v = Verify(resealed, std::string("k3y"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->intact);
  // A key holder refuses a record without an HMAC.
  v = Verify(*Seal(Record()), std::string("k3y"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->intact);
  EXPECT_NE(v->problem.find("no HMAC"), std::string::npos);
}

TEST(EvidenceSeal, MalformedSealsAreErrorsNotVerdicts) {
  EXPECT_FALSE(Seal(json::array()));
  EXPECT_FALSE(Seal(*Seal(Record()))) << "sealing twice";
  EXPECT_FALSE(Verify(Record())) << "not sealed";
  json r = *Seal(Record());
  r["integrity"]["sha256"] = "ABC";
  auto v = Verify(r);
  ASSERT_FALSE(v);
  EXPECT_NE(v.message().find("integrity.sha256"), std::string::npos);
  r = *Seal(Record());
  r["integrity"]["canonicalization"] = "none";
  EXPECT_FALSE(Verify(r));
  r = *Seal(Record());
  r["rtoMilliseconds"] = 1.5;
  v = Verify(r);
  ASSERT_FALSE(v);
  EXPECT_NE(v.message().find("$.rtoMilliseconds"), std::string::npos);
}

}  // namespace
}  // namespace aha::evidence

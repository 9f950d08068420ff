// Type-checked reads of JSON that came from outside this process: state keys an operator edits
// by hand, records on a remote, files on disk. Every parser of such JSON uses these instead of
// nlohmann's get<T>() / value() / operator[], which throw (type_error) or assert on a value of the
// wrong type; an uncaught throw aborts the role, and a gate that should fail static answers 500.
//
// Contract: no function here throws. Errors name the key path, e.g.
//   "simulatedOutages.outages[0].id: expected string, got number"
// `path` is the path of `obj` itself ("" at the top level); member paths are path + "." + key,
// element paths path + "[i]". Keys and paths are quoted printable (common/printable.h) when they
// are not plain identifiers, so an error message never carries raw control bytes.
//
// Get*: the member must be present, and of the type. Opt*: a missing or null member leaves *out
// untouched and is Ok; present with the wrong type is an error. As*: the value itself.
//
// Dump: the one way to serialize JSON that may contain outside bytes. nlohmann's default dump()
// throws on invalid UTF-8 (a servingRegions value of bytes ff fe, an S3 error message); Dump
// replaces invalid sequences with U+FFFD instead.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace aha::jsonget {

using Json = nlohmann::json;

// Deepest nesting Parse accepts. Every format we read is at most ~6 levels deep; the limit keeps
// recursive consumers (dump, comparison, destruction) far from the stack's end.
inline constexpr int kMaxDepth = 64;

// "null", "boolean", "number", "string", "array", "object" (and "binary"/"discarded").
const char* TypeName(const Json& v);
// Path of member `key` of the value at `path`: "a.b", or `a["we ird"]` for keys that are not
// plain identifiers ([A-Za-z0-9_-]+), or just the key at the top level.
std::string MemberPath(std::string_view path, std::string_view key);
// Path of element i of the array at `path`: "a[3]".
std::string IndexPath(std::string_view path, size_t i);

// Deepest array/object nesting in `text`, counted outside strings; stops counting past `limit`
// (returns the first depth over it). Iterative and O(n): it runs before parsing and must not share
// the recursion it guards against.
size_t NestingDepth(std::string_view text, size_t limit);

// Parses `text` as JSON (no exceptions). Errors: "<what>: not valid JSON (...)",
// "<what>: nested deeper than 64 levels".
Result<Json> Parse(std::string_view text, const std::string& what, int max_depth = kMaxDepth);

// Serializes without throwing: invalid UTF-8 becomes U+FFFD. indent < 0: one line.
std::string Dump(const Json& v, int indent = -1);

// Value checks.
Status ExpectObject(const Json& v, const std::string& path);
Status ExpectArray(const Json& v, const std::string& path);
Status AsString(const Json& v, const std::string& path, std::string* out);
Status AsBool(const Json& v, const std::string& path, bool* out);
// Integers: the JSON number must be integral (no fraction, no exponent form that parsed to a
// float) and within the range of the target type (or [lo, hi]).
Status AsInt64(const Json& v, const std::string& path, int64_t* out);
Status AsUint64(const Json& v, const std::string& path, uint64_t* out);
Status AsIntIn(const Json& v, const std::string& path, int64_t lo, int64_t hi, int64_t* out);
Status AsInt(const Json& v, const std::string& path, int* out);
// Any finite number.
Status AsDouble(const Json& v, const std::string& path, double* out);
// An array of strings.
Status AsStringList(const Json& v, const std::string& path, std::vector<std::string>* out);

// Required members of the object `obj` (an error too when obj is not an object).
Status GetString(const Json& obj, std::string_view key, std::string* out,
                 const std::string& path = "");
Status GetBool(const Json& obj, std::string_view key, bool* out, const std::string& path = "");
Status GetInt64(const Json& obj, std::string_view key, int64_t* out, const std::string& path = "");
Status GetUint64(const Json& obj, std::string_view key, uint64_t* out,
                 const std::string& path = "");
Status GetInt(const Json& obj, std::string_view key, int* out, const std::string& path = "");
Status GetDouble(const Json& obj, std::string_view key, double* out, const std::string& path = "");
Status GetStringList(const Json& obj, std::string_view key, std::vector<std::string>* out,
                     const std::string& path = "");
// The member itself, checked to be an object / array; *out points into obj.
Status GetObject(const Json& obj, std::string_view key, const Json** out,
                 const std::string& path = "");
Status GetArray(const Json& obj, std::string_view key, const Json** out,
                const std::string& path = "");

// Optional members: missing or null leaves *out as it was.
Status OptString(const Json& obj, std::string_view key, std::string* out,
                 const std::string& path = "");
Status OptBool(const Json& obj, std::string_view key, bool* out, const std::string& path = "");
Status OptInt64(const Json& obj, std::string_view key, int64_t* out, const std::string& path = "");
Status OptUint64(const Json& obj, std::string_view key, uint64_t* out,
                 const std::string& path = "");
Status OptInt(const Json& obj, std::string_view key, int* out, const std::string& path = "");
Status OptDouble(const Json& obj, std::string_view key, double* out, const std::string& path = "");
Status OptStringList(const Json& obj, std::string_view key, std::vector<std::string>* out,
                     const std::string& path = "");
// *out is nullptr when the member is missing or null.
Status OptObject(const Json& obj, std::string_view key, const Json** out,
                 const std::string& path = "");
Status OptArray(const Json& obj, std::string_view key, const Json** out,
                const std::string& path = "");

// The member `key` of `obj` when obj is an object that has it, else nullptr. Never throws.
const Json* Find(const Json& obj, std::string_view key);

}  // namespace aha::jsonget

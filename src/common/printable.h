// Printable: the one escape for outside text (record paths, server messages, state values) on its
// way to a terminal or a log line. Control bytes (C0, DEL, and the C1 range U+0080..U+009F, which
// some terminals read as escape sequences) and bytes that are not valid UTF-8 become \xNN (C1 as
// \u0080..\u009f); a backslash becomes \\ so the escape is unambiguous. Valid printable UTF-8 and
// plain ASCII pass unchanged, so ordinary text reads as before.
#pragma once

#include <string>
#include <string_view>

namespace aha {

// keep_newlines: '\n' passes (multi-line error messages on a terminal); every other control byte
// is still escaped.
std::string Printable(std::string_view s, bool keep_newlines = false);
// True when Printable(s) == s.
bool IsPrintable(std::string_view s);

}  // namespace aha

// The quoting rules of every format the MDM exports write, each with the reader that undoes it
// (the exports are checked by reading them back with these, and the pairs are fuzzed):
//   XML text (plist, ADMX/ADML), POSIX sh single quotes, PowerShell literals, .reg strings and
//   REG_MULTI_SZ hex, UTF-8 <-> UTF-16.
// Writers refuse what the format cannot carry (invalid UTF-8, XML-forbidden control characters,
// NUL in a shell word) rather than emit something that reads back differently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::settings::mdm {

// --- Unicode -------------------------------------------------------------------------------
Result<std::u16string> utf8ToUtf16(std::string_view utf8);   // error on invalid UTF-8
Result<std::string> utf16ToUtf8(std::u16string_view utf16);  // error on unpaired surrogates

// --- XML (element content and attribute values) ----------------------------------------------
// & < > " ' become entities and CR becomes &#13; (a raw CR would be read back as LF). XML 1.0
// cannot carry other C0 controls, U+FFFE/U+FFFF or invalid UTF-8 at all: an error names them.
Result<std::string> xmlEscape(std::string_view utf8);

// --- POSIX sh ----------------------------------------------------------------------------------
// One word in single quotes: everything is literal inside '...' except ', written '\''.
// Error on NUL (no shell variable or argument can hold it).
Result<std::string> shQuote(std::string_view s);
// Reads back one word made of '...' and \x pieces starting at `pos` (what shQuote writes, and the
// usual hand-written variants); stops at unquoted whitespace, ';' or end; advances `pos`.
Result<std::string> shReadWord(std::string_view text, size_t& pos);

// --- PowerShell --------------------------------------------------------------------------------
// A single-quoted literal for ASCII text: only the quote is special ('' is one '). PowerShell also
// ends a single-quoted string at the typographic quotes U+2018..U+201B, so non-ASCII is refused
// here; use psTextExpression for arbitrary text.
Result<std::string> psQuote(std::string_view ascii);
// Arbitrary UTF-8 as a PowerShell expression `-join @(...)` whose elements are single-quoted runs
// of printable ASCII and [char]0xHHHH UTF-16 code units for everything else (CR, LF, non-ASCII):
// the script is pure ASCII, so it reads the same whatever encoding or line-ending conversion
// PowerShell 5.1 / Intune / a text editor applies to the .ps1 itself.
Result<std::string> psTextExpression(std::string_view utf8);
// Readers, following PowerShell's tokenizer (any of ' U+2018 U+2019 U+201A U+201B quotes, a
// doubled quote is one quote). `pos` is at the opening quote / at "-join"; advanced past it.
Result<std::string> psReadQuoted(std::string_view text, size_t& pos);
Result<std::string> psReadTextExpression(std::string_view text, size_t& pos);

// --- .reg (regedit "Windows Registry Editor Version 5.00") -----------------------------------
// "..." with \ and " backslash-escaped (what regedit writes for REG_SZ data and value names).
// Error on CR/LF (a .reg string cannot span lines).
Result<std::string> regQuote(std::string_view s);
// `hex(7):` data of a REG_MULTI_SZ: UTF-16LE strings each NUL-terminated plus a final NUL,
// as comma-separated bytes, wrapped like regedit (",\" + CRLF + two spaces). `prefixLen` is the
// length of `"name"=` already on the line. Error on an empty string (it would end the list).
Result<std::string> regMultiSzHex(const std::vector<std::string>& items, size_t prefixLen);
// Inverse: the UTF-16LE bytes of a REG_MULTI_SZ -> its strings.
Result<std::vector<std::string>> regMultiSzFromBytes(const std::vector<unsigned char>& bytes);

// Lowercase hex SHA-256 of the bytes (the scripts check what they wrote against it).
std::string sha256Hex(std::string_view bytes);

}  // namespace eci::settings::mdm

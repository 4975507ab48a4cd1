// The quoting rules of the MDM exports and their readers (mdm_formats.h), and the .reg reader.
#include "eci/settings/mdm_formats.h"

#include <gtest/gtest.h>

#include <random>

#include "eci/settings/org_sources.h"
#include "eci/settings/reg_file.h"

namespace eci::settings::mdm {
namespace {

// Nasty pieces: every format's special characters, each other's syntax, and Unicode (U+2019 is a
// PowerShell quote; U+1F600 needs a surrogate pair; U+2028 is a JS line separator).
const std::vector<std::string> kPieces = {"'",           "\"",
                                          "\\",          "$",
                                          "`",           "]]>",
                                          "\n",          "\r\n",
                                          "\r",          "\t",
                                          "&",           "<",
                                          ">",           "%PATH%",
                                          "$(id)",       "${x}",
                                          ";",           "é",
                                          "😀",           "\u2019",
                                          "\u2018",      "\u201a\u201b",
                                          "\u2028",      "'\\''",
                                          "''",          "@(",
                                          ")",           "-join",
                                          "[char]0x",    "Set-Content",
                                          "ECI_FILE_1=", "install_file ",
                                          " ",           "hex(7):",
                                          "#",           "a",
                                          "Z",           "0",
                                          "\xc2\xa0",    "&#13;"};

std::string randomText(std::mt19937& rng, bool allowCr = true) {
  std::uniform_int_distribution<size_t> len(0, 12);
  std::uniform_int_distribution<size_t> pick(0, kPieces.size() - 1);
  std::string s;
  for (size_t n = len(rng); n > 0; --n) {
    const auto& p = kPieces[pick(rng)];
    if (!allowCr && p.find('\r') != std::string::npos) continue;
    s += p;
  }
  return s;
}

TEST(MdmFormats, Utf16RoundTripAndErrors) {
  const std::string s = "a\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\x99";
  auto u = utf8ToUtf16(s);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->size(), 5u);  // a, é, surrogate pair, ’
  EXPECT_EQ(*utf16ToUtf8(*u), s);
  EXPECT_FALSE(utf8ToUtf16("\xc0\xaf").ok());      // overlong '/'
  EXPECT_FALSE(utf8ToUtf16("\xed\xa0\x80").ok());  // encoded surrogate
  EXPECT_FALSE(utf8ToUtf16("\xf0\x9f\x98").ok());  // truncated
  EXPECT_FALSE(utf16ToUtf8(std::u16string(1, char16_t(0xD800))).ok());
}

TEST(MdmFormats, XmlEscape) {
  EXPECT_EQ(*xmlEscape("a&b<c>d\"e'f]]>\r\n\tg"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f]]&gt;&#13;\n\tg");
  EXPECT_EQ(*xmlEscape("é😀"), "é😀");
  EXPECT_FALSE(xmlEscape(std::string("a\x01b")).ok());
  EXPECT_FALSE(xmlEscape(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(xmlEscape("\xef\xbf\xbe").ok());  // U+FFFE
  EXPECT_FALSE(xmlEscape("\xff").ok());
}

TEST(MdmFormats, ShellQuoteRoundTrip) {
  EXPECT_EQ(*shQuote("it's $HOME\n"), "'it'\\''s $HOME\n'");
  EXPECT_FALSE(shQuote(std::string("a\0b", 3)).ok());
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    const std::string s = randomText(rng);
    auto q = shQuote(s);
    ASSERT_TRUE(q.ok());
    const std::string line = "X=" + *q + " next";
    size_t pos = 2;
    auto back = shReadWord(line, pos);
    ASSERT_TRUE(back.ok()) << back.error().str();
    EXPECT_EQ(*back, s);
    EXPECT_EQ(line.substr(pos), " next");
  }
  size_t pos = 0;
  EXPECT_FALSE(shReadWord("'unterminated", pos).ok());
  pos = 0;
  EXPECT_FALSE(shReadWord("\"$HOME\"", pos).ok());  // expansions are not literal
}

TEST(MdmFormats, PowerShellLiterals) {
  EXPECT_EQ(*psQuote("it's"), "'it''s'");
  EXPECT_FALSE(psQuote("it\xe2\x80\x99s").ok());  // U+2019 would end the string
  // PowerShell's tokenizer: typographic quotes quote too, doubled is one (the second).
  const std::string typo = "'it\xe2\x80\x99\xe2\x80\x99s'";
  size_t pos = 0;
  EXPECT_EQ(*psReadQuoted(typo, pos), "it\xe2\x80\x99s");
  EXPECT_EQ(pos, typo.size());
  pos = 0;
  const std::string early = "'it\xe2\x80\x99s'";  // U+2019 ends it before "s'"
  EXPECT_EQ(*psReadQuoted(early, pos), "it");

  auto expr = psTextExpression("{\r\n  \"a\": \"it's \xe2\x80\x99 \xf0\x9f\x98\x80\"\n}");
  ASSERT_TRUE(expr.ok());
  for (unsigned char c : *expr) EXPECT_LT(c, 0x80);  // the script stays pure ASCII
  EXPECT_NE(expr->find("[char]0x000D\n[char]0x000A"), std::string::npos);
  EXPECT_NE(expr->find("[char]0x2019"), std::string::npos);
  EXPECT_NE(expr->find("[char]0xD83D\n[char]0xDE00"), std::string::npos);
  EXPECT_NE(expr->find("it''s "), std::string::npos);

  std::mt19937 rng(2);
  for (int i = 0; i < 2000; ++i) {
    const std::string s = randomText(rng);
    auto e = psTextExpression(s);
    ASSERT_TRUE(e.ok());
    const std::string script = "$X = " + *e + "\n$Y = 1\n";
    size_t p = 5;
    auto back = psReadTextExpression(script, p);
    ASSERT_TRUE(back.ok()) << back.error().str();
    EXPECT_EQ(*back, s);
    EXPECT_EQ(script.substr(p), "\n$Y = 1\n");
  }
  EXPECT_EQ(*psTextExpression(""), "-join @(\n)");
}

TEST(MdmFormats, RegQuoteAndMultiSz) {
  EXPECT_EQ(*regQuote("C:\\x \"y\""), "\"C:\\\\x \\\"y\\\"\"");
  EXPECT_FALSE(regQuote("a\nb").ok());
  EXPECT_FALSE(regMultiSzHex({"a", ""}, 0).ok());
  auto hex = regMultiSzHex({"myorg1", "my-org.2"}, 14);
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(hex->rfind("hex(7):6d,00,79,00", 0), 0u);
  EXPECT_NE(hex->find(",\\\r\n  "), std::string::npos);  // wrapped like regedit
  EXPECT_EQ(hex->substr(hex->size() - 11), "00,00,00,00");
}

std::string utf16le(std::string_view utf8) {
  auto u = utf8ToUtf16(utf8);
  std::string out = "\xFF\xFE";
  for (char16_t c : *u) {
    out += static_cast<char>(c & 0xFF);
    out += static_cast<char>(c >> 8);
  }
  return out;
}

TEST(RegFile, ReadsWhatRegeditWrites) {
  auto hex = regMultiSzHex({"myorg1", "myorg2"}, 14);
  const std::string text =
      "Windows Registry Editor Version 5.00\r\n\r\n"
      "; a comment\r\n"
      "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop]\r\n"
      "\"allowedOrgs\"=" +
      *hex +
      "\r\n"
      "\"Path \\\"q\\\"\"=\"C:\\\\Program Files\\\\D\"\r\n"
      "\"n\"=dword:0000002a\r\n"
      "\"e\"=hex(2):25,00,41,00,25,00,00,00\r\n"
      "@=\"default\"\r\n"
      "\"gone\"=-\r\n";
  auto keys = parseRegFile(utf16le(text), "t.reg");
  ASSERT_TRUE(keys.ok()) << keys.error().str();
  ASSERT_EQ(keys->size(), 1u);
  const auto* v = findRegValue(
      *keys, "hkey_local_machine\\software\\policies\\docker\\docker desktop", "ALLOWEDORGS");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, RegValue::Type::kMultiSz);
  EXPECT_EQ(v->strings, (std::vector<std::string>{"myorg1", "myorg2"}));
  // The agent's own policy-key reader on what Windows would hand it.
  auto orgs = parsePolicyKeyValue(*policyKeyText(*v), "key");
  ASSERT_TRUE(orgs.ok());
  EXPECT_EQ(**orgs, (std::vector<std::string>{"myorg1", "myorg2"}));
  const auto& vals = (*keys)[0].values;
  EXPECT_EQ(vals[1].name, "Path \"q\"");
  EXPECT_EQ(vals[1].strings[0], "C:\\Program Files\\D");
  EXPECT_EQ(vals[2].number, 42u);
  EXPECT_EQ(vals[3].strings[0], "%A%");
  EXPECT_EQ(vals[4].name, "");
  EXPECT_EQ(findRegValue(*keys, (*keys)[0].path, "gone"), nullptr);
  // UTF-8 / REGEDIT4 too.
  auto k4 = parseRegFile("REGEDIT4\n[HKEY_CURRENT_USER\\X]\n\"a\"=\"b\"\n", "t");
  ASSERT_TRUE(k4.ok());
  EXPECT_EQ((*k4)[0].values[0].strings[0], "b");
}

TEST(RegFile, RefusesWithLineNumbers) {
  auto bad = [](const std::string& body) {
    auto r = parseRegFile("Windows Registry Editor Version 5.00\n" + body, "f.reg");
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? std::string() : r.error().str();
  };
  EXPECT_NE(bad("\"a\"=\"b\"\n").find("f.reg:2: a value before any [key]"), std::string::npos);
  EXPECT_NE(bad("[K]\n\"a\"=\"b\\n\"\n").find("f.reg:3"), std::string::npos);
  bad("[K]\n\"a\"=dword:123456789\n");
  bad("[K]\n\"a\"=hex(7):61,00,\n");
  bad("[K]\n\"a\"=hex(7):61,00,00,00,00,00,62,00\n");  // data after the final NUL
  bad("[K]\n\"a\"=\"unterminated\n");
  bad("[K\n");
  bad("[K]\n\"a\"=hex(7):61,00,\\\n");  // continuation at EOF
  bad("[K]\nvalue\n");
  EXPECT_FALSE(parseRegFile("not a reg file\n", "f").ok());
  EXPECT_FALSE(parseRegFile("", "f").ok());
  EXPECT_FALSE(parseRegFile("\xFF\xFE\x41", "f").ok());  // odd UTF-16
}

TEST(RegFile, MultiSzRandomRoundTrip) {
  std::mt19937 rng(3);
  for (int i = 0; i < 500; ++i) {
    std::vector<std::string> items;
    for (int n = static_cast<int>(rng() % 4); n >= 0; --n) {
      std::string s = randomText(rng, false);
      std::string clean;
      for (char c : s) {
        if (c != '\n') clean += c;  // REG_MULTI_SZ strings are single lines
      }
      if (!clean.empty()) items.push_back(clean);
    }
    auto hex = regMultiSzHex(items, 14);
    ASSERT_TRUE(hex.ok());
    auto keys = parseRegFile(
        utf16le("Windows Registry Editor Version 5.00\r\n[K]\r\n\"allowedOrgs\"=" + *hex + "\r\n"),
        "r");
    ASSERT_TRUE(keys.ok()) << keys.error().str();
    EXPECT_EQ((*keys)[0].values[0].strings, items);
  }
}

}  // namespace
}  // namespace eci::settings::mdm

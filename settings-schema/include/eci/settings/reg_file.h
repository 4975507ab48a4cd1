// A reader for regedit's .reg files ("Windows Registry Editor Version 5.00", UTF-16LE with BOM as
// regedit writes them, or UTF-8; "REGEDIT4"): keys, and values of the types a policy file uses.
// Used to check the .reg exports, and to read an admin's existing .reg into the GUI. Bounded and
// strict: anything it does not understand is an error with line number, never a silent skip.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::settings {

constexpr size_t kMaxRegFileBytes = 4u << 20;

struct RegValue {
  enum class Type { kDelete, kSz, kExpandSz, kMultiSz, kDword, kQword, kBinary, kOther };
  std::string name;  // "" = the key's default value (@)
  Type type = Type::kSz;
  std::vector<std::string> strings;  // kSz / kExpandSz (one) / kMultiSz (each)
  uint64_t number = 0;               // kDword / kQword
  std::vector<unsigned char> bytes;  // the raw data of every hex type
};

struct RegKey {
  std::string
      path;  // as written, e.g. "HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Docker\Docker Desktop"
  bool remove = false;  // [-path]
  std::vector<RegValue> values;
};

Result<std::vector<RegKey>> parseRegFile(std::string_view bytes, const std::string& origin);

// The value `name` of key `path` (case-insensitive, as Windows compares them); nullptr if absent.
const RegValue* findRegValue(const std::vector<RegKey>& keys, std::string_view path,
                             std::string_view name);

// What the agent's Platform::readPolicyKey returns for a REG_MULTI_SZ / REG_SZ value: the strings
// joined by '\n' (feed it to parsePolicyKeyValue).
std::optional<std::string> policyKeyText(const RegValue& v);

}  // namespace eci::settings

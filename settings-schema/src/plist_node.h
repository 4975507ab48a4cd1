// One plist lookup for the settings library's two plist readers (org_sources.cc reads allowedOrgs
// from profiles and managed preferences; mdm_verify.cc re-reads the exports it wrote), so both
// see the same value for the same document. Not installed.
#pragma once

#include <pugixml.hpp>
#include <string_view>

namespace eci::settings::plist {

// The value element following <key>name</key> in a plist <dict> (whitespace, comments skipped);
// an empty node when the key is absent.
inline pugi::xml_node dictValue(pugi::xml_node dict, std::string_view name) {
  for (auto k = dict.child("key"); k; k = k.next_sibling("key")) {
    if (std::string_view(k.child_value()) == name) {
      auto v = k.next_sibling();
      while (v && v.type() != pugi::node_element) v = v.next_sibling();
      return v;
    }
  }
  return {};
}

}  // namespace eci::settings::plist

# Turns a text file into a C++ source defining `std::string_view <SYMBOL>()`, so binaries carry the
# JSON Schemas and do not depend on where (or whether) the schema files are installed.
# Usage: cmake -DINPUT=file.json -DOUTPUT=file.cc -DSYMBOL=name -P embed_file.cmake
file(READ "${INPUT}" content)
string(FIND "${content}" ")eci_embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )eci_embed\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by embed_file.cmake. Do not edit.\n"
  "#include <string_view>\n"
  "namespace eci::settings::embedded {\n"
  "std::string_view ${SYMBOL}() {\n"
  "  static constexpr std::string_view kText = R\"eci_embed(${content})eci_embed\";\n"
  "  return kText;\n"
  "}\n"
  "}  // namespace eci::settings::embedded\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")

#pragma once
// A small, strict CSV reader and writer (RFC 4180: comma separated, fields optionally in double quotes,
// "" for a quote inside a quoted field, quoted fields may hold commas and newlines). Accepted on input:
// a UTF-8 byte-order mark, CRLF or LF line ends, blank lines (skipped). Rejected with the file and line:
// an unterminated quote, text after a closing quote, a row whose field count differs from the header,
// duplicate or empty header names. Strictness is the point — a silently misparsed label file relabels
// images.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

struct CsvTable {
  std::string source;                         // file name, for messages
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;                     // 1-based line where each row starts

  // Index of a column, or -1.
  int find_column(std::string_view name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    return -1;
  }
  // Index of a column; a DataError naming the file, the column and the columns it does have otherwise.
  int column(std::string_view name) const {
    const int i = find_column(name);
    if (i < 0) throw DataError(detail::concat(source, ": no column '", name, "' (columns: ", header_list(), ")"));
    return i;
  }
  std::string header_list() const {
    std::string s;
    for (std::size_t i = 0; i < header.size(); ++i) s += (i ? "," : "") + header[i];
    return s;
  }
};

inline CsvTable parse_csv(std::string_view text, const std::string& source) {
  CsvTable t;
  t.source = source;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);

  std::size_t i = 0;
  int line = 1;
  // Parses one record starting at text[i]; returns false at end of input.
  auto next_record = [&](std::vector<std::string>& fields, int& start_line) -> bool {
    fields.clear();
    // Skip blank lines.
    while (i < text.size() && (text[i] == '\n' || text[i] == '\r')) {
      if (text[i] == '\n') ++line;
      ++i;
    }
    if (i >= text.size()) return false;
    start_line = line;
    std::string field;
    for (;;) {
      field.clear();
      if (i < text.size() && text[i] == '"') {
        ++i;
        for (;;) {
          if (i >= text.size())
            throw DataError(detail::concat(source, ": line ", start_line, ": unterminated quoted field"));
          const char c = text[i++];
          if (c == '"') {
            if (i < text.size() && text[i] == '"') {
              field += '"';
              ++i;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line;
            field += c;
          }
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
          throw DataError(detail::concat(source, ": line ", line, ": unexpected text after a closing quote"));
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"')
            throw DataError(detail::concat(source, ": line ", line, ": quote inside an unquoted field"));
          field += text[i++];
        }
      }
      fields.push_back(field);
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      // End of record: CRLF, LF, lone CR or end of input.
      if (i < text.size() && text[i] == '\r') ++i;
      if (i < text.size() && text[i] == '\n') {
        ++i;
        ++line;
      }
      return true;
    }
  };

  int start = 0;
  if (!next_record(t.header, start)) throw DataError(source + ": empty CSV file (no header row)");
  for (std::size_t a = 0; a < t.header.size(); ++a) {
    SKN_REQUIRE(!t.header[a].empty(), DataError, source, ": header column ", a + 1, " has no name");
    for (std::size_t b = 0; b < a; ++b)
      SKN_REQUIRE(t.header[a] != t.header[b], DataError, source, ": header names column '", t.header[a], "' twice");
  }
  std::vector<std::string> fields;
  while (next_record(fields, start)) {
    if (fields.size() != t.header.size())
      throw DataError(detail::concat(source, ": line ", start, ": ", fields.size(), " fields, but the header has ",
                                     t.header.size(), " (", t.header_list(), ")"));
    t.rows.push_back(fields);
    t.lines.push_back(start);
  }
  return t;
}

// A field, quoted when it needs to be (comma, quote, CR/LF, leading or trailing space).
inline std::string csv_field(std::string_view s) {
  // Also quoted: a leading UTF-8 byte-order mark, which the parser would strip at the start of a file.
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ' || s.substr(0, 3) == "\xEF\xBB\xBF");
  for (char c : s)
    if (c == ',' || c == '"' || c == '\n' || c == '\r') quote = true;
  if (!quote) return std::string(s);
  std::string r = "\"";
  for (char c : s) {
    if (c == '"') r += '"';
    r += c;
  }
  return r + "\"";
}

inline std::string csv_row(const std::vector<std::string>& fields) {
  // A lone empty field is written as "" so the line is not mistaken for a blank line.
  if (fields.size() == 1 && fields[0].empty()) return "\"\"\n";
  std::string r;
  for (std::size_t i = 0; i < fields.size(); ++i) r += (i ? "," : "") + csv_field(fields[i]);
  return r + "\n";
}

}  // namespace skinnet

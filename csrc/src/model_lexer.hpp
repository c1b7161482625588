// Lexical rules of the kizuna model format (docs/model-format.md, "Lexical rules"), shared by the
// C++ parser; python/kizuna/model_text.py implements the same rules, and
// tests/test_model_grammar.py feeds the same inputs to both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kizuna {
namespace lexer {

struct Statement {
    int number;                       // 1-based line number
    std::vector<std::string> tokens;  // a meta line gives {"meta", key, value}
};

// The statements (meaningful lines) of a model text; throws ModelFormatError "<source>: ..." for
// NUL bytes, invalid UTF-8 and control characters other than TAB and the CR of a CRLF.
std::vector<Statement> statements(const std::string& text, const std::string& source);

// Decimal number token -> value. Returns "" on success, else the problem ("must be a number,
// got '...'", "must be a finite number, got '...'").
std::string number(const std::string& token, double& value);

// 1 to 9 decimal digits -> value; false otherwise.
bool integer(const std::string& token, int& value);

// CRC-32 (zlib's) of the canonical form of statements [first, last): tokens joined by one space,
// each statement followed by '\n'; as 8 lowercase hex digits.
std::string canonical_checksum(const std::vector<Statement>& items, size_t first, size_t last);

bool is_checksum_value(const std::string& token);

}  // namespace lexer
}  // namespace kizuna

// Lexical rules of the kizuna model format; see model_lexer.hpp and docs/model-format.md.
#include "model_lexer.hpp"

#include <cerrno>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "kizuna/errors.hpp"

#if defined(__GLIBC__) || defined(__APPLE__)
#include <locale.h>
#if defined(__APPLE__)
#include <xlocale.h>
#endif
#define KIZUNA_HAVE_STRTOD_L 1
#endif

namespace kizuna {
namespace lexer {
namespace {

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 if invalid (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in Python's strict decoder).
size_t utf8_length(const std::string& s, size_t i) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) n = 3;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else return 0;
    if (i + n > s.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    return n;
}

bool blank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string> split(const std::string& s, size_t begin, size_t end) {
    std::vector<std::string> tokens;
    size_t i = begin;
    while (i < end) {
        while (i < end && blank(s[i])) ++i;
        const size_t start = i;
        while (i < end && !blank(s[i])) ++i;
        if (i > start) tokens.push_back(s.substr(start, i - start));
    }
    return tokens;
}

std::string control_message(unsigned char c) {
    char code[8];
    std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(c));
    if (c == '\r')
        return std::string("control character ") + code +
               " (a carriage return not followed by a line feed: lines must end with LF or CRLF)";
    return std::string("control character ") + code + " (only spaces and tabs may separate tokens)";
}

// One statement from line [begin, end) (no line terminator); false for an empty line.
bool statement(const std::string& s, size_t begin, size_t end, int number, Statement& out) {
    size_t i = begin;
    while (i < end && blank(s[i])) ++i;
    size_t j = i;
    while (j < end && !blank(s[j])) ++j;
    if (s.compare(i, j - i, "meta") == 0 && j - i == 4) {
        // meta <key> <value>: the value is the rest of the line ('#' included), blanks trimmed
        size_t k = j;
        while (k < end && blank(s[k])) ++k;
        size_t key_end = k;
        while (key_end < end && !blank(s[key_end])) ++key_end;
        size_t v = key_end, v_end = end;
        while (v < v_end && blank(s[v])) ++v;
        while (v_end > v && blank(s[v_end - 1])) --v_end;
        out = {number, {"meta", s.substr(k, key_end - k), s.substr(v, v_end - v)}};
        return true;
    }
    size_t stop = s.find('#', begin);
    if (stop == std::string::npos || stop > end) stop = end;
    out = {number, split(s, begin, stop)};
    return !out.tokens.empty();
}

uint32_t crc32_update(uint32_t crc, const std::string& bytes) {
    static uint32_t table[256];
    static bool ready = [] {
        for (uint32_t n = 0; n < 256; ++n) {
            uint32_t c = n;
            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return true;
    }();
    (void)ready;
    crc = ~crc;
    for (unsigned char c : bytes) crc = table[(crc ^ c) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

// strtod in the "C" locale, whatever the host program's LC_NUMERIC
double strtod_c(const char* s, char** end) {
#ifdef KIZUNA_HAVE_STRTOD_L
    static locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(0));
    if (c_locale) return strtod_l(s, end, c_locale);
#endif
    return std::strtod(s, end);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?
bool decimal_literal(const std::string& t) {
    size_t i = 0;
    const size_t n = t.size();
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    size_t digits = 0;
    while (i < n && is_digit(t[i])) ++i, ++digits;
    if (i < n && t[i] == '.') {
        ++i;
        while (i < n && is_digit(t[i])) ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
        size_t exponent = 0;
        while (i < n && is_digit(t[i])) ++i, ++exponent;
        if (exponent == 0) return false;
    }
    return i == n;
}

bool nonfinite_word(const std::string& t) {
    std::string w;
    for (size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0; i < t.size(); ++i)
        w += static_cast<char>(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]);
    return w == "nan" || w == "inf" || w == "infinity";
}

}  // namespace

std::vector<Statement> statements(const std::string& text, const std::string& source) {
    if (text.find('\0') != std::string::npos)
        throw ModelFormatError(source + ": not a kizuna model (binary data)");
    for (size_t i = 0; i < text.size();) {
        const size_t n = utf8_length(text, i);
        if (n == 0) throw ModelFormatError(source + ": not a kizuna model (binary or not UTF-8 text)");
        i += n;
    }
    size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // byte-order mark
    std::vector<Statement> items;
    int number = 0;
    while (pos <= text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        size_t end = eol;
        if (end > pos && text[end - 1] == '\r') --end;
        ++number;
        for (size_t k = pos; k < end; ++k) {
            const unsigned char c = static_cast<unsigned char>(text[k]);
            if ((c < 0x20 && c != '\t') || c == 0x7F)
                throw ModelFormatError(source + ":" + std::to_string(number) + ": " + control_message(c));
        }
        Statement s;
        if (statement(text, pos, end, number, s)) items.push_back(std::move(s));
        pos = eol + 1;
    }
    return items;
}

std::string number(const std::string& token, double& value) {
    if (nonfinite_word(token)) return "must be a finite number, got '" + token + "'";
    if (!decimal_literal(token)) return "must be a number, got '" + token + "'";
    char* end = nullptr;
    value = strtod_c(token.c_str(), &end);
    if (end != token.c_str() + token.size()) return "must be a number, got '" + token + "'";
    // underflow (ERANGE with a tiny or zero result) keeps the correctly rounded value
    if (!std::isfinite(value))
        return "must be a finite number, got '" + token + "' (beyond the range of a double)";
    return "";
}

bool integer(const std::string& token, int& value) {
    if (token.empty() || token.size() > 9) return false;
    for (char c : token)
        if (!is_digit(c)) return false;
    value = std::atoi(token.c_str());
    return true;
}

std::string canonical_checksum(const std::vector<Statement>& items, size_t first, size_t last) {
    uint32_t crc = 0;
    std::string line;
    for (size_t i = first; i < last && i < items.size(); ++i) {
        line.clear();
        for (size_t k = 0; k < items[i].tokens.size(); ++k) {
            if (k) line += ' ';
            line += items[i].tokens[k];
        }
        line += '\n';
        crc = crc32_update(crc, line);
    }
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(crc));
    return hex;
}

bool is_checksum_value(const std::string& token) {
    if (token.size() != 8) return false;
    for (char c : token)
        if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return false;
    return true;
}

}  // namespace lexer
}  // namespace kizuna

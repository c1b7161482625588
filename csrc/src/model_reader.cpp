// Parser of the kizuna model text format, version 1 (docs/model-format.md).
// Strict: every deviation raises ModelFormatError "<source>:<line>: expected ..., got ...".
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "kizuna/errors.hpp"
#include "kizuna/model.hpp"
#include "model_lexer.hpp"

namespace kizuna {
namespace {

const char* const kMagic = "kizuna-model";
constexpr int kFormatVersion = 1;

const std::vector<std::string> kCutoffNames = {"hard", "cos", "tanhu", "tanh", "exp",
                                               "poly1", "poly2", "poly3", "poly4"};
const std::vector<std::string> kCoreNames = {"poly1", "poly2", "poly3", "poly4", "exp"};
const std::vector<std::string> kActivationNames = {
    "linear", "tanh", "logistic", "softplus", "relu", "gaussian", "cos",
    "revlogistic", "negexp", "harmonic", "silu", "shifted_softplus"};
const std::vector<std::string> kScalingNames = {"none", "scale", "center", "scale_center",
                                                "scale_sigma"};
// the kind names and each kind's parameters, from the table of kinds (sf_kinds.hpp)
std::vector<std::string> split_words(const char* text) {
    std::vector<std::string> out;
    std::string word;
    for (const char* c = text;; ++c) {
        if (*c == ' ' || *c == '\0') {
            if (!word.empty()) out.push_back(word);
            word.clear();
            if (*c == '\0') return out;
        } else {
            word += *c;
        }
    }
}
const std::vector<std::string> kSFKindNames = [] {
    std::vector<std::string> names;
    for (const SFKindInfo& k : kSFKinds) names.push_back(k.name);
    return names;
}();
const std::vector<std::vector<std::string>> kSFParameters = [] {
    std::vector<std::vector<std::string>> parameters;
    for (const SFKindInfo& k : kSFKinds) parameters.push_back(split_words(k.parameters));
    return parameters;
}();
// may be absent: a file without angle_asymmetric means angle_asymmetric = asymmetric (files
// written before the flag existed used 'asymmetric' for both bumps)
const std::vector<std::string> kOptionalParameters = {"angle_asymmetric"};

// 118 element symbols (index + 1 = atomic number)
const char* const kSymbols[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

int find(const std::vector<std::string>& v, const std::string& x) {
    for (size_t i = 0; i < v.size(); ++i)
        if (v[i] == x) return static_cast<int>(i);
    return -1;
}

std::string fmt(double x) {
    std::ostringstream os;
    os.precision(17);
    os << x;
    return os.str();
}

using Line = lexer::Statement;

class Lines {
  public:
    Lines(const std::string& text, std::string source)
        : source_(std::move(source)), items_(lexer::statements(text, source_)) {
        tokens_from_.assign(items_.size() + 1, 0);
        for (size_t k = items_.size(); k-- > 0;) tokens_from_[k] = tokens_from_[k + 1] + items_[k].tokens.size();
    }

    [[noreturn]] void fail(const std::string& message, int number = -1) const {
        if (number < 0 && pos_ < items_.size()) number = items_[pos_].number;
        throw ModelFormatError(source_ + ":" + (number < 0 ? std::string("end") : std::to_string(number)) +
                               ": " + message);
    }

    const Line* peek() const { return pos_ < items_.size() ? &items_[pos_] : nullptr; }
    size_t position() const { return pos_; }
    const std::vector<Line>& items() const { return items_; }
    const std::string& source() const { return source_; }
    // number of tokens from the current statement to the end of the file
    size_t tokens_left() const { return tokens_from_[pos_]; }

    const Line& next(const std::string& keyword, const std::string& expectation) {
        if (pos_ >= items_.size())
            throw ModelFormatError(source_ + ": unexpected end of file (truncated?): expected '" +
                                   expectation + "'");
        const Line& line = items_[pos_];
        if (line.tokens[0] != keyword) {
            std::string got = join(line.tokens, " ");
            if (got.size() > 120) got = got.substr(0, 120);
            fail("expected '" + expectation + "', got '" + got + "'");
        }
        ++pos_;
        return line;
    }

    void count(const Line& line, size_t n, const std::string& expectation) const {
        if (line.tokens.size() != n)
            fail("expected '" + expectation + "' (" + std::to_string(n - 1) + " value(s) after '" +
                     line.tokens[0] + "'), got " + std::to_string(line.tokens.size() - 1),
                 line.number);
    }

    double number(const std::string& token, const std::string& what, int line) const {
        double v = 0.0;
        const std::string problem = lexer::number(token, v);
        if (!problem.empty()) fail(what + " " + problem, line);
        return v;
    }

    int integer(const std::string& token, const std::string& what, int line, int minimum) const {
        int v = 0;
        if (!lexer::integer(token, v) || v < minimum)
            fail(what + " must be an integer >= " + std::to_string(minimum) + ", got '" + token + "'",
                 line);
        return v;
    }

    bool legacy_angle_asymmetric = false;  // an old file with asymmetric=1 compact angular functions

  private:
    std::string source_;
    std::vector<Line> items_;
    std::vector<size_t> tokens_from_;
    size_t pos_ = 0;
};

SymmetryFunction read_sf(Lines& lines, const std::vector<std::string>& elements,
                         const std::string& symbol, int num_channels) {
    const Line& line = lines.next("sf", "sf <kind> <neighbour element(s)> <name>=<value> ...");
    const auto& t = line.tokens;
    const int kind = t.size() > 1 ? find(kSFKindNames, t[1]) : -1;
    if (kind < 0)
        lines.fail("unknown symmetry-function kind '" + (t.size() > 1 ? t[1] : std::string("nothing")) +
                       "'; expected one of " + join(kSFKindNames),
                   line.number);
    SymmetryFunction sf;
    sf.kind = static_cast<SFKind>(kind);
    const size_t n_neigh = sf.weighted() ? 0 : sf.angular() ? 2 : 1;
    if (t.size() < 2 + n_neigh)
        lines.fail("'" + t[1] + "' needs " + std::to_string(n_neigh) +
                       " neighbour element(s) before the parameters", line.number);
    int neigh[2] = {-1, -1};
    for (size_t a = 0; a < n_neigh; ++a) {
        const std::string& e = t[2 + a];
        if (e.find('=') != std::string::npos)
            lines.fail("'" + t[1] + "' needs " + std::to_string(n_neigh) +
                           " neighbour element(s) before the parameters", line.number);
        neigh[a] = find(elements, e);
        if (neigh[a] < 0)
            lines.fail("neighbour element '" + e + "' of a " + symbol +
                           " symmetry function is not in the model's elements [" + join(elements) + "]",
                       line.number);
    }
    sf.e1 = neigh[0];
    sf.e2 = neigh[1];
    if (n_neigh == 2 && sf.e1 > sf.e2) std::swap(sf.e1, sf.e2);
    const auto& expected = kSFParameters[kind];
    std::set<std::string> seen;
    for (size_t a = 2 + n_neigh; a < t.size(); ++a) {
        const auto eq = t[a].find('=');
        if (eq == std::string::npos) lines.fail("expected <name>=<value>, got '" + t[a] + "'", line.number);
        const std::string name = t[a].substr(0, eq), value = t[a].substr(eq + 1);
        if (find(expected, name) < 0)
            lines.fail("unknown parameter '" + name + "' for '" + t[1] + "'; expected " + join(expected),
                       line.number);
        if (!seen.insert(name).second) lines.fail("parameter '" + name + "' given twice", line.number);
        if (name == "cutoff") {
            const int c = find(kCutoffNames, value);
            if (c < 0)
                lines.fail("unknown cutoff '" + value + "'; expected one of " + join(kCutoffNames),
                           line.number);
            sf.cutoff = static_cast<CutoffKind>(c);
        } else if (name == "core") {
            const int c = find(kCoreNames, value);
            if (c < 0)
                lines.fail("unknown core '" + value + "'; expected one of " + join(kCoreNames), line.number);
            sf.core = static_cast<CoreKind>(c);
        } else if (name == "channel") {
            // 1-based in the file, 0-based in the core
            if (num_channels == 0)
                lines.fail("'" + t[1] + "' needs element weights but the model has no 'channels' statement "
                           "(expected 'channels <k>' and one 'weights <element> <k values>' line per element "
                           "after 'committee')", line.number);
            const int c = lines.integer(value, "channel", line.number, 1);
            if (c > num_channels)
                lines.fail("channel must be in 1.." + std::to_string(num_channels) + " (the model's channels), got " +
                               value, line.number);
            sf.channel = c - 1;
        } else if (name == "asymmetric" || name == "angle_asymmetric") {
            if (value != "0" && value != "1")
                lines.fail(name + " must be 0 or 1, got '" + value + "'", line.number);
            (name == "asymmetric" ? sf.asymmetric : sf.angle_asymmetric) = value == "1";
        } else {
            const double v = lines.number(value, "parameter '" + name + "'", line.number);
            if (name == "eta") sf.eta = v;
            else if (name == "rs") sf.rs = v;
            else if (name == "zeta") sf.zeta = v;
            else if (name == "lambda") sf.lambda = v;
            else if (name == "rc") sf.rc = v;
            else if (name == "alpha") sf.alpha = v;
            else if (name == "rl") sf.rl = v;
            else if (name == "angle_left") sf.angle_left = v;
            else if (name == "angle_right") sf.angle_right = v;
        }
    }
    std::vector<std::string> missing;
    for (const auto& name : expected)  // optional only where old files lack it (compact_angular_wide)
        if (!seen.count(name) && (find(kOptionalParameters, name) < 0 || sf.kind != SFKind::compact_angular_wide))
            missing.push_back(name);
    if (!missing.empty())
        lines.fail("'" + t[1] + "' is missing parameter(s) " + join(missing), line.number);
    if (sf.kind == SFKind::compact_angular_wide && !seen.count("angle_asymmetric")) {
        sf.angle_asymmetric = sf.asymmetric;
        lines.legacy_angle_asymmetric = lines.legacy_angle_asymmetric || sf.asymmetric;
    }

    if (!(sf.rc > 0.0)) lines.fail("rc must be > 0, got " + fmt(sf.rc), line.number);
    const bool gaussian = !sf.compact();
    if (gaussian && sf.eta < 0.0) lines.fail("eta must be >= 0, got " + fmt(sf.eta), line.number);
    if (gaussian && !(sf.alpha >= 0.0 && sf.alpha < 1.0))
        lines.fail("alpha (inner cutoff rci = alpha*rc) must be in [0, 1), got " + fmt(sf.alpha),
                   line.number);
    if (sf.family() == SFFamily::angular_narrow || sf.family() == SFFamily::angular_wide) {
        if (sf.zeta < 1.0) lines.fail("zeta must be >= 1, got " + fmt(sf.zeta), line.number);
        if (!(sf.lambda >= -1.0 && sf.lambda <= 1.0))
            lines.fail("lambda must be in [-1, 1], got " + fmt(sf.lambda), line.number);
    }
    if (sf.compact() && !(sf.rl < sf.rc))
        lines.fail("rl must be < rc, got rl=" + fmt(sf.rl) + " rc=" + fmt(sf.rc), line.number);
    if (family_compact_angular(sf.family()) && !(sf.angle_left < sf.angle_right))
        lines.fail("angle_left must be < angle_right, got " + fmt(sf.angle_left) + " >= " +
                       fmt(sf.angle_right), line.number);
    return sf;
}

Member read_member(Lines& lines, int index, int n_features) {
    Member m;
    const std::string idx = std::to_string(index);
    {
        const Line& line = lines.next("member", "member " + idx);
        lines.count(line, 2, "member " + idx);
        if (lines.integer(line.tokens[1], "member index", line.number, 1) != index)
            lines.fail("expected 'member " + idx + "' (members are numbered 1, 2, ... in order), got 'member " +
                           line.tokens[1] + "'", line.number);
    }
    {
        const Line& line = lines.next("energy_offset", "energy_offset <eV>");
        lines.count(line, 2, "energy_offset <eV>");
        m.energy_offset = lines.number(line.tokens[1], "energy_offset", line.number);
    }
    {
        const Line& line = lines.next("energy_scale", "energy_scale <eV>");
        lines.count(line, 2, "energy_scale <eV>");
        m.energy_scale = lines.number(line.tokens[1], "energy_scale", line.number);
    }
    {
        const Line& line = lines.next("scaling", "scaling <mode> <smin> <smax>");
        lines.count(line, 4, "scaling <mode> <smin> <smax>");
        const int mode = find(kScalingNames, line.tokens[1]);
        if (mode < 0)
            lines.fail("unknown scaling mode '" + line.tokens[1] + "'; expected one of " + join(kScalingNames),
                       line.number);
        m.mode = static_cast<ScalingMode>(mode);
        m.smin = lines.number(line.tokens[2], "smin", line.number);
        m.smax = lines.number(line.tokens[3], "smax", line.number);
        const bool scaled = m.mode == ScalingMode::scale || m.mode == ScalingMode::scale_center ||
                            m.mode == ScalingMode::scale_sigma;
        if (scaled && !(m.smin < m.smax))
            lines.fail("scaling needs smin < smax, got " + fmt(m.smin) + " >= " + fmt(m.smax), line.number);
    }
    m.g_min.resize(n_features);
    m.g_max.resize(n_features);
    m.g_mean.resize(n_features);
    m.g_sigma.resize(n_features);
    for (int i = 0; i < n_features; ++i) {
        const std::string k = std::to_string(i + 1);
        const Line& line = lines.next("stat", "stat " + k + " <min> <max> <mean> <sigma> (one line per symmetry function, " +
                                                  std::to_string(n_features) + " in all)");
        lines.count(line, 6, "stat <feature> <min> <max> <mean> <sigma>");
        if (lines.integer(line.tokens[1], "stat feature index", line.number, 1) != i + 1)
            lines.fail("expected 'stat " + k + " ...', got 'stat " + line.tokens[1] + " ...'", line.number);
        m.g_min[i] = lines.number(line.tokens[2], "min", line.number);
        m.g_max[i] = lines.number(line.tokens[3], "max", line.number);
        m.g_mean[i] = lines.number(line.tokens[4], "mean", line.number);
        m.g_sigma[i] = lines.number(line.tokens[5], "sigma", line.number);
        if (m.g_min[i] > m.g_max[i])
            lines.fail("stat min " + fmt(m.g_min[i]) + " > max " + fmt(m.g_max[i]), line.number);
        if (m.g_sigma[i] < 0.0) lines.fail("stat sigma must be >= 0, got " + fmt(m.g_sigma[i]), line.number);
    }
    {
        const Line& line = lines.next("network", "network <number of layers>");
        lines.count(line, 2, "network <number of layers>");
        const int n_layers = lines.integer(line.tokens[1], "number of layers", line.number, 1);
        int n_prev = n_features;
        for (int ell = 0; ell < n_layers; ++ell) {
            const Line& ll = lines.next("layer", "layer <n_in> <n_out> <activation>");
            lines.count(ll, 4, "layer <n_in> <n_out> <activation>");
            DenseLayer layer;
            layer.n_in = lines.integer(ll.tokens[1], "n_in", ll.number, 1);
            layer.n_out = lines.integer(ll.tokens[2], "n_out", ll.number, 1);
            if (layer.n_in != n_prev)
                lines.fail("layer " + std::to_string(ell + 1) + " has n_in=" + std::to_string(layer.n_in) +
                               " but " + (ell == 0 ? "the number of symmetry functions" : "the previous layer's n_out") +
                               " is " + std::to_string(n_prev), ll.number);
            if (ell == n_layers - 1 && layer.n_out != 1)
                lines.fail("the last layer must have n_out=1 (atomic energy), got " + std::to_string(layer.n_out),
                           ll.number);
            const int act = find(kActivationNames, ll.tokens[3]);
            if (act < 0)
                lines.fail("unknown activation '" + ll.tokens[3] + "'; expected one of " + join(kActivationNames),
                           ll.number);
            layer.activation = static_cast<Activation>(act);
            // n_out lines 'row <n_in weights> <bias>': bound the allocation by the file length
            const size_t needed = static_cast<size_t>(layer.n_out) * (static_cast<size_t>(layer.n_in) + 2);
            if (needed > lines.tokens_left())
                lines.fail("layer " + std::to_string(ell + 1) + " (" + std::to_string(layer.n_in) + " inputs, " +
                               std::to_string(layer.n_out) + " outputs) needs " + std::to_string(layer.n_out) +
                               " rows of " + std::to_string(layer.n_in) +
                               " weights and a bias but the rest of the file holds only " +
                               std::to_string(lines.tokens_left()) +
                               " values: unexpected end of file (truncated?) or a wrong layer size",
                           ll.number);
            layer.weights.resize(static_cast<size_t>(layer.n_in) * layer.n_out);
            layer.bias.resize(layer.n_out);
            for (int k = 0; k < layer.n_out; ++k) {
                const Line& row = lines.next("row", "row <" + std::to_string(layer.n_in) + " weights> <bias> (" +
                                                        std::to_string(layer.n_out) + " rows in layer " +
                                                        std::to_string(ell + 1) + ")");
                if (row.tokens.size() != static_cast<size_t>(layer.n_in) + 2)
                    lines.fail("row " + std::to_string(k + 1) + " of layer " + std::to_string(ell + 1) + " needs " +
                                   std::to_string(layer.n_in) + " weights and a bias (" +
                                   std::to_string(layer.n_in + 1) + " values), got " +
                                   std::to_string(row.tokens.size() - 1), row.number);
                for (int c = 0; c < layer.n_in; ++c)
                    layer.weights[static_cast<size_t>(k) * layer.n_in + c] = lines.number(
                        row.tokens[1 + c], "weight " + std::to_string(c + 1) + " of row " + std::to_string(k + 1),
                        row.number);
                layer.bias[k] = lines.number(row.tokens[1 + layer.n_in], "bias of row " + std::to_string(k + 1),
                                             row.number);
            }
            n_prev = layer.n_out;
            m.layers.push_back(std::move(layer));
        }
    }
    lines.next("end_member", "end_member");
    return m;
}

}  // namespace

int Model::element_index(const std::string& symbol) const { return find(elements, symbol); }

const char* sf_kind_name(SFKind kind) { return sf_kind_info(kind).name; }

bool Model::has_weighted() const {
    for (const ElementModel& em : element_models)
        for (const SymmetryFunction& sf : em.sfs)
            if (sf.weighted()) return true;
    return false;
}

std::shared_ptr<const Model> Model::parse(const std::string& text, const std::string& source) {
    Lines lines(text, source);
    auto model = std::make_shared<Model>();
    {
        const std::string expectation = std::string(kMagic) + " " + std::to_string(kFormatVersion) +
                                        " (first line of a kizuna model)";
        const Line& line = lines.next(kMagic, expectation);
        lines.count(line, 2, std::string(kMagic) + " <version>");
        model->version = lines.integer(line.tokens[1], "format version", line.number, 1);
        if (model->version != kFormatVersion)
            lines.fail("model format version " + std::to_string(model->version) +
                           " is not supported by this kizuna (it reads version " + std::to_string(kFormatVersion) +
                           "); " + (model->version > kFormatVersion ? "upgrade kizuna" : "re-export the model"),
                       line.number);
    }
    std::string stored;
    if (lines.peek() && lines.peek()->tokens[0] == "checksum") {
        const std::string expectation = "checksum crc32 <8 hex digits>";
        const Line& line = lines.next("checksum", expectation);
        lines.count(line, 3, expectation);
        if (line.tokens[1] != "crc32")
            lines.fail("unknown checksum algorithm '" + line.tokens[1] + "'; expected crc32", line.number);
        if (!lexer::is_checksum_value(line.tokens[2]))
            lines.fail("a crc32 checksum is 8 lowercase hexadecimal digits, got '" + line.tokens[2] + "'",
                       line.number);
        stored = line.tokens[2];
    }
    const size_t protected_from = lines.position();
    while (lines.peek() && lines.peek()->tokens[0] == "meta") {
        const Line& line = lines.next("meta", "meta <key> <value>");
        if (line.tokens.size() < 3 || line.tokens[1].empty())
            lines.fail("expected 'meta <key> <value>'", line.number);
        model->meta[line.tokens[1]] = line.tokens[2];
    }
    {
        const Line& line = lines.next("units", "units eV angstrom");
        if (line.tokens.size() != 3 || line.tokens[1] != "eV" || line.tokens[2] != "angstrom")
            lines.fail("expected 'units eV angstrom' (kizuna models are in eV and Å), got '" +
                           join(line.tokens, " ") + "'", line.number);
    }
    {
        const Line& line = lines.next("elements", "elements <symbol> ...");
        if (line.tokens.size() < 2) lines.fail("expected at least one element symbol after 'elements'", line.number);
        for (size_t a = 1; a < line.tokens.size(); ++a) {
            const std::string& e = line.tokens[a];
            bool known = false;
            for (const char* s : kSymbols) known = known || e == s;
            if (!known) lines.fail("'" + e + "' is not a chemical element symbol", line.number);
            if (find(model->elements, e) >= 0) lines.fail("duplicate element '" + e + "'", line.number);
            model->elements.push_back(e);
        }
    }
    {
        const Line& line = lines.next("committee", "committee <number of members>");
        lines.count(line, 2, "committee <number of members>");
        model->committee_size = lines.integer(line.tokens[1], "committee size", line.number, 1);
    }
    // optional: element weights of the weighted kinds, 'channels <k>' then one
    // 'weights <element> <w_1> ... <w_k>' line per element in the order of 'elements'
    if (lines.peek() && lines.peek()->tokens[0] == "channels") {
        const Line& line = lines.next("channels", "channels <number of weight channels>");
        lines.count(line, 2, "channels <number of weight channels>");
        const int k = lines.integer(line.tokens[1], "number of weight channels", line.number, 1);
        const int ne = model->num_elements();
        if (static_cast<size_t>(ne) * (static_cast<size_t>(k) + 2) > lines.tokens_left())
            lines.fail("'channels " + line.tokens[1] + "' needs " + std::to_string(ne) + " 'weights' lines of " +
                           line.tokens[1] + " values but the rest of the file is shorter", line.number);
        model->num_channels = k;
        model->channel_weights.assign(static_cast<size_t>(ne) * k, 0.0);
        for (int e = 0; e < ne; ++e) {
            const std::string expectation = "weights " + model->elements[e] + " <" + std::to_string(k) + " values>";
            const Line& wl = lines.next("weights", expectation);
            if (wl.tokens.size() < 2 || wl.tokens[1] != model->elements[e])
                lines.fail("expected '" + expectation + "' (weights lines follow the order of the elements line), got '" +
                               join(wl.tokens, " ") + "'", wl.number);
            lines.count(wl, static_cast<size_t>(k) + 2, expectation);
            for (int c = 0; c < k; ++c)
                model->channel_weights[static_cast<size_t>(e) * k + c] =
                    lines.number(wl.tokens[2 + c], "weight " + std::to_string(c + 1) + " of " + model->elements[e],
                                 wl.number);
        }
    }
    for (const std::string& symbol : model->elements) {
        ElementModel em;
        em.symbol = symbol;
        const Line& line = lines.next("element", "element " + symbol);
        if (line.tokens.size() != 2 || line.tokens[1] != symbol)
            lines.fail("expected 'element " + symbol + "' (element sections follow the order of the elements line), got '" +
                           join(line.tokens, " ") + "'", line.number);
        const Line& nl = lines.next("symmetry_functions", "symmetry_functions <count>");
        lines.count(nl, 2, "symmetry_functions <count>");
        const int n_sf = lines.integer(nl.tokens[1], "number of symmetry functions", nl.number, 1);
        for (int s = 0; s < n_sf; ++s) em.sfs.push_back(read_sf(lines, model->elements, symbol, model->num_channels));
        for (int m = 0; m < model->committee_size; ++m) em.members.push_back(read_member(lines, m + 1, n_sf));
        lines.next("end_element", "end_element");
        finalize_element(em, model->num_elements());
        model->cutoff = std::max(model->cutoff, em.plan.rc_max);
        model->max_features = std::max(model->max_features, n_sf);
        model->element_models.push_back(std::move(em));
    }
    lines.next("end_model", "end_model");
    if (lines.peek()) lines.fail("unexpected content after 'end_model'");
    if (!stored.empty()) {
        const std::string actual = lexer::canonical_checksum(lines.items(), protected_from, lines.items().size());
        if (actual != stored)
            throw ModelFormatError(source + ": model file corrupted: checksum crc32 of the content is " + actual +
                                   " but the file says " + stored +
                                   ": the file changed after it was written (a damaged copy? restore it; if "
                                   "you edited it on purpose, delete the 'checksum' line to load it unchecked)");
        model->checksum = "crc32:" + stored;
    }
    model->legacy_angle_asymmetric = lines.legacy_angle_asymmetric;
    return model;
}

std::string read_model_text(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        throw ModelFormatError(path + ": is a directory, not a model file (give the path of a .kzn file)");
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const std::string reason = errno ? std::strerror(errno) : "does it exist and is it readable?";
        throw ModelFormatError(path + ": cannot open the model file (" + reason + ")");
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) throw ModelFormatError(path + ": cannot read the model file (read error)");
    return buffer.str();
}

std::shared_ptr<const Model> Model::load(const std::string& path) { return parse(read_model_text(path), path); }

}  // namespace kizuna

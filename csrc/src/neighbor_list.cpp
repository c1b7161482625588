// Cell-list neighbour search in fractional coordinates.
//
// Bins tile the (wrapped) fractional coordinates. A sphere of radius rc spans at most
// rc / h_d in fractional coordinate d, h_d = V / |a_e x a_f| being the distance between lattice
// planes, so visiting bin offsets -s_d..s_d with s_d = ceil(rc / (h_d * bin width_d)) finds all
// neighbours. In a periodic direction every bin offset maps to one (bin, image) pair, so cells
// smaller than the cutoff simply produce several images.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>

#include "kizuna/errors.hpp"
#include "kizuna/neighbor_list.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace kizuna {
namespace {

using Vec = std::array<double, 3>;

Vec cross(const Vec& a, const Vec& b) {
    return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double dot(const Vec& a, const Vec& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double norm(const Vec& a) { return std::sqrt(dot(a, a)); }

// Replace lattice vectors of non-periodic directions that are missing or degenerate by unit
// vectors orthogonal to the others, so that fractional coordinates are always defined.
std::array<Vec, 3> complete_cell(const double* cell, const bool pbc[3]) {
    std::array<Vec, 3> a{};
    for (int d = 0; d < 3; ++d)
        for (int k = 0; k < 3; ++k) a[d][k] = cell ? cell[3 * d + k] : 0.0;
    for (int d = 0; d < 3; ++d)
        if (pbc[d] && norm(a[d]) == 0.0)
            throw InputError("periodic direction " + std::to_string(d) +
                             " has a zero lattice vector; give a cell or set pbc=False in that direction");
    const double volume = std::fabs(dot(a[0], cross(a[1], a[2])));
    const double scale = std::max({norm(a[0]), norm(a[1]), norm(a[2]), 1.0});
    if (volume > 1e-9 * scale * scale * scale) return a;
    // degenerate: rebuild the non-periodic vectors
    int n_periodic = pbc[0] + pbc[1] + pbc[2];
    if (n_periodic == 3)
        throw InputError("the periodic cell is degenerate (volume " + std::to_string(volume) +
                         " Å^3); lattice vectors must be linearly independent");
    std::array<Vec, 3> b{};
    std::vector<Vec> basis;  // orthonormalised periodic vectors
    for (int d = 0; d < 3; ++d) {
        if (!pbc[d]) continue;
        Vec v = a[d];
        for (const Vec& u : basis) {
            const double p = dot(v, u);
            for (int k = 0; k < 3; ++k) v[k] -= p * u[k];
        }
        const double nv = norm(v);
        if (nv < 1e-9 * scale) throw InputError("the periodic lattice vectors are linearly dependent");
        basis.push_back({v[0] / nv, v[1] / nv, v[2] / nv});
        b[d] = a[d];
    }
    const Vec axes[3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    for (int d = 0; d < 3; ++d) {
        if (pbc[d]) continue;
        for (const Vec& trial : axes) {
            Vec v = trial;
            for (const Vec& u : basis) {
                const double p = dot(v, u);
                for (int k = 0; k < 3; ++k) v[k] -= p * u[k];
            }
            const double nv = norm(v);
            if (nv > 0.5) {
                b[d] = {v[0] / nv, v[1] / nv, v[2] / nv};
                basis.push_back(b[d]);
                break;
            }
        }
    }
    return b;
}

}  // namespace

void build_neighbor_list(int n, const double* positions, const double* cell, const bool pbc[3],
                         double cutoff, NeighborList& out, int threads) {
    if (!(cutoff > 0.0) || !std::isfinite(cutoff))
        throw InputError("neighbour-list cutoff must be a finite number > 0 Å, got " + std::to_string(cutoff));
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k)
            if (!std::isfinite(positions[3 * i + k]))
                throw InputError("atom " + std::to_string(i) + " has a non-finite coordinate (" +
                                 std::to_string(positions[3 * i]) + ", " + std::to_string(positions[3 * i + 1]) +
                                 ", " + std::to_string(positions[3 * i + 2]) + ")");
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k)
            if (std::fabs(positions[3 * i + k]) > max_coordinate) {
                char text[400];
                std::snprintf(text, sizeof text,
                              "atom %d has coordinate %.6g Å, more than %.0e Å from the origin, where a double "
                              "resolves positions only to ~1e-5 Å (here to %.2g Å): its place in the cell and "
                              "its distances are lost to rounding. Wrap the atoms into the cell first (ase: "
                              "atoms.wrap())",
                              i, positions[3 * i + k], max_coordinate,
                              std::nextafter(std::fabs(positions[3 * i + k]), HUGE_VAL) - std::fabs(positions[3 * i + k]));
                throw InputError(text);
            }
    if (cell)
        for (int k = 0; k < 9; ++k)
            if (!std::isfinite(cell[k])) throw InputError("the cell has a non-finite component");
    const std::array<Vec, 3> a = complete_cell(cell, pbc);
    // reciprocal vectors: fractional s_d = x . r_d
    const double volume = dot(a[0], cross(a[1], a[2]));
    std::array<Vec, 3> r;
    for (int d = 0; d < 3; ++d) {
        const Vec c = cross(a[(d + 1) % 3], a[(d + 2) % 3]);
        for (int k = 0; k < 3; ++k) r[d][k] = c[k] / volume;
    }
    // plane spacings h_d = V / |a_e x a_f| (Å) and, along periodic directions, the periodic
    // images a sphere of radius rc spans: 2 ceil(rc / h_d) + 1. Their product bounds the search
    // per atom; a cell far thinner than the cutoff (or an absurd cutoff) is refused here, before
    // anything is allocated, instead of running for minutes and running out of memory.
    double h[3];
    double images = 1.0, per_direction[3] = {1.0, 1.0, 1.0};
    for (int d = 0; d < 3; ++d) {
        h[d] = std::fabs(volume) / norm(cross(a[(d + 1) % 3], a[(d + 2) % 3]));
        if (pbc[d]) per_direction[d] = 2.0 * std::ceil(cutoff / h[d]) + 1.0;
        images *= per_direction[d];
    }
    if (!(images <= max_periodic_images)) {
        std::string detail;
        char part[160];
        for (int d = 0; d < 3; ++d) {
            if (!pbc[d]) continue;
            std::snprintf(part, sizeof part, "%s%.3g along lattice vector %d (planes %.3g Å apart)",
                          detail.empty() ? "" : ", ", per_direction[d], d, h[d]);
            detail += part;
        }
        char text[512];
        std::snprintf(text, sizeof text,
                      "the cutoff %.6g Å spans %.3g periodic images of the cell (%s), more than the limit of "
                      "%.0f: the cell is too thin for the cutoff. Check the cell and the cutoff, or repeat a "
                      "small cell into a supercell (ase: atoms.repeat)",
                      cutoff, images, detail.c_str(), max_periodic_images);
        throw InputError(text);
    }
    // fractional coordinates, wrapped in periodic directions; wrap = the (integer-valued) image
    // index removed, kept in floating point: an atom 1e10 cells away overflows no int
    std::vector<double> frac(3 * static_cast<size_t>(n));
    std::vector<double> wrap(3 * static_cast<size_t>(n), 0.0);
    double lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1};
    for (int d = 0; d < 3; ++d) {
        if (pbc[d]) continue;
        lo[d] = n ? 1e300 : 0.0;
        hi[d] = n ? -1e300 : 1.0;
    }
    for (int i = 0; i < n; ++i) {
        const Vec x = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]};
        for (int d = 0; d < 3; ++d) {
            double s = dot(x, r[d]);
            if (pbc[d]) {
                double f = std::floor(s);
                s -= f;
                if (s >= 1.0) { s -= 1.0; f += 1.0; }
                wrap[3 * i + d] = f;
            } else {
                lo[d] = std::min(lo[d], s);
                hi[d] = std::max(hi[d], s);
            }
            frac[3 * i + d] = s;
        }
    }
    // bins; counts are computed in floating point and clamped before any conversion to int
    int nb[3], reach[3];
    double bin_width[3];
    auto bin_reach = [&](int d) {
        double k = std::ceil(cutoff / (h[d] * bin_width[d]) - 1e-12);
        if (!pbc[d]) k = std::min(k, static_cast<double>(nb[d]));  // open: at most the bins there are
        return std::max(static_cast<int>(k), 1);  // periodic: <= images (bounded above) x bins
    };
    for (int d = 0; d < 3; ++d) {
        const double extent = std::max(hi[d] - lo[d], 1e-12);
        nb[d] = static_cast<int>(std::max(1.0, std::min(std::floor(extent * h[d] / cutoff), 1024.0)));
        bin_width[d] = extent / nb[d];
        reach[d] = bin_reach(d);
    }
    // keep the bin count O(atoms) (vacuum or sparse systems would otherwise make empty bins)
    const int64_t max_bins = 4 * static_cast<int64_t>(n) + 64;
    while (static_cast<int64_t>(nb[0]) * nb[1] * nb[2] > max_bins) {
        const int d = nb[0] >= nb[1] && nb[0] >= nb[2] ? 0 : (nb[1] >= nb[2] ? 1 : 2);
        nb[d] = (nb[d] + 1) / 2;
        bin_width[d] = std::max(hi[d] - lo[d], 1e-12) / nb[d];
        reach[d] = bin_reach(d);
    }
    const int64_t n_bins = static_cast<int64_t>(nb[0]) * nb[1] * nb[2];
    std::vector<int> bin_of(n);
    std::vector<int64_t> bin_start(n_bins + 1, 0);
    for (int i = 0; i < n; ++i) {
        int b[3];
        for (int d = 0; d < 3; ++d) {
            b[d] = static_cast<int>((frac[3 * i + d] - lo[d]) / bin_width[d]);
            b[d] = std::min(std::max(b[d], 0), nb[d] - 1);
        }
        bin_of[i] = (b[0] * nb[1] + b[1]) * nb[2] + b[2];
        ++bin_start[bin_of[i] + 1];
    }
    for (int64_t b = 0; b < n_bins; ++b) bin_start[b + 1] += bin_start[b];
    std::vector<int> bin_atoms(n);
    {
        std::vector<int64_t> fill(bin_start.begin(), bin_start.end() - 1);
        for (int i = 0; i < n; ++i) bin_atoms[fill[bin_of[i]]++] = i;
    }
    // wrapped Cartesian positions
    std::vector<double> xw(3 * static_cast<size_t>(n));
    for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k)
            xw[3 * i + k] = positions[3 * i + k] - wrap[3 * i] * a[0][k] - wrap[3 * i + 1] * a[1][k] -
                            wrap[3 * i + 2] * a[2][k];

    const double rc2 = cutoff * cutoff;  // may be inf for an absurd cutoff of an open system: all pairs
    int n_threads = 1;
#ifdef _OPENMP
    n_threads = threads > 0 ? threads : omp_get_max_threads();
#endif
    if (n < 512) n_threads = 1;  // thread start-up costs more than the search
    std::vector<std::vector<int>> t_idx(n_threads);
    std::vector<std::vector<double>> t_shift(n_threads);
    std::vector<int64_t> count(static_cast<size_t>(n) + 1, 0);
    // contiguous chunks of atoms, one per chunk index; chunks are distributed over whatever
    // number of threads OpenMP provides, and concatenated in chunk order afterwards
    std::vector<int> chunk_begin(n_threads + 1);
    for (int t = 0; t <= n_threads; ++t) chunk_begin[t] = static_cast<int>(static_cast<int64_t>(n) * t / n_threads);

#pragma omp parallel for schedule(static, 1) num_threads(n_threads)
    for (int t = 0; t < n_threads; ++t) {
        auto& idx = t_idx[t];
        auto& sh = t_shift[t];
        for (int i = chunk_begin[t]; i < chunk_begin[t + 1]; ++i) {
            int bi[3];
            const int b0 = bin_of[i];
            bi[0] = b0 / (nb[1] * nb[2]);
            bi[1] = (b0 / nb[2]) % nb[1];
            bi[2] = b0 % nb[2];
            int64_t found = 0;
            for (int o0 = -reach[0]; o0 <= reach[0]; ++o0) {
                int c0 = bi[0] + o0, i0 = 0;
                if (pbc[0]) { i0 = static_cast<int>(std::floor(static_cast<double>(c0) / nb[0])); c0 -= i0 * nb[0]; }
                else if (c0 < 0 || c0 >= nb[0]) continue;
                for (int o1 = -reach[1]; o1 <= reach[1]; ++o1) {
                    int c1 = bi[1] + o1, i1 = 0;
                    if (pbc[1]) { i1 = static_cast<int>(std::floor(static_cast<double>(c1) / nb[1])); c1 -= i1 * nb[1]; }
                    else if (c1 < 0 || c1 >= nb[1]) continue;
                    for (int o2 = -reach[2]; o2 <= reach[2]; ++o2) {
                        int c2 = bi[2] + o2, i2 = 0;
                        if (pbc[2]) { i2 = static_cast<int>(std::floor(static_cast<double>(c2) / nb[2])); c2 -= i2 * nb[2]; }
                        else if (c2 < 0 || c2 >= nb[2]) continue;
                        const Vec image = {i0 * a[0][0] + i1 * a[1][0] + i2 * a[2][0],
                                           i0 * a[0][1] + i1 * a[1][1] + i2 * a[2][1],
                                           i0 * a[0][2] + i1 * a[1][2] + i2 * a[2][2]};
                        const int64_t b = (static_cast<int64_t>(c0) * nb[1] + c1) * nb[2] + c2;
                        for (int64_t p = bin_start[b]; p < bin_start[b + 1]; ++p) {
                            const int j = bin_atoms[p];
                            const double dx = xw[3 * j] + image[0] - xw[3 * i];
                            const double dy = xw[3 * j + 1] + image[1] - xw[3 * i + 1];
                            const double dz = xw[3 * j + 2] + image[2] - xw[3 * i + 2];
                            const double r2 = dx * dx + dy * dy + dz * dz;
                            if (r2 >= rc2) continue;
                            if (j == i && i0 == 0 && i1 == 0 && i2 == 0) continue;
                            // shift relative to the original (unwrapped) positions
                            const double w0 = wrap[3 * i] - wrap[3 * j], w1 = wrap[3 * i + 1] - wrap[3 * j + 1],
                                         w2 = wrap[3 * i + 2] - wrap[3 * j + 2];
                            idx.push_back(j);
                            for (int k = 0; k < 3; ++k)
                                sh.push_back(image[k] + w0 * a[0][k] + w1 * a[1][k] + w2 * a[2][k]);
                            ++found;
                        }
                    }
                }
            }
            count[i + 1] = found;
        }
    }
    out.offsets.assign(count.begin(), count.end());
    for (int i = 0; i < n; ++i) out.offsets[i + 1] += out.offsets[i];
    out.indices.clear();
    out.shifts.clear();
    out.indices.reserve(out.offsets[n]);
    out.shifts.reserve(3 * out.offsets[n]);
    for (int t = 0; t < n_threads; ++t) {
        out.indices.insert(out.indices.end(), t_idx[t].begin(), t_idx[t].end());
        out.shifts.insert(out.shifts.end(), t_shift[t].begin(), t_shift[t].end());
    }
}

}  // namespace kizuna

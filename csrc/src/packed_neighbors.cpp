// pack_neighbors / pack_species: a NeighborView / AtomsView as the CSR arrays the CUDA backend
// uploads (packed_neighbors.hpp).
#include "kizuna/packed_neighbors.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kizuna/errors.hpp"
#include "kizuna/packed_math.hpp"

namespace kizuna {

void pack_neighbors(const NeighborView& nb, NeighborPack& pack) {
    const int n = nb.num_centres;
    pack.num_centres = n;
    pack.centres = nb.centres;
    pack.max_count = 0;
    if (!nb.lists && !nb.indexed_by_atom && nb.index_mask == ~0) {
        // CSR indexed by centre, no mask: the caller's arrays as they are
        pack.copied = false;
        pack.counts = nb.counts;
        pack.offsets = nb.offsets;
        pack.indices = nb.indices;
        pack.shifts = nb.shifts;
        int64_t extent = 0;
        for (int ii = 0; ii < n; ++ii) {
            extent = std::max(extent, nb.offsets[ii] + nb.counts[ii]);
            pack.max_count = std::max(pack.max_count, nb.counts[ii]);
        }
        pack.num_entries = extent;
        return;
    }
    // a list per centre (LAMMPS), counts indexed by atom or a mask: copy into one CSR, masked
    pack.copied = true;
    pack.own_counts.resize(n);
    pack.own_offsets.resize(n + 1);
    int64_t total = 0;
    for (int ii = 0; ii < n; ++ii) {
        const int c = nb.counts[nb.slot(ii)];
        pack.own_counts[ii] = c;
        pack.own_offsets[ii] = total;
        total += c;
        pack.max_count = std::max(pack.max_count, c);
    }
    pack.own_offsets[n] = total;
    if (pack.own_indices.size() < static_cast<size_t>(total)) pack.own_indices.resize(total + total / 4);
    const bool shifted = !nb.lists && nb.shifts;
    if (shifted) pack.own_shifts.resize(3 * static_cast<size_t>(total));
    for (int ii = 0; ii < n; ++ii) {
        const int at = nb.slot(ii);
        const int c = pack.own_counts[ii];
        const int* src = nb.lists ? nb.lists[at] : nb.indices + nb.offsets[at];
        int* dst = pack.own_indices.data() + pack.own_offsets[ii];
        for (int e = 0; e < c; ++e) dst[e] = src[e] & nb.index_mask;
        if (shifted)
            std::memcpy(pack.own_shifts.data() + 3 * pack.own_offsets[ii], nb.shifts + 3 * nb.offsets[at],
                        3 * sizeof(double) * static_cast<size_t>(c));
    }
    pack.counts = pack.own_counts.data();
    pack.offsets = pack.own_offsets.data();
    pack.indices = pack.own_indices.data();
    pack.shifts = shifted ? pack.own_shifts.data() : nullptr;
    pack.num_entries = total;
}

void throw_gather_error(int code, int i, int j, double r2) {
    if (code == gather_nonfinite)
        throw InputError("non-finite distance between atoms " + std::to_string(i) + " and " + std::to_string(j) +
                         " (NaN coordinates?)");
    if (code == gather_overlap)
        throw InputError("atoms " + std::to_string(i) + " and " + std::to_string(j) +
                         " are on top of each other (distance " + std::to_string(std::sqrt(r2)) + " Å)");
    throw Error("internal error: unknown neighbour error code " + std::to_string(code) + " (atoms " +
                std::to_string(i) + ", " + std::to_string(j) + ")");
}

void pack_species(const AtomsView& atoms, std::vector<int>& species) {
    species.resize(static_cast<size_t>(atoms.num_atoms));
    if (atoms.species) {
        std::copy(atoms.species, atoms.species + atoms.num_atoms, species.begin());
        return;
    }
    for (int i = 0; i < atoms.num_atoms; ++i) species[i] = atoms.type_to_species[atoms.types[i]];
}

}  // namespace kizuna

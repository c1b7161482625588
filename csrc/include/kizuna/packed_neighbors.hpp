// NeighborPack: a NeighborView as one CSR list (per centre ii: count, offset into one index
// array, optional image shifts), the form the CUDA backend copies to the GPU.
//
// A CSR NeighborView indexed by centre without an index mask (the Python module's list) is used
// in place: the pack only points at the caller's arrays. A LAMMPS-style view (a pointer per
// atom: firstneigh, numneigh indexed by atom) is copied into the pack's own arrays, with the
// index mask applied.
#pragma once

#include <cstdint>
#include <vector>

#include "kizuna/potential.hpp"

namespace kizuna {

struct NeighborPack {
    int num_centres = 0;
    const int* centres = nullptr;     // atom of each centre; nullptr: centre ii is atom ii
    const int* counts = nullptr;      // entries of centre ii
    const int64_t* offsets = nullptr; // first entry of centre ii in `indices`
    const int* indices = nullptr;     // neighbour atom of each entry (index mask applied)
    const double* shifts = nullptr;   // 3 per entry (Å) or nullptr
    int64_t num_entries = 0;          // extent of indices: max over ii of offsets[ii] + counts[ii]
    int max_count = 0;                // largest count of one centre
    bool copied = false;              // true: the arrays below hold the list

    std::vector<int> own_counts, own_indices;
    std::vector<int64_t> own_offsets;
    std::vector<double> own_shifts;
};

// Fills `pack` from `nb` (see above). The pack keeps pointers into `nb`'s arrays: use it while
// they live. Reuses the pack's own arrays (no allocation once they are large enough).
void pack_neighbors(const NeighborView& nb, NeighborPack& pack);

// Throws the InputError of a bad neighbour (code: GatherError of packed_math.hpp) with the
// CPU kernel's message: atoms i and j, squared distance r2 (Å^2).
[[noreturn]] void throw_gather_error(int code, int i, int j, double r2);

// Model element of every atom (-1: not handled), from species or types + type map.
void pack_species(const AtomsView& atoms, std::vector<int>& species);

}  // namespace kizuna

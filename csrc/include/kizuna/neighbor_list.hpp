// Full neighbour list with periodic image shifts (CSR), built with a cell list.
// Works for open systems, periodic and mixed boundaries, triclinic cells and cells smaller
// than the cutoff (an atom may then see several images of the same neighbour, or of itself).
#pragma once

#include <cstdint>
#include <vector>

namespace kizuna {

struct NeighborList {
    // neighbours of atom i: indices[offsets[i] .. offsets[i+1]); for each entry the Cartesian
    // image shift s (Å) with r_ij = x_j + s - x_i and |r_ij| < cutoff.
    std::vector<int64_t> offsets;
    std::vector<int> indices;
    std::vector<double> shifts;  // 3 per entry
};

// positions: n x 3 (Å); cell: 3 x 3, rows are the lattice vectors a, b, c (may be null or
// degenerate along non-periodic directions); pbc: periodicity per lattice direction.
// threads: OpenMP threads to use (0 = OpenMP default); small systems use one.
// Throws InputError for non-finite positions, a degenerate periodic cell or a bad cutoff.
void build_neighbor_list(int n, const double* positions, const double* cell, const bool pbc[3],
                         double cutoff, NeighborList& out, int threads = 0);

}  // namespace kizuna

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

// Limits (InputError beyond them, with the numbers): the periodic images a cutoff sphere spans,
// product over periodic directions of 2 ceil(rc / h_d) + 1 (h_d: lattice-plane spacing), at most
// max_periodic_images (a cell far thinner than the cutoff, or an absurd cutoff); coordinates at
// most max_coordinate Å from the origin (a double resolves 1.5e-5 Å there; further out an atom's
// place in the cell is lost to rounding).
constexpr double max_periodic_images = 1e5;
constexpr double max_coordinate = 1e11;

// positions: n x 3 (Å); cell: 3 x 3, rows are the lattice vectors a, b, c (may be null or
// degenerate along non-periodic directions); pbc: periodicity per lattice direction.
// threads: OpenMP threads to use (0 = OpenMP default); small systems use one.
// Throws InputError for non-finite or too distant positions, a degenerate periodic cell, a bad
// cutoff or one that spans too many periodic images.
void build_neighbor_list(int n, const double* positions, const double* cell, const bool pbc[3],
                         double cutoff, NeighborList& out, int threads = 0);

}  // namespace kizuna

// A serial host evaluation of a PackedModel that follows the CUDA kernels step by step (gather
// into element-sorted slots, values in chunks of kValueChunk functions, networks from the packed
// W^T / W, per-triplet gradients, scatter) with the same shared arithmetic (packed_math.hpp).
// It exists to test, without a GPU, the packed layout and the arithmetic the GPU runs, in
// float64 and in float32 mode. It is slow: a test and diagnostic tool, not a backend (built
// into the test module kizuna._packed only, not into kizuna_core).
#pragma once

#include <cstdint>
#include <vector>

#include "kizuna/device.hpp"
#include "kizuna/packed_model.hpp"
#include "kizuna/packed_neighbors.hpp"
#include "kizuna/potential.hpp"

namespace kizuna {

struct PackedReferenceResult {
    double energy = 0.0;                  // eV, committee mean
    double virial9[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};  // W = -sum r_ij (x) dE/dr_ij, row-major (eV)
    std::vector<double> forces;           // num_atoms x 3 (eV/Å)
    std::vector<double> G;                // num_centres x max_features (unused features 0)
    std::vector<double> beta;             // dE/dG, same layout (committee mean)
    std::vector<double> atom_energies;    // per centre (eV)
    std::vector<double> member_energies;  // committee_size (eV)
};

void packed_reference(const PackedModel& model, const AtomsView& atoms, const NeighborPack& neighbors,
                      Precision precision, PackedReferenceResult& out);

}  // namespace kizuna

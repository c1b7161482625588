// What the kernels see: device pointers to the packed model (uploaded once), to the inputs of a
// call (positions, species, the CSR neighbour list) and to the per-call scalars. Plain structs
// passed to kernels by value.
#pragma once

#include <cstdint>

#include "kizuna/formulas.hpp"
#include "kizuna/packed_model.hpp"

namespace kizuna::cuda {

struct ModelView {
    int num_elements = 0, committee_size = 1, max_features = 0, max_width = 0;
    const PackedElement* elements = nullptr;
    const CutoffFunction* cutoffs = nullptr;
    const double* cutoff_weights = nullptr;  // num_elements per cutoff entry
    const PackedGroup* groups = nullptr;
    const PackedFunction* functions = nullptr;
    const PackedMember* members = nullptr;
    const PackedLayer* layers = nullptr;
    const double* weights = nullptr;
    const float* weights_f = nullptr;
    const double* scale_shift = nullptr;
    const double* scale_factor = nullptr;
    const double* extrapolation_min = nullptr;
    const double* extrapolation_max = nullptr;
};

struct InputView {
    int num_atoms = 0, num_centres = 0;
    const double* positions = nullptr;  // num_atoms x 3 (Å)
    const int* species = nullptr;       // num_atoms, -1 = not handled
    const int* centres = nullptr;       // atom of centre ii; nullptr: ii
    const int* counts = nullptr;        // entries of centre ii
    const int64_t* offsets = nullptr;   // first entry of centre ii
    const int* indices = nullptr;       // neighbour atom of each entry
    const double* shifts = nullptr;     // 3 per entry (Å) or nullptr
};

// Results and counters of one call, zeroed before the kernels run.
struct Scalars {
    double energy;                    // eV
    double virial9[9];                // eV, W = -sum r_ij (x) dE/dr_ij, row-major
    unsigned long long num_extrapolating;
    int error_code;                   // GatherError of the first bad neighbour (0: none)
    int error_i, error_j;
    int max_kept;                     // most neighbours kept (inside rc_max) by one centre
    int overflow;                     // 1: some centre kept more than the slots (centre skipped)
    int pad;
    double error_r2;                  // Å^2
};

}  // namespace kizuna::cuda

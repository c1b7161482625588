// ML-KIZUNA package: registers compute kizuna/deviation (committee force spread) with a LAMMPS
// that compiles kizuna in (collected into style_compute.h like pair_kizuna_style.h).
#ifdef COMPUTE_CLASS
// clang-format off
ComputeStyle(kizuna/deviation, kizuna::lmp::ComputeKizunaDeviation);
// clang-format on
#else
#include "compute_kizuna_deviation.h"
#endif
